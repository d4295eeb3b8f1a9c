"""Messages that travel from screens and widgets up to the app.

Textual posts a worker's state change to the node that started it and does not
bubble it, so each screen forwards the failures of its workers as
`WorkerFailed`, which bubbles to the app: one handler there decides how the
user hears of them (a notification or an error view), and nothing reaches the
user as a traceback.
"""

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState
from urllib3.exceptions import HTTPError

from kdebug_agent.protocol import KdebugError

UNREACHABLE_HINT = "Check that the cluster is up and the kubeconfig points at it."


class WorkerFailed(Message):
    """A worker ended with an exception; the app tells the user."""

    def __init__(self, worker: Worker[object], error: BaseException) -> None:
        super().__init__()
        self.worker = worker
        self.error = error


class ForwardsWorkerFailures(MessagePump):
    """Mixin for screens: forward the failures of their workers to the app."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Post `WorkerFailed` when a worker of this screen failed."""
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.error is not None:
            self.post_message(WorkerFailed(worker, worker.error))


def describe_failure(error: BaseException) -> tuple[str, str] | None:
    """Say what failed and what to do, or None when the failure is a bug.

    Returns:
        The cause in a sentence and a hint (possibly empty).
    """
    if isinstance(error, KdebugError):
        return str(error), getattr(error, "hint", "")
    if isinstance(error, HTTPError):
        # The client library lets connection failures through unwrapped.
        reason = getattr(error, "reason", None) or error
        return f"The API server could not be reached: {reason}.", UNREACHABLE_HINT
    return None
