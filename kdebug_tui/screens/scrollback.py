"""Scrollback mode: the keys page through a terminal's history until Esc.

While it lasts the keys belong to kdebug-tui, not to the shell; the session
keeps running underneath and new output still arrives.
"""

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Label

from kdebug_tui.widgets.terminal_view import TerminalView


class ScrollbackScreen(ModalScreen[None]):
    """Moves a terminal view through its scrollback; Esc or q goes back to live."""

    CSS_PATH = "scrollback.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll(-1)", "Line up"),
        Binding("down,j", "scroll(1)", "Line down"),
        Binding("pageup,ctrl+b,b", "page(-1)", "Page up"),
        Binding("pagedown,ctrl+f,space", "page(1)", "Page down"),
        Binding("home,g", "top", "Oldest"),
        Binding("end,G", "bottom", "Newest"),
        Binding("escape,q", "leave", "Back to live"),
    ]

    def __init__(self, view: TerminalView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        """One line saying where we are and how to leave."""
        yield Label(id="scrollback-status")

    def on_mount(self) -> None:
        """Start one page back."""
        self.action_page(-1)

    def _show_position(self) -> None:
        lines = len(self.view.terminal.screen.history)
        self.query_one(Label).update(
            f" scrollback: {self.view.history_offset} of {lines} lines up · "
            "↑↓ PgUp PgDn Home End move · Esc or q returns "
        )

    def action_scroll(self, lines: int) -> None:
        """Move a few lines (negative is older)."""
        self.view.scroll_history(lines)
        self._show_position()

    def action_page(self, pages: int) -> None:
        """Move a page (negative is older)."""
        self.action_scroll(pages * max(self.view.size.height - 1, 1))

    def action_top(self) -> None:
        """Go to the oldest line kept."""
        self.action_scroll(-len(self.view.terminal.screen.history))

    def action_bottom(self) -> None:
        """Go back to the live screen without leaving the mode."""
        self.action_scroll(self.view.history_offset)

    def action_leave(self) -> None:
        """Back to the live screen; keys go to the shell again."""
        self.view.scroll_history(self.view.history_offset)
        self.dismiss(None)
