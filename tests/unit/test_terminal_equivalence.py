"""Our fast screen shows what stock pyte shows, cell by cell, wherever pyte is right.

Random byte streams (text, controls and escape sequences, split at random
points) go to our :class:`~kdebug_tui.terminal.Terminal` and to pyte's
``ByteStream`` on a reference screen. The reference is stock pyte with the
smallest corrections for the pyte bugs we deliberately fix, each named in
:class:`CorrectedPyteScreen`; everything else is compared as pyte does it.
Sequences pyte does not know (REP, SU/SD, the alternate screen, ...) are left
to ``test_terminal_screen.py``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pyte
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyte import graphics
from pyte import modes as pyte_modes
from pyte.screens import Margins, wcwidth

from kdebug_tui.terminal import WIDE_TAIL, Terminal

COLUMNS, LINES = 20, 6
_NAMES = ["black", "red", "green", "brown", "blue", "magenta", "cyan", "white"]


class CorrectedPyteScreen(pyte.Screen):
    """Stock pyte, corrected only where our screen deliberately differs."""

    def __init__(self, columns: int, lines: int) -> None:
        super().__init__(columns, lines)
        self.saved: tuple[Any, ...] | None = None

    def draw(self, data: str) -> None:
        # A wide character that does not fit wraps first, as in xterm; pyte
        # writes half of it into the last column.
        for char in data:
            width = wcwidth(char)
            autowrap = pyte_modes.DECAWM in self.mode
            if width == 2 and self.cursor.x == self.columns - 1 and autowrap:
                self.cursor.x = self.columns
            if width == 0 and unicodedata.combining(char):
                self._combine(char)
                continue
            super().draw(char)

    def _combine(self, mark: str) -> None:
        # pyte wraps the line for a mark at the right margin, and joins a mark
        # after a wide character to its empty stub rather than to it.
        x, y = self.cursor.x, self.cursor.y
        if x:
            x -= 1
        elif y:
            x, y = self.columns - 1, y - 1
        else:
            return
        if self.buffer[y][x].data == "" and x:
            x -= 1
        cell = self.buffer[y][x]
        data = unicodedata.normalize("NFC", cell.data + mark)
        self.buffer[y][x] = cell._replace(data=data)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        # pyte recolours only cells written before; ED 3 clears only history.
        if how == 3:
            return
        super().erase_in_display(how, *args, **kwargs)
        lines = {0: range(self.cursor.y + 1, self.lines), 1: range(self.cursor.y)}
        for y in lines.get(how, range(self.lines)):
            for x in range(self.columns):
                self.buffer[y][x] = self.cursor.attrs

    def insert_characters(self, count: int | None = None) -> None:
        # pyte keeps the cells it pushes past the right edge, and a later DCH
        # pulls them back onto the screen.
        super().insert_characters(count)
        line = self.buffer[self.cursor.y]
        for x in [x for x in line if x >= self.columns]:
            del line[x]

    def insert_lines(self, count: int | None = None) -> None:
        # pyte skips rows never written to, leaving stale lines behind.
        count = count or 1
        top, bottom = self._region()
        if top <= self.cursor.y <= bottom:
            for row in range(bottom, self.cursor.y - 1, -1):
                if row - count >= self.cursor.y:
                    self.buffer[row] = self.buffer[row - count]
                else:
                    self.buffer.pop(row, None)
            self.carriage_return()

    def delete_lines(self, count: int | None = None) -> None:
        # pyte skips rows never written to, leaving stale lines behind.
        count = count or 1
        top, bottom = self._region()
        if top <= self.cursor.y <= bottom:
            for row in range(self.cursor.y, bottom + 1):
                if row + count <= bottom:
                    self.buffer[row] = self.buffer[row + count]
                else:
                    self.buffer.pop(row, None)
            self.carriage_return()

    def _region(self) -> Margins:
        return self.margins or Margins(0, self.lines - 1)

    def cursor_up(self, count: int | None = None) -> None:
        # pyte pulls a cursor above the region down to its top margin.
        top = self._region().top
        limit = top if self.cursor.y >= top else 0
        self.cursor.y = max(self.cursor.y - (count or 1), limit)

    def cursor_down(self, count: int | None = None) -> None:
        # pyte pulls a cursor below the region up to its bottom margin.
        bottom = self._region().bottom
        limit = bottom if self.cursor.y <= bottom else self.lines - 1
        self.cursor.y = min(self.cursor.y + (count or 1), limit)

    def index(self) -> None:
        if self.cursor.y == self._region().bottom:
            super().index()
        elif self.cursor.y < self.lines - 1:
            self.cursor.y += 1

    def reverse_index(self) -> None:
        if self.cursor.y == self._region().top:
            super().reverse_index()
        elif self.cursor.y > 0:
            self.cursor.y -= 1

    def save_cursor(self) -> None:
        self.saved = (
            self.cursor.x,
            self.cursor.y,
            self.cursor.attrs,
            pyte_modes.DECOM in self.mode,
            pyte_modes.DECAWM in self.mode,
        )

    def restore_cursor(self) -> None:
        # pyte forgets the saved cursor after one restore and never resets
        # DECOM or DECAWM from it.
        if self.saved is None:
            super().restore_cursor()
            return
        x, y, attrs, origin, autowrap = self.saved
        self.cursor.x, self.cursor.y, self.cursor.attrs = x, y, attrs
        for mode, on in ((pyte_modes.DECOM, origin), (pyte_modes.DECAWM, autowrap)):
            (self.mode.add if on else self.mode.discard)(mode)
        self.ensure_hbounds()
        self.ensure_vbounds(use_margins=True)

    def set_margins(self, top: int | None = None, bottom: int | None = None) -> None:
        # pyte does not home the cursor when the margins are reset.
        if (top is None or top == 0) and bottom is None:
            self.margins = None
            self.cursor_position()
            return
        super().set_margins(top, bottom)

    def cursor_position(
        self, line: int | None = None, column: int | None = None
    ) -> None:
        # pyte ignores a position outside the region under DECOM; xterm clamps.
        if self.margins is not None and pyte_modes.DECOM in self.mode:
            line = min((line or 1), self.margins.bottom - self.margins.top + 1)
        super().cursor_position(line, column)

    def cursor_to_line(self, line: int | None = None) -> None:
        # pyte asserts that margins are set when DECOM is on, but origin mode
        # without margins counts from the top of the screen, as in xterm.
        if pyte_modes.DECOM in self.mode and self.margins is None:
            self.cursor.y = (line or 1) - 1
        else:
            super().cursor_to_line(line)
        self.ensure_vbounds()


class CorrectedStream(pyte.ByteStream):
    """pyte's parser, with NEL as carriage return plus index (pyte omits the CR)."""

    escape = {**pyte.ByteStream.escape, "E": "next_line"}


def _next_line(screen: CorrectedPyteScreen) -> None:
    screen.carriage_return()
    screen.index()


CorrectedPyteScreen.next_line = _next_line  # type: ignore[attr-defined]


def _hex(color: str) -> str:
    """Normalise a pyte colour name or hex string to hex (or ``default``)."""
    if color == "default" or len(color) == 6:
        return color  # No pyte colour name has six letters.
    bright = color.startswith("bright") or color == "bfightmagenta"
    name = color.removeprefix("bright").replace("bfightmagenta", "magenta")
    return graphics.FG_BG_256[_NAMES.index(name) + 8 * bright]


def _cells(screen: pyte.Screen) -> list[list[tuple[Any, ...]]]:
    rows = []
    for y in range(screen.lines):
        line = screen.buffer[y]
        row = []
        for x in range(screen.columns):
            char = line[x]
            row.append((char.data, _hex(char.fg), _hex(char.bg), *char[3:]))
        rows.append(row)
    return rows


def _state(screen: pyte.Screen) -> tuple[Any, ...]:
    cursor = screen.cursor
    return (_cells(screen), cursor.x, cursor.y, cursor.hidden, screen.title)


def _run_ours(chunks: list[bytes]) -> tuple[Any, ...]:
    terminal = Terminal(COLUMNS, LINES)
    for chunk in chunks:
        terminal.feed(chunk)
    return _state(terminal.screen)


def _run_reference(chunks: list[bytes]) -> tuple[Any, ...]:
    screen = CorrectedPyteScreen(COLUMNS, LINES)
    stream = CorrectedStream(screen)
    for chunk in chunks:
        stream.feed(chunk)
    return _state(screen)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[start:end] for start, end in zip(points, points[1:], strict=False)]


_NARROW = "abcXYZ 019.,;:!~é߃ΩЖ─│┌╳"
_WIDE = "中文字あ한"
_COMBINING = "\u0301\u0308\u20d7"

numbers = st.integers(min_value=0, max_value=30)
text = st.text(alphabet=_NARROW, min_size=1, max_size=25)
controls = st.sampled_from(["\r", "\n", "\r\n", "\b", "\t", "\x07", "\x0b", "\x0c"])
sgr_codes = st.sampled_from(
    [0, 1, 3, 4, 5, 7, 9, 22, 23, 24, 25, 27, 29, 39, 49]
    + [*range(30, 38), *range(40, 48), *range(90, 98), *range(100, 108)]
)
extended_colours = st.builds(
    lambda which, index, rgb: (
        f"{which};5;{index}" if rgb is None else f"{which};2;{rgb[0]};{rgb[1]};{rgb[2]}"
    ),
    st.sampled_from([38, 48]),
    st.integers(min_value=0, max_value=255),
    st.none() | st.tuples(*[st.integers(min_value=0, max_value=255)] * 3),
)
sgr = st.lists(st.one_of(sgr_codes.map(str), extended_colours), max_size=4).map(
    lambda params: "\x1b[" + ";".join(params) + "m"
)
movement = st.builds(
    lambda final, params: "\x1b[" + ";".join(map(str, params)) + final,
    st.sampled_from(list("ABCDEFGd")),
    st.lists(numbers, max_size=1),
) | st.builds(
    lambda final, params: "\x1b[" + ";".join(map(str, params)) + final,
    st.sampled_from(list("Hf")),
    st.lists(numbers, max_size=2),
)
editing = st.builds(
    lambda final, count: f"\x1b[{'' if count is None else count}{final}",
    st.sampled_from(list("@PXLM")),
    st.none() | numbers,
)
erasing = st.builds(
    lambda final, how: f"\x1b[{how}{final}",
    st.sampled_from(["J", "K"]),
    st.sampled_from(["", "0", "1", "2"]),
) | st.just("\x1b[3J")
margins = st.builds(
    lambda params: "\x1b[" + ";".join(map(str, params)) + "r",
    st.lists(st.integers(min_value=0, max_value=LINES + 1), max_size=2),
)
mode_switches = st.builds(
    lambda mode, on: f"\x1b[{mode}{'h' if on else 'l'}",
    st.sampled_from(["?7", "?6", "?25", "4", "20"]),
    st.booleans(),
)
escapes = st.sampled_from(
    ["\x1b7", "\x1b8", "\x1bD", "\x1bM", "\x1bE", "\x1bH", "\x1b[g", "\x1b[3g"]
    + ["\x1b#8", "\x1b]2;title\x07", "\x1b]0;x\x1b\\", "\x1bc"]
)
tokens = (
    st.one_of(
        text, text, controls, sgr, movement, editing, erasing, margins, mode_switches
    )
    | escapes
)
streams = st.lists(tokens, min_size=1, max_size=40).map("".join)
cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=8)

extensions = st.sampled_from(
    ["\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h", "\x1b[?47l", "\x1b[?1047h"]
    + ["\x1b[?1047l", "\x1b[2S", "\x1b[T", "\x1b[3b", "\x1b[2I", "\x1b[Z", "\x1b(0"]
    + ["\x1b(B", "\x1bP1$r0m\x1b\\", "\x1b[>c", "\x1b[6n", "\x1b[?25$p", "\x1b[5 q"]
    + ["\x1b[!p", "\x1b[3J", "\x1b[?5h", "\x1b[?5l", "\x1b[4h", "中", "e\u0301"]
)
extended_streams = st.lists(tokens | extensions, min_size=1, max_size=40).map("".join)

wide_tokens = st.one_of(
    st.text(alphabet=_NARROW + _WIDE, min_size=1, max_size=25),
    st.sampled_from(list(_COMBINING)),
    st.just("\r\n"),
)
wide_streams = st.lists(wide_tokens, min_size=1, max_size=30).map("".join)

_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_SETTINGS
@given(streams, cuts)
def test_escape_sequences_leave_the_same_screen_as_corrected_pyte(
    stream: str, cut_points: list[int]
) -> None:
    chunks = _split(stream.encode(), cut_points)
    assert _run_ours(chunks) == _run_reference(chunks)


@_SETTINGS
@given(wide_streams, cuts)
def test_wide_and_combining_text_lands_in_the_same_cells_as_corrected_pyte(
    stream: str, cut_points: list[int]
) -> None:
    chunks = _split(stream.encode(), cut_points)
    assert _run_ours(chunks) == _run_reference(chunks)


@_SETTINGS
@given(streams, cuts)
def test_where_a_stream_is_split_does_not_change_the_screen(
    stream: str, cut_points: list[int]
) -> None:
    data = stream.encode()
    assert _run_ours(_split(data, cut_points)) == _run_ours([data])


@_SETTINGS
@given(extended_streams, cuts)
def test_where_a_stream_with_our_extensions_is_split_does_not_matter(
    stream: str, cut_points: list[int]
) -> None:
    data = stream.encode()
    assert _run_ours(_split(data, cut_points)) == _run_ours([data])


@_SETTINGS
@given(extended_streams)
def test_every_row_keeps_its_width_and_wide_characters_stay_whole(stream: str) -> None:
    terminal = Terminal(COLUMNS, LINES)
    terminal.feed(stream.encode())
    screen = terminal.screen
    for line in [*screen.rows, *screen.history]:
        assert len(line.text) == len(line.styles) == COLUMNS
        for x, char in enumerate(line.text):
            if char == WIDE_TAIL:
                assert x > 0 and wcwidth(line.text[x - 1]) == 2
            elif wcwidth(char) == 2:
                assert x + 1 < COLUMNS and line.text[x + 1] == WIDE_TAIL


def test_the_corrections_are_needed_because_stock_pyte_differs() -> None:
    """Each correction above fixes a behaviour stock pyte really has."""
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.Stream(screen)
    stream.feed("\x1b7\x1b[3;3H\x1b8\x1b[4;4H\x1b8")
    assert (screen.cursor.x, screen.cursor.y) == (0, 0)

    stream.feed("\x1b[2;4r\x1b[1;1H\x1b[A")
    assert screen.cursor.y == 1

    stream.feed("\x1b[r\x1b[44m\x1b[2J")
    assert screen.buffer[0][0].bg == "default"


escape_soup = st.lists(
    st.sampled_from(
        ["\x1b", "[", "]", "?", ">", ";", ":", "1", "9", "m", "h", "P", "\\", "\x07"]
        + ["\x9b", "\x9d", "A", "$", " ", "(", "#", "0", "中", "\u0301", "\r", "\n"]
    ),
    max_size=200,
).map(lambda parts: "".join(parts).encode())


@_SETTINGS
@given(st.binary(max_size=400) | escape_soup, cuts)
def test_arbitrary_bytes_never_break_the_parser(
    data: bytes, cut_points: list[int]
) -> None:
    terminal = Terminal(COLUMNS, LINES)
    for chunk in _split(data, cut_points):
        terminal.feed(chunk)
    assert all(len(line.text) == COLUMNS for line in terminal.screen.rows)
