"""Errors the agent raises, each carrying the failure reason a client will see."""

from kdebug_agent.protocol import FailureReason, KdebugError


class AgentError(KdebugError):
    """An error the agent reports to the client on the status channel."""

    reason: FailureReason = FailureReason.INTERNAL


class RuntimeUnavailable(AgentError):
    """No container runtime answered on any of the sockets tried."""

    reason = FailureReason.RUNTIME_UNAVAILABLE


class RuntimeFailure(AgentError):
    """The container runtime refused or failed an operation."""

    reason = FailureReason.RUNTIME_ERROR


class TargetNotFound(AgentError):
    """The target container does not exist on this node's runtime."""

    reason = FailureReason.TARGET_NOT_FOUND


class TargetNotRunning(AgentError):
    """The target container exists but its process is not running."""

    reason = FailureReason.TARGET_NOT_RUNNING


class ImageNotPresent(AgentError):
    """The debug image is absent and the pull policy forbids pulling it."""

    reason = FailureReason.IMAGE_NOT_PRESENT


class ImagePullFailed(AgentError):
    """Pulling the debug image failed; the message carries the registry's words."""

    reason = FailureReason.IMAGE_PULL_FAILED
