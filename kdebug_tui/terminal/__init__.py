"""The terminal engine: pyte underneath, fast paths and missing features on top.

Nothing here imports Textual: :class:`Terminal` takes bytes and returns events,
and the widget in :mod:`kdebug_tui.widgets.terminal_view` draws its screen.
"""

from kdebug_tui.terminal.emulator import (
    BellRang,
    ReplyReady,
    Terminal,
    TerminalEvent,
    TitleChanged,
)
from kdebug_tui.terminal.lines import WIDE_TAIL, Line
from kdebug_tui.terminal.screen import TerminalScreen
from kdebug_tui.terminal.stream import TerminalStream
from kdebug_tui.terminal.styles import CellStyle, StyleTable

__all__ = [
    "WIDE_TAIL",
    "BellRang",
    "CellStyle",
    "Line",
    "ReplyReady",
    "StyleTable",
    "Terminal",
    "TerminalEvent",
    "TerminalScreen",
    "TerminalStream",
    "TitleChanged",
]
