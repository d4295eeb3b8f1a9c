"""One row of terminal cells, kept as two strings so edits are C-speed slices.

``text`` has one code point per cell and ``styles`` one style code per cell (see
:mod:`kdebug_tui.terminal.styles`). A wide character occupies its cell and the
next one, which holds ``WIDE_TAIL``. A cell whose content is more than one code
point (a base character with combining marks that do not compose) keeps its
full content in ``marks`` while ``text`` holds the base character.

Invariant kept by every method: a ``WIDE_TAIL`` cell always follows the head of
its wide character, and a wide head is always followed by its tail. Overwriting
either half of a wide character blanks the other half, which is what xterm does
and what pyte does not (selectel/pyte#75).
"""

from __future__ import annotations

import unicodedata

from pyte.screens import wcwidth

WIDE_TAIL = "\x00"
"""Placeholder in the second cell of a wide character; never drawn text."""


class Line:
    """A row of cells.

    Attributes:
        text: One code point per cell.
        styles: One style code per cell.
        marks: Full content of cells holding more than one code point.
        wrapped: Whether the text runs on into the next line (autowrap), so a
            copied selection joins the two without a newline.
    """

    __slots__ = ("text", "styles", "marks", "wrapped")

    def __init__(
        self,
        text: str,
        styles: str,
        *,
        marks: dict[int, str] | None = None,
        wrapped: bool = False,
    ) -> None:
        self.text = text
        self.styles = styles
        self.marks = marks
        self.wrapped = wrapped

    def __repr__(self) -> str:
        return f"Line({self.text!r})"

    @classmethod
    def blank(cls, width: int, code: str) -> Line:
        """Make a line of spaces in one style."""
        return cls(" " * width, code * width)

    @property
    def width(self) -> int:
        """Number of cells."""
        return len(self.text)

    def cell(self, x: int) -> str:
        """Return a cell's content: ``""`` for a wide tail, else its code points."""
        if self.marks and x in self.marks:
            return self.marks[x]
        char = self.text[x]
        return "" if char == WIDE_TAIL else char

    def write(self, x: int, cells: str, styles: str) -> None:
        """Overwrite cells from ``x`` on.

        Args:
            x: First cell; ``x + len(cells)`` must not exceed the width.
            cells: One code point per cell, a ``WIDE_TAIL`` after each wide one.
            styles: One style code per cell.
        """
        end = x + len(cells)
        text = self.text
        self.text = text[:x] + cells + text[end:]
        self.styles = self.styles[:x] + styles + self.styles[end:]
        if self.marks:
            self._drop_marks(x, end)
        if WIDE_TAIL in text or WIDE_TAIL in cells:
            self._mend(x, end, text)

    def fill(self, start: int, end: int, code: str) -> None:
        """Blank cells ``start`` to ``end`` (exclusive) in one style."""
        end = min(end, len(self.text))
        if start >= end:
            return
        self.write(start, " " * (end - start), code * (end - start))

    def insert_blanks(self, x: int, count: int, code: str) -> None:
        """Insert blank cells at ``x``; cells pushed past the right edge are lost."""
        width = len(self.text)
        count = min(count, width - x)
        old = self.text
        self.text = (old[:x] + " " * count + old[x:])[:width]
        self.styles = (self.styles[:x] + code * count + self.styles[x:])[:width]
        if self.marks:
            self._shift_marks(x, count)
        if WIDE_TAIL in old:
            self._mend(x, x + count, old)
            self._mend_right_edge()

    def delete_cells(self, x: int, count: int, code: str) -> None:
        """Delete cells at ``x``; blanks in ``code`` enter from the right edge."""
        width = len(self.text)
        count = min(count, width - x)
        old = self.text
        self.text = old[:x] + old[x + count :] + " " * count
        self.styles = self.styles[:x] + self.styles[x + count :] + code * count
        if self.marks:
            self._drop_marks(x, x + count)
            self._shift_marks(x, -count)
        if WIDE_TAIL in old:
            if old[x] == WIDE_TAIL and x > 0:
                self._set_char(x - 1, " ")
            if self.text[x] == WIDE_TAIL:
                self._set_char(x, " ")

    def resize(self, width: int, code: str) -> None:
        """Cut or pad the line to ``width`` cells."""
        current = len(self.text)
        if width > current:
            self.text += " " * (width - current)
            self.styles += code * (width - current)
        elif width < current:
            self.text = self.text[:width]
            self.styles = self.styles[:width]
            if self.marks:
                self._drop_marks(width, current)
            self._mend_right_edge()

    def combine(self, x: int, mark: str) -> None:
        """Append a combining mark to cell ``x``, composing it when Unicode can."""
        content = unicodedata.normalize("NFC", self.cell(x) + mark)
        if len(content) == 1:
            self._set_char(x, content)
            if self.marks:
                self.marks.pop(x, None)
        else:
            if self.marks is None:
                self.marks = {}
            self.marks[x] = content

    def plain(self) -> str:
        """Return the line's text as it reads, without wide-character tails."""
        if not self.marks:
            return self.text.replace(WIDE_TAIL, "")
        return "".join(self.cell(x) for x in range(len(self.text)))

    def _set_char(self, x: int, char: str) -> None:
        text = self.text
        self.text = text[:x] + char + text[x + 1 :]

    def _mend(self, start: int, end: int, old: str) -> None:
        """Blank halves of wide characters cut at the edges of ``start:end``."""
        text = self.text
        width = len(text)
        if 0 < start < width and old[start] == WIDE_TAIL and text[start] != WIDE_TAIL:
            self._set_char(start - 1, " ")
        if end < width and text[end] == WIDE_TAIL and wcwidth(text[end - 1]) != 2:
            self._set_char(end, " ")
        if text[start : start + 1] == WIDE_TAIL and (
            start == 0 or wcwidth(text[start - 1]) != 2
        ):
            self._set_char(start, " ")

    def _mend_right_edge(self) -> None:
        """Blank a wide head whose tail no longer fits on the line."""
        text = self.text
        if text and wcwidth(text[-1]) == 2:
            self._set_char(len(text) - 1, " ")

    def _drop_marks(self, start: int, end: int) -> None:
        assert self.marks is not None
        for x in [x for x in self.marks if start <= x < end]:
            del self.marks[x]

    def _shift_marks(self, x: int, offset: int) -> None:
        assert self.marks is not None
        width = len(self.text)
        shifted = {}
        for cell, content in self.marks.items():
            moved = cell + offset if cell >= x else cell
            if 0 <= moved < width:
                shifted[moved] = content
        self.marks = shifted
