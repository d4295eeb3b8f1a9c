"""The one-line prompt at the bottom of the browser, for `/` filters and `:` commands.

It is hidden until opened. A filter applies as the user types; Enter keeps it
and Esc clears it. A command runs on Enter; Esc abandons it.
"""

from collections.abc import Sequence
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from kdebug_tui.widgets.in_order_input import InOrderInput

PromptKind = Literal["filter", "command"]


class PromptBar(Horizontal):
    """A prefix (`/` or `:`) and an input; posts what the user typed."""

    DEFAULT_CSS = """
    PromptBar {
        display: none;
        height: 1;
        background: $panel;
        &.-open { display: block; }
        & > Label { width: 3; padding-left: 1; color: $accent; text-style: bold; }
        & > Input {
            width: 1fr; height: 1; border: none; padding: 0; background: $panel;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    class Changed(Message):
        """The text changed (a filter applies at once)."""

        def __init__(self, kind: PromptKind, value: str) -> None:
            super().__init__()
            self.kind = kind
            self.value = value

    class Submitted(Message):
        """Enter was pressed."""

        def __init__(self, kind: PromptKind, value: str) -> None:
            super().__init__()
            self.kind = kind
            self.value = value

    class Cancelled(Message):
        """Esc was pressed."""

        def __init__(self, kind: PromptKind) -> None:
            super().__init__()
            self.kind = kind

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.kind: PromptKind = "filter"

    def compose(self) -> ComposeResult:
        """A prefix label and the input."""
        yield Label("/")
        yield InOrderInput(compact=True, select_on_focus=False)

    @property
    def is_open(self) -> bool:
        """Whether the prompt is shown."""
        return self.has_class("-open")

    @property
    def value(self) -> str:
        """What is typed."""
        return self.query_one(Input).value

    def open(
        self, kind: PromptKind, value: str = "", *, suggestions: Sequence[str] = ()
    ) -> None:
        """Show the prompt with `value` typed, and focus it."""
        self.kind = kind
        self.query_one(Label).update("/" if kind == "filter" else ":")
        prompt = self.query_one(Input)
        prompt.suggester = (
            SuggestFromList(suggestions, case_sensitive=False) if suggestions else None
        )
        with prompt.prevent(Input.Changed):
            prompt.value = value
        prompt.cursor_position = len(value)
        self.add_class("-open")
        self.screen.set_focus(prompt)

    def take_late_key(self, character: str) -> bool:
        """Type a key that was read before the prompt opened; tell if it took it.

        Textual hands a key to the widget focused when the key is read, so the
        keys of one burst (a fast typist, a paste of `/web`) reach the table
        behind the prompt; they come back here through the app.
        """
        prompt = self.query_one(Input)
        if not self.is_open or self.screen.focused is not prompt:
            return False
        prompt.insert_text_at_cursor(character)
        return True

    def close(self) -> None:
        """Hide the prompt."""
        self.remove_class("-open")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Pass the text on."""
        event.stop()
        self.post_message(self.Changed(self.kind, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Close and pass the text on."""
        event.stop()
        self.close()
        self.post_message(self.Submitted(self.kind, event.value))

    def action_cancel(self) -> None:
        """Close and say so."""
        self.close()
        self.post_message(self.Cancelled(self.kind))
