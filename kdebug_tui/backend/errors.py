"""Errors of the client backend; each says what happened and what to do.

The TUI and the CLI show `str(error)` and, on a line of its own, `error.hint`.
"""

from kdebug_agent.protocol import KdebugError


class ClientError(KdebugError):
    """An error the client reports to the user with a hint on what to do."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(ClientError):
    """The kubeconfig, a context or a setting is missing or invalid."""


class ClusterError(ClientError):
    """The Kubernetes API refused or failed a request."""


class ClusterUnreachable(ClusterError):
    """No answer came from the API server: it is down, or the address is wrong."""


class PermissionDenied(ClusterError):
    """The user lacks a permission the session needs."""


class TargetError(ClientError):
    """The target pod or container cannot be debugged as asked."""


class AgentPodError(ClientError):
    """The agent pod could not be created or did not become ready."""


class AgentConnectionError(ClientError):
    """The agent could not be reached or refused the connection."""


class SessionFailed(ClientError):
    """The agent reported that the session failed."""

    def __init__(self, message: str, *, reason: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def missing_agent_namespace(namespace: str) -> AgentPodError:
    """The error for an agent namespace that does not exist."""
    return AgentPodError(
        f"The agent namespace {namespace} does not exist.",
        hint="Create it or choose another one with --agent-namespace.",
    )
