"""The error view: what went wrong and what to do about it, never a traceback."""

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class ErrorScreen(ModalScreen[None]):
    """A dialog with a title, the cause in a sentence, and a hint."""

    CSS_PATH = "error.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "dismiss", "Close"),
    ]

    def __init__(self, *, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.hint = hint

    def compose(self) -> ComposeResult:
        """The title, the cause, what to do, and how to close."""
        with Vertical(id="error-dialog"):
            yield Label(self.title_text, id="error-title")
            yield Static(Text(self.message), id="error-cause")
            if self.hint:
                yield Label("What to do", id="error-hint-title")
                yield Static(Text(self.hint), id="error-hint")
            yield Label("Esc or Enter closes this.", id="error-keys")

    async def action_dismiss(self, result: None = None) -> None:
        """Close the dialog."""
        self.dismiss(result)
