"""The help view: every key of the screen below it, the commands, the tab keys.

It is built from the bindings in force where `?` was pressed, so it cannot drift
from what the keys actually do.
"""

import dataclasses
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


@dataclasses.dataclass(frozen=True, slots=True)
class HelpSection:
    """A titled list of keys (or commands) and what they do."""

    title: str
    entries: tuple[tuple[str, str], ...]


class HelpScreen(ModalScreen[None]):
    """A scrollable list of sections; Esc, q or ? closes it."""

    CSS_PATH = "help.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, sections: list[HelpSection]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        """One table per section."""
        with VerticalScroll(id="help-dialog"):
            yield Label("kdebug-tui help", id="help-title")
            for section in self.sections:
                table = Table.grid(padding=(0, 2))
                table.add_column(style="bold", min_width=16)
                table.add_column()
                for keys, description in section.entries:
                    table.add_row(keys, description)
                yield Label(section.title, classes="help-section")
                yield Static(table)
            yield Label("Esc, q or ? closes this.", id="help-keys")

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
