"""The line of tabs at the top of every screen: the browser, then each debug tab.

Each screen has its own bar (a widget lives on one screen), and every bar draws
the same list from the app, which announces changes on a signal: a session
changing state or the remote setting a title relabels the tab on all of them.
"""

import dataclasses
from typing import ClassVar, Protocol

from rich.text import Text
from textual import events
from textual.message import Message
from textual.signal import Signal
from textual.widget import Widget

from kdebug_tui.widgets.resource_table import Tone

SEPARATOR = " │ "


@dataclasses.dataclass(frozen=True, slots=True)
class TabLabel:
    """What the bar shows for one tab."""

    mode: str
    """The app mode that shows the tab."""
    text: str
    tone: Tone = ""


class TabSource(Protocol):
    """Where the bar reads its tabs: the app."""

    @property
    def tabs_changed(self) -> Signal[None]:
        """Published when a tab is added, removed or relabelled."""
        ...

    @property
    def current_mode(self) -> str:
        """The mode on screen."""
        ...

    def tab_labels(self) -> list[TabLabel]:
        """The tabs in order, the browser first."""
        ...


class TabBar(Widget):
    """One line listing the tabs, the one on screen highlighted; click to switch."""

    DEFAULT_CSS = """
    TabBar {
        height: 1;
        background: $panel;
        color: $text-muted;
        & > .tab-bar--active { background: $primary; color: $text; text-style: bold; }
        & > .tab-bar--ok { color: $success; }
        & > .tab-bar--pending { color: $accent; }
        & > .tab-bar--warning { color: $warning; }
        & > .tab-bar--error { color: $error; }
        & > .tab-bar--dim { color: $text-disabled; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tab-bar--active",
        "tab-bar--ok",
        "tab-bar--pending",
        "tab-bar--warning",
        "tab-bar--error",
        "tab-bar--dim",
    }

    class Clicked(Message):
        """A tab was clicked."""

        def __init__(self, mode: str) -> None:
            super().__init__()
            self.mode = mode

    def __init__(self, source: TabSource, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._source = source
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        """Redraw whenever the tabs change."""
        self._source.tabs_changed.subscribe(self, self._tabs_changed)

    def _tabs_changed(self, _: None) -> None:
        self.refresh()

    @property
    def labels(self) -> list[TabLabel]:
        """The tabs as drawn."""
        return self._source.tab_labels()

    def render(self) -> Text:
        """Draw the tabs, the active one highlighted and each coloured by state."""
        text = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        active = self._source.current_mode
        for index, label in enumerate(self._source.tab_labels()):
            if index:
                text.append(SEPARATOR)
            start = text.cell_len
            if label.mode == active:
                style = self.get_component_rich_style("tab-bar--active")
            elif label.tone:
                style = self.get_component_rich_style(f"tab-bar--{label.tone}")
            else:
                style = None
            text.append(f" {label.text} ", style=style or "")
            self._spans.append((start, text.cell_len, label.mode))
        return text

    def on_click(self, event: events.Click) -> None:
        """Switch to the clicked tab."""
        for start, end, mode in self._spans:
            if start <= event.x < end:
                self.post_message(self.Clicked(mode))
                return
