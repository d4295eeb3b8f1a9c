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
