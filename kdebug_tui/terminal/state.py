"""Screen state pyte keeps, plus the modes, alternate screen and replies it lacks.

:class:`ScreenState` is the part of the terminal screen that is not about drawing:
power-on state, the cursor saved by DECSC (one per screen, as in xterm, and kept
after a restore, where pyte forgets it), ANSI and DEC private modes, the
alternate screen (?47, ?1047, ?1049), charsets (``ESC ( 0`` works in UTF-8,
where pyte ignores it), and the answers to the remote's queries (DA, DSR,
DECRQM). It also shows the rows as pyte's ``Char`` matrix for comparisons.
:class:`~kdebug_tui.terminal.screen.TerminalScreen` adds the drawing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from pyte import charsets, graphics
from pyte.screens import Char, Cursor, Screen, StaticDefaultDict

from kdebug_tui.terminal import modes
from kdebug_tui.terminal.lines import Line
from kdebug_tui.terminal.styles import (
    BLINK,
    BOLD,
    DEFAULT_CODE,
    DEFAULT_COLOR,
    ITALIC,
    REVERSE,
    STRIKE,
    UNDERLINE,
    CellStyle,
    StyleTable,
)

_PYTE_NAMES = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]
_PRIMARY_ATTRIBUTES = "\x1b[?62;22c"
_SECONDARY_ATTRIBUTES = "\x1b[>1;10;0c"


@dataclass(slots=True)
class SavedCursor:
    """What ``DECSC`` saves and ``DECRC`` restores (xterm keeps one per screen)."""

    x: int
    y: int
    pen: str
    translation: str | None
    origin: bool
    autowrap: bool


def pyte_color(color: int) -> str:
    """Name a colour the way pyte's ``Char`` does."""
    if color == DEFAULT_COLOR:
        return "default"
    if color < 8:
        return _PYTE_NAMES[color]
    if color < 16:
        return "bright" + _PYTE_NAMES[color - 8]
    if color < 256:
        return graphics.FG_BG_256[color]
    return f"{color & 0xFFFFFF:06x}"


def pyte_char(data: str, style: CellStyle) -> Char:
    """Build the pyte ``Char`` for a cell's content and style."""
    flags = style.flags
    return Char(
        data,
        pyte_color(style.fg),
        pyte_color(style.bg),
        bold=bool(flags & BOLD),
        italics=bool(flags & ITALIC),
        underscore=bool(flags & UNDERLINE),
        strikethrough=bool(flags & STRIKE),
        reverse=bool(flags & REVERSE),
        blink=bool(flags & BLINK),
    )


class ScreenState(Screen):
    """A pyte screen's state with string rows, modes, alternate screen and replies.

    ``cursor.attrs`` is not maintained: the style text is drawn in is ``pen``.

    Attributes:
        rows: The rows on display (main or alternate screen).
        history: Lines scrolled off the top of the main screen, oldest first.
        scrolled: How many lines have ever entered ``history``; with its length
            it numbers lines stably while old ones fall out.
        styles: The style table whose codes the rows use.
        pen: The style code text is drawn in.
        replies: Text to send back to the remote (device reports).
        bells: Bells rung since the owner last looked.
        cursor_shape: The last DECSCUSR value (0 default, 1-6 xterm's shapes).
        keypad_application_mode: Whether DECKPAM put the keypad in application
            mode.
    """

    def __init__(self, columns: int, lines: int, *, scrollback: int = 5000) -> None:
        # pyte's __init__ builds its per-cell buffer; everything it sets up is
        # set up here and in reset() instead.
        self.columns = columns
        self.lines = lines
        self.styles = StyleTable()
        self.dirty: set[int] = set()
        self.history: deque[Line] = deque(maxlen=scrollback)
        self.scrolled = 0
        self.replies: list[str] = []
        self.bells = 0
        self.savepoints = []
        self.saved_columns = None
        self.reset()

    @property
    def buffer(self) -> dict[int, StaticDefaultDict[int, Char]]:  # type: ignore[override]
        """The rows as pyte's ``Char`` matrix, built on demand (for comparison)."""
        return {y: self.pyte_row(y) for y in range(self.lines)}

    @property
    def display(self) -> list[str]:
        """The rows as text, one string per row, like pyte's."""
        return [row.plain() for row in self.rows]

    @property
    def alternate(self) -> bool:
        """Whether the alternate screen is on display."""
        return self._main_rows is not None

    def pyte_row(self, y: int) -> StaticDefaultDict[int, Char]:
        """Materialise one row as pyte ``Char`` objects."""
        row = self.rows[y]
        cells: StaticDefaultDict[int, Char] = StaticDefaultDict(Char(" "))
        for x in range(min(row.width, self.columns)):
            cells[x] = pyte_char(row.cell(x), self.styles.style(row.styles[x]))
        return cells

    def has_mode(self, mode: int) -> bool:
        """Whether a mode from :mod:`kdebug_tui.terminal.modes` is set."""
        return mode in self.mode

    def reset(self) -> None:
        """Reset to the power-on state (RIS); the scrollback is kept."""
        self.mode = {modes.AUTOWRAP, modes.CURSOR_VISIBLE}
        self.margins = None
        self.title = ""
        self.icon_name = ""
        self.charset = 0
        self.g0_charset = charsets.LAT1_MAP
        self.g1_charset = charsets.VT100_MAP
        self.translation: str | None = None
        self.tabstops = set(range(8, self.columns, 8))
        self.cursor = Cursor(0, 0)
        self.pen = DEFAULT_CODE
        self.cursor_shape = 0
        self.keypad_application_mode = False
        self._saved: SavedCursor | None = None
        self._main_rows: list[Line] | None = None
        self._main_saved: SavedCursor | None = None
        self._set_blanks()
        self.rows = [self._blank() for _ in range(self.lines)]
        self.dirty.update(range(self.lines))

    def _set_blanks(self) -> None:
        self._blank_text = " " * self.columns
        self._blank_styles = DEFAULT_CODE * self.columns

    def _blank(self) -> Line:
        return Line(self._blank_text, self._blank_styles)

    def _mark_all_dirty(self) -> None:
        self.dirty.update(range(self.lines))

    def save_cursor(self) -> None:
        """Save position, pen, charset and origin/wrap modes (DECSC)."""
        self._saved = SavedCursor(
            self.cursor.x,
            self.cursor.y,
            self.pen,
            self.translation,
            modes.ORIGIN in self.mode,
            modes.AUTOWRAP in self.mode,
        )

    def restore_cursor(self) -> None:
        """Restore what DECSC saved; it stays saved for the next restore (DECRC)."""
        saved = self._saved
        if saved is None:
            self.mode.discard(modes.ORIGIN)
            self.cursor_position()
            return
        self.cursor.x, self.cursor.y = saved.x, saved.y
        self.pen = saved.pen
        self.translation = saved.translation
        for mode, on in (
            (modes.ORIGIN, saved.origin),
            (modes.AUTOWRAP, saved.autowrap),
        ):
            if on:
                self.mode.add(mode)
            else:
                self.mode.discard(mode)
        self.ensure_hbounds()
        self.ensure_vbounds(use_margins=True)

    def define_charset(self, code: str, mode: str) -> None:
        """Designate G0 or G1 (``ESC ( 0`` selects DEC line drawing), in UTF-8 too."""
        if mode == "(" and code in charsets.MAPS:
            self.g0_charset = charsets.MAPS[code]
        elif mode == ")" and code in charsets.MAPS:
            self.g1_charset = charsets.MAPS[code]
        active = self.g1_charset if self.charset else self.g0_charset
        self.translation = None if active is charsets.LAT1_MAP else active

    def shift_in(self) -> None:
        """Select G0 (SI)."""
        self.charset = 0
        self.define_charset("", "")

    def shift_out(self) -> None:
        """Select G1 (SO)."""
        self.charset = 1
        self.define_charset("", "")

    def set_mode(self, *modes_: int, **kwargs: Any) -> None:
        """Set ANSI modes, or DEC private modes when ``private=True``."""
        for mode in modes_:
            self._switch_mode(mode << 5 if kwargs.get("private") else mode, True)

    def reset_mode(self, *modes_: int, **kwargs: Any) -> None:
        """Reset ANSI modes, or DEC private modes when ``private=True``."""
        for mode in modes_:
            self._switch_mode(mode << 5 if kwargs.get("private") else mode, False)

    def _switch_mode(self, mode: int, on: bool) -> None:
        if mode == 3 << 5:
            return  # DECCOLM: the view's width is the window's, as in xterm by default.
        if mode in modes.ALTERNATE_SCREENS:
            self._switch_screen(mode, on)
        elif mode == modes.SAVE_CURSOR_1048:
            self.save_cursor() if on else self.restore_cursor()
        if on:
            self.mode.add(mode)
        else:
            self.mode.discard(mode)
        if mode == modes.ORIGIN:
            self.cursor_position()
        elif mode == modes.CURSOR_VISIBLE:
            self.cursor.hidden = not on
        elif mode == modes.REVERSE_VIDEO:
            self._mark_all_dirty()

    def _switch_screen(self, mode: int, on: bool) -> None:
        if on and self._main_rows is None:
            if mode == modes.ALTERNATE_SCREEN_1049:
                self.save_cursor()
            self._main_rows, self._main_saved = self.rows, self._saved
            self.rows = [self._blank() for _ in range(self.lines)]
            self._saved = None
        elif not on and self._main_rows is not None:
            self.rows, self._saved = self._main_rows, self._main_saved
            self._main_rows = self._main_saved = None
            if mode == modes.ALTERNATE_SCREEN_1049:
                self.restore_cursor()
        self._mark_all_dirty()

    def soft_reset(self) -> None:
        """Reset modes, margins, pen and saved cursor, keeping the text (DECSTR)."""
        self.mode.difference_update({modes.INSERT, modes.ORIGIN, modes.CURSOR_KEYS})
        self.mode.update({modes.AUTOWRAP, modes.CURSOR_VISIBLE})
        self.cursor.hidden = False
        self.margins = None
        self.pen = DEFAULT_CODE
        self.translation = None
        self.keypad_application_mode = False
        self._saved = None

    def keypad_application(self) -> None:
        """Put the keypad in application mode (DECKPAM, ``ESC =``)."""
        self.keypad_application_mode = True

    def keypad_numeric(self) -> None:
        """Put the keypad in numeric mode (DECKPNM, ``ESC >``)."""
        self.keypad_application_mode = False

    def set_cursor_shape(self, shape: int | None = None) -> None:
        """Record the cursor shape (DECSCUSR)."""
        self.cursor_shape = shape or 0

    def write_process_input(self, data: str) -> None:
        """Queue text for the remote; the owner sends ``replies`` on."""
        self.replies.append(data)

    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        """Answer DA: a VT220 with ANSI colour; ``secondary`` answers ``CSI > c``."""
        if mode != 0 or kwargs.get("private"):
            return
        secondary = kwargs.get("secondary")
        self.write_process_input(
            _SECONDARY_ATTRIBUTES if secondary else _PRIMARY_ATTRIBUTES
        )

    def report_device_status(self, mode: int = 0, **kwargs: bool) -> None:
        """Answer DSR 5 (status) and 6 (cursor position)."""
        if mode == 5:
            self.write_process_input("\x1b[0n")
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if modes.ORIGIN in self.mode and self.margins is not None:
                y -= self.margins.top
            self.write_process_input(f"\x1b[{y};{x}R")

    def report_mode(self, mode: int, *, private: bool) -> None:
        """Answer DECRQM: 1 set, 2 reset (``CSI ? Ps $ p``)."""
        key = mode << 5 if private else mode
        state = 1 if key in self.mode else 2
        prefix = "?" if private else ""
        self.write_process_input(f"\x1b[{prefix}{mode};{state}$y")

    def bell(self, *args: Any) -> None:
        """Count a bell for the owner."""
        self.bells += 1
