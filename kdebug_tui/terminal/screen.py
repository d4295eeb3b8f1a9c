"""A pyte screen that stores rows as strings, drawing at C speed where it counts.

pyte's :class:`~pyte.screens.Screen` keeps a dictionary of ``Char`` tuples per
row and touches every cell in Python; that caps it near 1 MB/s. This subclass
keeps the same event methods (so pyte's own parser still drives it for rare
sequences) but stores each row as a :class:`~kdebug_tui.terminal.lines.Line`,
so text, erases and scrolls are string slices and list moves.

Beyond pyte it has bounded scrollback, scroll up/down (SU/SD), repeat (REP) and
tab movement (CHT/CBT), and fixes pyte's bugs: a wide character cut in half
(selectel/pyte#75), a wide character split at the right margin, a combining
mark that wraps the line, a cursor outside the scrolling region jumping into it
on CUU/CUD/LF/RI, IL/DL skipping rows never written, ``ED`` leaving unwritten
cells uncoloured, and ``ED 3`` erasing the screen rather than the scrollback.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from pyte.screens import Margins, wcwidth

from kdebug_tui.terminal import modes
from kdebug_tui.terminal.lines import WIDE_TAIL, Line
from kdebug_tui.terminal.state import ScreenState
from kdebug_tui.terminal.styles import DEFAULT_CODE

_SGR_SPLIT = re.compile("\x1b\\[([0-9;:]*)m")


class TerminalScreen(ScreenState):
    """A terminal screen: pyte's events on string rows, with scrollback.

    Args:
        columns: Width in cells.
        lines: Height in cells.
        scrollback: Lines kept after they scroll off the top.
    """

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
        transitions = table.transitions
        after = table.after_sgr
        pens = [pen]
        # A plain loop: a comprehension assigning ``pen`` would make it a cell
        # variable, which is slower on Python 3.11.
        for params in parts[1::2]:
            pen = transitions[pen].get(params) or after(pen, params)
            pens.append(pen)
        if table.full:
            mapping = self._compact_styles(pens)
            pens = [pen.translate(mapping) for pen in pens]
        self.pen = pens[-1]
        return "".join(texts), "".join(map(operator.mul, pens, map(len, texts)))

    def draw_lines(self, block: str) -> None:
        """Draw lines of one-cell text and SGR, each followed by ``CR LF``.

        This is the shape of most output (``cat``, logs, ``ls --color``). The
        SGR of the whole block are taken out at once, which costs less than
        once per line. Once the cursor sits at the start of a fresh bottom line
        of an unrestricted screen, each line is built whole as a new row and the
        top row moves to the scrollback, instead of being drawn into a blank
        row and scrolled; when every line left fits in a row, they all move in
        one step (:meth:`_stream_lines`).

        Args:
            block: One or more lines, each ending with ``CR LF``.
        """
        block_styles: str | None = None
        if "\x1b" in block:
            block, block_styles = self._split_styles(block)
        lines = block.split("\r\n")
        lines.pop()
        rows = self.rows
        cursor = self.cursor
        columns = self.columns
        bottom = self.lines - 1
        blank_text, blank_styles = self._blank_text, self._blank_styles
        simple = self.margins is None and self.translation is None
        simple = simple and modes.INSERT not in self.mode
        keep = self.history.append if self._main_rows is None else None
        streamed = 0
        start = 0
        batch_tried = False
        for index, line in enumerate(lines):
            length = len(line)
            fresh = cursor.x == 0 and rows[-1].text is blank_text
            at_bottom = simple and fresh and cursor.y == bottom
            if at_bottom and not batch_tried:
                # Tried once: a line too long for a row sends the rest of the
                # block through the loop, which wraps it.
                batch_tried = True
                rest = lines[index:]
                if max(map(len, rest)) <= columns:
                    rest_styles = None if block_styles is None else block_styles[start:]
                    self._stream_lines(rest, rest_styles)
                    return
            styles: str | None = None
            if block_styles is not None:
                styles = block_styles[start : start + length]
                start += length + 2
            if not (at_bottom and length <= columns):
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

    def _stream_lines(self, lines: list[str], styles: str | None) -> None:
        """Add lines below the screen, scrolling up one row for each.

        The cursor is at the start of a fresh bottom row of an unrestricted
        screen and every line fits in a row. The result is that of drawing each
        line into the bottom row and scrolling, but the rows are built in one
        pass and move to the scrollback in one ``extend``: ``yes`` in a tab
        costs a fraction of a row's drawing per line.

        Args:
            lines: Text of one-cell characters, without ``CR LF``.
            styles: One style code per character of the lines, with two more
                (for ``CR LF``) after each; the pen's if not given.
        """
        columns = self.columns
        blank_styles = self._blank_styles
        # `ljust` pads with the blank row's cells in one step: spaces, and the
        # default style (`_blank_styles` is `DEFAULT_CODE` repeated).
        if styles is not None:
            new: list[Line] = []
            start = 0
            for line in lines:
                end = start + len(line)
                line_styles = styles[start:end].ljust(columns, DEFAULT_CODE)
                new.append(Line(line.ljust(columns), line_styles))
                start = end + 2
        elif self.pen == DEFAULT_CODE:
            new = [Line(line.ljust(columns), blank_styles) for line in lines]
        else:
            pen, blank = self.pen, DEFAULT_CODE
            new = [
                Line(line.ljust(columns), (pen * len(line)).ljust(columns, blank))
                for line in lines
            ]
        rows = self.rows
        count = len(new)
        # The rows above the fresh bottom one, then the new ones: the first
        # `count` of them scroll off the top.
        moving = rows[:-1] + new
        if self._main_rows is None:
            self.history.extend(moving[:count])
            self.scrolled += count
        rows[:] = moving[count:]
        rows.append(Line(self._blank_text, blank_styles))
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

    # Attributes.

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
