"""Errors the agent raises, each carrying the failure reason a client will see."""

import re

from kdebug_agent.protocol import FailureReason, KdebugError

# How runc says the debug process could not be executed, through containerd
# and dockerd alike.
_MISSING_COMMAND = re.compile(
    r'exec: "([^"]*)": (executable file not found in \$PATH'
    r"|stat [^:]*: no such file or directory)"
)


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


class CommandNotFound(AgentError):
    """The debug image has no such command (the session's first word)."""

    reason = FailureReason.COMMAND_NOT_FOUND


def missing_command(details: str) -> CommandNotFound | None:
    """Return the error for a runtime's words that the command is missing, if so."""
    match = _MISSING_COMMAND.search(details)
    if match is None:
        return None
    return CommandNotFound(f'The debug image has no command "{match[1]}" ({match[2]}).')
