"""A pyte screen that stores rows as strings and adds what pyte lacks.

pyte's :class:`~pyte.screens.Screen` keeps a dictionary of ``Char`` tuples per
row and touches every cell in Python; that caps it near 1 MB/s. This subclass
keeps the same event methods (so pyte's own parser still drives it for rare
sequences) but stores each row as a :class:`~kdebug_tui.terminal.lines.Line`,
so text, erases and scrolls are string slices and list moves.

Beyond pyte it has an alternate screen (?47, ?1047, ?1049), bounded scrollback,
scroll up/down (SU/SD), repeat (REP), tab movement (CHT/CBT), cursor shape,
device-attribute and mode-report replies, the DEC line-drawing charset in UTF-8,
and fixes for pyte bugs: a wide character cut in half (selectel/pyte#75), a
cursor outside the scrolling region jumping into it on CUU/CUD/LF/RI, ``ESC 8``
forgetting the saved cursor after one use, ``ED`` leaving unwritten cells
uncoloured, and ``ED 3`` erasing the screen rather than the scrollback.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyte import charsets, graphics
from pyte.screens import Char, Cursor, Margins, Screen, StaticDefaultDict
from wcwidth import wcwidth

from kdebug_tui.terminal import modes
from kdebug_tui.terminal.lines import WIDE_TAIL, Line
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
_SGR_SPLIT = re.compile("\x1b\\[([0-9;:]*)m")
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


class TerminalScreen(Screen):
    """A screen of string rows, alternate screen and scrollback; pyte's events.

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
        keypad_application_mode: Whether DECKPAM put the keypad in application mode.
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

    # Text.

    def draw_text(self, text: str, styles: str | None = None) -> None:
        """Draw characters that are each one cell wide (the fast path).

        Args:
            text: Printable characters of width one, before charset mapping.
            styles: One style code per character; the pen's if not given.
        """
        if self.translation is not None:
            text = text.translate(self.translation)
        if styles is None:
            styles = self.pen * len(text)
        cursor = self.cursor
        x = cursor.x
        end = x + len(text)
        if end <= self.columns and modes.INSERT not in self.mode:
            self.rows[cursor.y].write(x, text, styles)
            cursor.x = end
            self.dirty.add(cursor.y)
            return
        self._draw_wrapping(text, styles)

    def draw_styled(self, segment: str) -> None:
        """Draw one-cell characters interleaved with SGR sequences.

        Coloured output alternates short words and SGR; drawing the whole
        segment with one write per row beats a write per word.

        Args:
            segment: Text and complete ``CSI ... m`` sequences with plain
                numeric parameters, nothing else.
        """
        text, styles = self._split_styles(segment)
        if text:
            self.draw_text(text, styles)

    def _split_styles(self, segment: str) -> tuple[str, str]:
        """Take the SGR out of a segment, moving the pen as they say.

        Returns:
            The segment's text and one style code per character.
        """
        parts = _SGR_SPLIT.split(segment)
        texts = parts[::2]
        pen = self.pen
        table = self.styles
        cache = table.after_sgr_cache
        pens = [pen]
        for params in parts[1::2]:
            known = cache.get(pen)
            following = known.get(params) if known is not None else None
            pen = following or table.after_sgr(pen, params)
            pens.append(pen)
        if table.full:
            mapping = self._compact_styles(pens)
            pens = [pen.translate(mapping) for pen in pens]
        self.pen = pens[-1]
        return "".join(texts), "".join(map(operator.mul, pens, map(len, texts)))

    def draw_lines(self, lines: list[str]) -> None:
        """Draw lines of one-cell text and SGR, each followed by ``CR LF``.

        This is the shape of most output (``cat``, logs, ``ls --color``). Once
        the cursor sits at the start of a fresh bottom line of an unrestricted
        screen, each line is built whole as a new row and the top row moves to
        the scrollback, instead of being drawn into a blank row and scrolled.
        """
        rows = self.rows
        cursor = self.cursor
        columns = self.columns
        bottom = self.lines - 1
        blank_text, blank_styles = self._blank_text, self._blank_styles
        simple = self.margins is None and self.translation is None
        simple = simple and modes.INSERT not in self.mode
        keep = self.history.append if self._main_rows is None else None
        streamed = 0
        for line in lines:
            styles: str | None = None
            if "\x1b" in line:
                line, styles = self._split_styles(line)
            length = len(line)
            fresh = cursor.x == 0 and rows[-1].text is blank_text
            if not (simple and fresh and cursor.y == bottom and length <= columns):
                self.draw_text(line, styles)
                cursor.x = 0
                self.linefeed()
                continue
            if styles is None:
                styles = self.pen * length
            rows[-1] = Line(line + blank_text[length:], styles + blank_styles[length:])
            if keep:
                keep(rows[0])
            del rows[0]
            rows.append(Line(blank_text, blank_styles))
            streamed += 1
        if streamed:
            if keep:
                self.scrolled += streamed
            if len(self.dirty) < self.lines:
                self._mark_all_dirty()

    def _draw_wrapping(self, text: str, styles: str) -> None:
        cursor = self.cursor
        columns = self.columns
        while text:
            if cursor.x >= columns:
                if modes.AUTOWRAP in self.mode:
                    self._wrap()
                else:
                    cursor.x = columns - 1
                    text, styles = text[-1], styles[-1]
            room = columns - cursor.x
            chunk, text = text[:room], text[room:]
            chunk_styles, styles = styles[:room], styles[room:]
            row = self.rows[cursor.y]
            if modes.INSERT in self.mode:
                row.insert_blanks(cursor.x, len(chunk), DEFAULT_CODE)
            row.write(cursor.x, chunk, chunk_styles)
            cursor.x += len(chunk)
            self.dirty.add(cursor.y)

    def _wrap(self) -> None:
        self.rows[self.cursor.y].wrapped = True
        self.dirty.add(self.cursor.y)
        self.cursor.x = 0
        self.linefeed()

    def draw(self, data: str) -> None:
        """Draw any text: wide characters, combining marks, and narrow runs.

        Characters that are neither printable nor combining are skipped; pyte
        stops drawing at the first of them and loses the rest of the text.
        """
        if self.translation is not None:
            data = data.translate(self.translation)
        run: list[str] = []
        for char in data:
            width = wcwidth(char)
            if width == 1:
                run.append(char)
                continue
            if run:
                self._draw_run(run)
            if width == 2:
                self._draw_wide(char)
            elif width == 0 and _is_combining(char):
                self._combine(char)
        if run:
            self._draw_run(run)

    def _draw_run(self, run: list[str]) -> None:
        translation, self.translation = self.translation, None
        self.draw_text("".join(run))
        self.translation = translation
        run.clear()

    def _draw_wide(self, char: str) -> None:
        cursor = self.cursor
        if cursor.x + 2 > self.columns:
            if modes.AUTOWRAP in self.mode:
                self._wrap()
            else:
                cursor.x = self.columns - 2
        if cursor.x + 2 > self.columns:
            return
        row = self.rows[cursor.y]
        if modes.INSERT in self.mode:
            row.insert_blanks(cursor.x, 2, DEFAULT_CODE)
        row.write(cursor.x, char + WIDE_TAIL, self.pen * 2)
        cursor.x += 2
        self.dirty.add(cursor.y)

    def _combine(self, mark: str) -> None:
        x, y = self.cursor.x, self.cursor.y
        if x:
            row = self.rows[y]
            x -= 1
        elif y:
            row = self.rows[y - 1]
            x = self.columns - 1
            y -= 1
        else:
            return
        if row.text[x] == WIDE_TAIL and x:
            x -= 1
        row.combine(x, mark)
        self.dirty.add(y)

    def repeat_character(self, count: int | None = None) -> None:
        """Repeat the character before the cursor (REP, ``CSI b``)."""
        x, y = self.cursor.x, self.cursor.y
        if not x:
            return
        char = self.rows[y].cell(x - 1) or self.rows[y].cell(max(x - 2, 0))
        if char:
            self.draw(char * min(count or 1, self.columns * self.lines))

    # Lines and scrolling.

    def _region(self) -> tuple[int, int]:
        margins = self.margins
        return (margins.top, margins.bottom) if margins else (0, self.lines - 1)

    def carriage_return(self) -> None:
        """Move the cursor to column 0."""
        self.cursor.x = 0

    def linefeed(self) -> None:
        """Move down a line, scrolling at the bottom margin; LNM also returns."""
        self.index()
        if modes.NEWLINE in self.mode:
            self.cursor.x = 0

    def index(self) -> None:
        """Move down a line, scrolling the region when at its bottom (IND)."""
        cursor = self.cursor
        top, bottom = self._region()
        if cursor.y == bottom:
            self.scroll_up(1)
        elif cursor.y < self.lines - 1:
            cursor.y += 1

    def reverse_index(self) -> None:
        """Move up a line, scrolling the region down when at its top (RI)."""
        cursor = self.cursor
        top, _bottom = self._region()
        if cursor.y == top:
            self.scroll_down(1)
        elif cursor.y > 0:
            cursor.y -= 1

    def scroll_up(self, count: int | None = None) -> None:
        """Scroll the region up; lines leaving the top of the screen are kept.

        Only lines leaving the very top of the main screen enter the scrollback,
        as in xterm: a region below a status line scrolls without history.
        """
        top, bottom = self._region()
        count = min(count or 1, bottom - top + 1)
        rows = self.rows
        keep = top == 0 and self._main_rows is None
        for _ in range(count):
            line = rows.pop(top)
            if keep:
                self.history.append(line)
            rows.insert(bottom, Line(self._blank_text, self._blank_styles))
        if keep:
            self.scrolled += count
        if len(self.dirty) < self.lines:
            self.dirty.update(range(top, bottom + 1))

    def scroll_down(self, count: int | None = None) -> None:
        """Scroll the region down, blank lines entering at its top (SD)."""
        top, bottom = self._region()
        count = min(count or 1, bottom - top + 1)
        for _ in range(count):
            del self.rows[bottom]
            self.rows.insert(top, self._blank())
        self.dirty.update(range(top, bottom + 1))

    def insert_lines(self, count: int | None = None) -> None:
        """Insert blank lines at the cursor within the region (IL)."""
        top, bottom = self._region()
        y = self.cursor.y
        if top <= y <= bottom:
            for _ in range(min(count or 1, bottom - y + 1)):
                del self.rows[bottom]
                self.rows.insert(y, self._blank())
            self.dirty.update(range(y, bottom + 1))
            self.cursor.x = 0

    def delete_lines(self, count: int | None = None) -> None:
        """Delete lines at the cursor; blank lines enter at the region bottom (DL)."""
        top, bottom = self._region()
        y = self.cursor.y
        if top <= y <= bottom:
            for _ in range(min(count or 1, bottom - y + 1)):
                del self.rows[y]
                self.rows.insert(bottom, self._blank())
            self.dirty.update(range(y, bottom + 1))
            self.cursor.x = 0

    # Characters within a line.

    def insert_characters(self, count: int | None = None) -> None:
        """Insert blank cells at the cursor (ICH)."""
        if self.cursor.x < self.columns:
            row = self.rows[self.cursor.y]
            row.insert_blanks(self.cursor.x, count or 1, DEFAULT_CODE)
        self.dirty.add(self.cursor.y)

    def delete_characters(self, count: int | None = None) -> None:
        """Delete cells at the cursor, pulling the rest of the line left (DCH)."""
        if self.cursor.x < self.columns:
            row = self.rows[self.cursor.y]
            row.delete_cells(self.cursor.x, count or 1, DEFAULT_CODE)
        self.dirty.add(self.cursor.y)

    def erase_characters(self, count: int | None = None) -> None:
        """Blank cells from the cursor in the current pen (ECH)."""
        x = self.cursor.x
        self.rows[self.cursor.y].fill(x, x + (count or 1), self.pen)
        self.dirty.add(self.cursor.y)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        """Blank part of the line in the current pen (EL 0, 1, 2)."""
        x = self.cursor.x
        row = self.rows[self.cursor.y]
        if how == 0:
            row.fill(x, self.columns, self.pen)
        elif how == 1:
            row.fill(0, x + 1, self.pen)
        elif how == 2:
            self.rows[self.cursor.y] = Line.blank(self.columns, self.pen)
        self.dirty.add(self.cursor.y)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """Blank part of the screen in the pen (ED 0, 1, 2); ED 3 clears history."""
        y = self.cursor.y
        if how == 0:
            lines: Iterable[int] = range(y + 1, self.lines)
        elif how == 1:
            lines = range(y)
        elif how == 2:
            lines = range(self.lines)
        else:
            self.history.clear()
            return
        for line in lines:
            self.rows[line] = Line.blank(self.columns, self.pen)
        self.dirty.update(lines)
        if how in (0, 1):
            self.erase_in_line(how)

    def alignment_display(self) -> None:
        """Fill the screen with ``E`` keeping each cell's style (DECALN)."""
        for row in self.rows:
            row.text = "E" * self.columns
            row.marks = None
        self._mark_all_dirty()

    # Cursor movement.

    def cursor_up(self, count: int | None = None) -> None:
        """Move up, stopping at the top margin if the cursor is below it (CUU)."""
        top, _bottom = self._region()
        limit = top if self.cursor.y >= top else 0
        self.cursor.y = max(self.cursor.y - (count or 1), limit)

    def cursor_down(self, count: int | None = None) -> None:
        """Move down, stopping at the bottom margin if above it (CUD)."""
        _top, bottom = self._region()
        limit = bottom if self.cursor.y <= bottom else self.lines - 1
        self.cursor.y = min(self.cursor.y + (count or 1), limit)

    def cursor_position(
        self, line: int | None = None, column: int | None = None
    ) -> None:
        """Move to a 1-based position, relative to the region under DECOM (CUP)."""
        y = (line or 1) - 1
        margins = self.margins
        if margins is not None and modes.ORIGIN in self.mode:
            y = min(max(y + margins.top, margins.top), margins.bottom)
        else:
            y = min(max(y, 0), self.lines - 1)
        self.cursor.x = min(max((column or 1) - 1, 0), self.columns - 1)
        self.cursor.y = y

    def cursor_to_line(self, line: int | None = None) -> None:
        """Move to a 1-based line in the same column (VPA)."""
        self.cursor.y = (line or 1) - 1
        if self.margins is not None and modes.ORIGIN in self.mode:
            self.cursor.y += self.margins.top
        self.ensure_vbounds()

    def tab(self) -> None:
        """Move to the next tab stop, or the last column."""
        self.cursor_forward_tab(1)

    def cursor_forward_tab(self, count: int | None = None) -> None:
        """Move forward ``count`` tab stops (HT, CHT)."""
        for _ in range(count or 1):
            later = [stop for stop in self.tabstops if stop > self.cursor.x]
            self.cursor.x = min(later) if later else self.columns - 1

    def cursor_back_tab(self, count: int | None = None) -> None:
        """Move back ``count`` tab stops (CBT)."""
        for _ in range(count or 1):
            x = min(self.cursor.x, self.columns - 1)
            earlier = [stop for stop in self.tabstops if stop < x]
            self.cursor.x = max(earlier) if earlier else 0

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
        self.cursor.x = min(self.cursor.x, self.columns)
        self.ensure_vbounds(use_margins=True)

    def set_margins(self, top: int | None = None, bottom: int | None = None) -> None:
        """Set the scrolling region (DECSTBM) and home the cursor."""
        if (top is None or top == 0) and bottom is None:
            self.margins = None
            self.cursor_position()
            return
        current = self.margins or Margins(0, self.lines - 1)
        top = current.top if top is None else max(0, min(top - 1, self.lines - 1))
        low = current.bottom if bottom is None else bottom - 1
        low = max(0, min(low, self.lines - 1))
        if low - top >= 1:
            self.margins = Margins(top, low)
            self.cursor_position()

    # Attributes, modes, charsets.

    def select_graphic_rendition(self, *attrs: int) -> None:
        """Change the pen (SGR) from numeric parameters."""
        params = ";".join(str(attr) for attr in attrs)
        self.set_pen(params)

    def set_pen(self, params: str) -> None:
        """Change the pen from an SGR parameter string."""
        self.pen = self.styles.after_sgr(self.pen, params)
        if self.styles.full:
            self.pen = self.pen.translate(self._compact_styles([self.pen]))

    def _compact_styles(self, pens: Iterable[str]) -> dict[int, int]:
        """Renumber the style table, keeping the styles in use and ``pens``."""
        lines = [*self.rows, *(self._main_rows or ()), *self.history]
        used = set("".join(line.styles for line in lines))
        used.update(pens)
        saved = [cursor for cursor in (self._saved, self._main_saved) if cursor]
        used.update(cursor.pen for cursor in saved)
        table = self.styles.compact(used)
        for line in lines:
            line.styles = line.styles.translate(table)
        for cursor in saved:
            cursor.pen = cursor.pen.translate(table)
        return table

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

    # Replies and notifications.

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

    # Size.

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Change the size; lines leaving the top of the main screen go to history."""
        lines = lines or self.lines
        columns = columns or self.columns
        if lines == self.lines and columns == self.columns:
            return
        if columns != self.columns:
            self.tabstops.update(range(self.columns - self.columns % 8, columns, 8))
            self.tabstops = {stop for stop in self.tabstops if 0 < stop < columns}
            for row in [*self.rows, *(self._main_rows or ())]:
                row.resize(columns, DEFAULT_CODE)
            self.columns = columns
            self._set_blanks()
        self._resize_lines(lines)
        self.margins = None
        self.cursor.x = min(self.cursor.x, columns)
        self.cursor.y = min(self.cursor.y, lines - 1)
        self.dirty.clear()
        self._mark_all_dirty()

    def _resize_lines(self, lines: int) -> None:
        excess = self.lines - lines
        for rows in (self.rows, self._main_rows):
            if rows is None:
                continue
            below = max(0, self.lines - 1 - self.cursor.y)
            del rows[len(rows) - min(below, max(excess, 0)) :]
            while len(rows) > lines:
                line = rows.pop(0)
                if rows is self._main_rows or self._main_rows is None:
                    self.history.append(line)
                    self.scrolled += 1
            rows.extend(self._blank() for _ in range(lines - len(rows)))
        if excess > 0:
            below = max(0, self.lines - 1 - self.cursor.y)
            self.cursor.y -= max(0, excess - below)
        self.lines = lines


def _is_combining(char: str) -> bool:
    return unicodedata.combining(char) != 0
