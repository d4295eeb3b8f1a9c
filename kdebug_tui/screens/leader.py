"""The tab commands that follow the leader key, chosen in a small pop-up.

While a terminal has focus every key belongs to the remote shell, Ctrl-C and
Esc included; only the leader key (Ctrl-] unless configured) is kept, and the
key after it picks a command here. Pressing the leader key twice sends it to
the remote.
"""

from typing import ClassVar

from rich.table import Table
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

SEND_LEADER = "send-leader"
"""The command that sends the leader key itself to the remote."""

LEADER_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("n", "next", "next tab"),
    ("p", "previous", "previous tab"),
    ("1-9", "goto", "tab number N"),
    ("b", "browser", "back to the browser (the session keeps running)"),
    ("[", "scrollback", "scroll back through the output (Esc ends)"),
    ("r", "again", "debug the same container again, in a new tab"),
    ("x", "close", "close the tab, ending its session"),
    ("?", "help", "every key"),
    ("q", "quit", "quit kdebug-tui, ending every session"),
)
"""Key, command and what it does; the help screen lists these too."""

KEYS = {
    "n": "next",
    "right": "next",
    "tab": "next",
    "p": "previous",
    "left": "previous",
    "shift+tab": "previous",
    "b": "browser",
    "left_square_bracket": "scrollback",
    "r": "again",
    "x": "close",
    "question_mark": "help",
    "q": "quit",
}


class LeaderScreen(ModalScreen[str | None]):
    """Waits for one key and answers with its command, or None."""

    CSS_PATH = "leader.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Cancel", show=False),
    ]

    def __init__(self, leader_key: str, leader_display: str) -> None:
        super().__init__()
        self.leader_key = leader_key
        self.leader_display = leader_display
        self._answered = False

    def compose(self) -> ComposeResult:
        """The list of commands."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, _, description in LEADER_COMMANDS:
            table.add_row(key, description)
        table.add_row(self.leader_display, "send the leader key to the shell")
        table.add_row("Esc", "cancel")
        with Vertical(id="leader-dialog"):
            yield Label(f"{self.leader_display} then…", id="leader-title")
            yield Static(table)

    def on_key(self, event: events.Key) -> None:
        """Answer with the command of the key pressed; any other key cancels.

        Only the first key is the answer. Keys of the same burst that were
        handed to this pop-up before it closed go back to the app, which gives
        them, in their order, to the screen now shown.
        """
        event.stop()
        event.prevent_default()
        if self._answered:
            self.app.post_message(events.Key(event.key, event.character))
        elif event.key == self.leader_key:
            self.answer(SEND_LEADER)
        elif event.key in KEYS:
            self.answer(KEYS[event.key])
        elif event.character and event.character in "123456789":
            self.answer(f"goto {event.character}")
        else:
            self.answer(None)

    def answer(self, command: str | None) -> None:
        """Close with `command`, once, and only while this pop-up is on top.

        `dismiss` pops whatever screen is on top, so a second answer would
        close the browser view below, and at last fail on the only screen left.
        """
        if self._answered or not self.is_active:
            return
        self._answered = True
        self.dismiss(command)

    async def action_dismiss(self, result: str | None = None) -> None:
        """Cancel."""
        self.answer(result)
