"""Cell styles, interned so that a line can keep the styles of its cells as a string.

Every distinct combination of colours and attributes gets a small number, and a
line stores its cells' styles as a string of ``chr(number)``. The hot paths then
paint, erase and shift styles with string slicing instead of a Python loop per
cell, and the renderer finds runs of equal style with one regular expression.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import NamedTuple

DEFAULT_COLOR = -1
"""The colour the view's own foreground or background stands for."""

TRUECOLOR = 1 << 24
"""Marks a colour as 24-bit: ``TRUECOLOR | 0xRRGGBB``; smaller values are indexes."""

BOLD = 1
DIM = 2
ITALIC = 4
UNDERLINE = 8
BLINK = 16
REVERSE = 32
CONCEAL = 64
STRIKE = 128

_FLAGS_ON = {1: BOLD, 2: DIM, 3: ITALIC, 4: UNDERLINE, 5: BLINK, 6: BLINK}
_FLAGS_ON |= {7: REVERSE, 8: CONCEAL, 9: STRIKE}
_FLAGS_OFF = {22: BOLD | DIM, 23: ITALIC, 24: UNDERLINE, 25: BLINK}
_FLAGS_OFF |= {27: REVERSE, 28: CONCEAL, 29: STRIKE}

STYLE_LIMIT = 0xD000
"""How many styles a table holds before the screen must compact it.

Codes stay below the surrogate range so every style string is valid text.
"""


class CellStyle(NamedTuple):
    """Colours and attributes of one cell.

    Attributes:
        fg: Foreground: ``DEFAULT_COLOR``, an index 0-255, or ``TRUECOLOR | rgb``.
        bg: Background, encoded like ``fg``.
        flags: Attribute bits (``BOLD``, ``DIM``, ``ITALIC``, ``UNDERLINE``,
            ``BLINK``, ``REVERSE``, ``CONCEAL``, ``STRIKE``).
    """

    fg: int = DEFAULT_COLOR
    bg: int = DEFAULT_COLOR
    flags: int = 0


DEFAULT_STYLE = CellStyle()
DEFAULT_CODE = "\x00"
"""The code of ``DEFAULT_STYLE`` in every table."""


def _number(text: str) -> int:
    """Read one SGR parameter; empty means 0 and huge values are capped."""
    return min(int(text), 9999) if text.isdigit() else 0


def _extended_color(values: list[int]) -> tuple[int | None, int]:
    """Read a 256-colour or truecolour specification.

    Args:
        values: The parameters after 38, 48 or 58.

    Returns:
        The colour (``None`` if the specification is unusable) and how many of
        ``values`` it took.
    """
    if not values:
        return None, 0
    if values[0] == 5:
        if len(values) < 2:
            return None, len(values)
        return (values[1] if values[1] < 256 else None), 2
    if values[0] == 2:
        if len(values) < 4:
            return None, len(values)
        red, green, blue = values[1:4]
        if max(red, green, blue) > 255:
            return None, 4
        return TRUECOLOR | red << 16 | green << 8 | blue, 4
    return None, 1


def _colon_color(fields: list[str]) -> int | None:
    """Read ``38:5:n`` or ``38:2:[space]:r:g:b`` written with colons (ITU T.416)."""
    values = [_number(field) for field in fields[1:]]
    if values[:1] == [2] and len(values) >= 5:
        values = [2, *values[-3:]]
    return _extended_color(values)[0]


class SgrChange(NamedTuple):
    """What one SGR sequence does to any style: ``(flags & ~clear) | set``.

    Attributes:
        clear: Attribute bits turned off (all of them for a reset).
        set: Attribute bits turned on afterwards.
        fg: The new foreground, or ``None`` to keep it.
        bg: The new background, or ``None`` to keep it.
    """

    clear: int
    set: int
    fg: int | None
    bg: int | None


_ALL_FLAGS = 0xFF
_TRANSITIONS_KEPT = 1 << 16
_EXTENDED_ALONE = re.compile(
    r"([34])8;(?:5;(\d{1,3})|2;(\d{1,3});(\d{1,3});(\d{1,3}))\Z"
)


def _extended_change(
    which: str, index: str | None, red: str, green: str, blue: str
) -> SgrChange:
    """The change of a lone ``38;5;n``, ``48;5;n``, ``38;2;r;g;b`` or ``48;2;r;g;b``."""
    if index is not None:
        color: int | None = int(index) if int(index) < 256 else None
    else:
        rgb = int(red), int(green), int(blue)
        color = (
            None if max(rgb) > 255 else TRUECOLOR | rgb[0] << 16 | rgb[1] << 8 | rgb[2]
        )
    if which == "3":
        return SgrChange(0, 0, color, None)
    return SgrChange(0, 0, None, color)


def compile_sgr(params: str) -> SgrChange:
    """Read an SGR parameter string into the change it makes.

    Args:
        params: The text between ``CSI`` and ``m``, such as ``"1;38;5;208"``
            or ``"38:2::255:0:0"``.

    Returns:
        The change, independent of the style it will be applied to.
    """
    extended = _EXTENDED_ALONE.match(params)
    if extended is not None:
        return _extended_change(*extended.groups())
    clear = set_ = 0
    fg: int | None = None
    bg: int | None = None
    parts = params.split(";")
    index = 0
    while index < len(parts):
        part = parts[index]
        index += 1
        if ":" in part:
            fields = part.split(":")
            head = _number(fields[0])
            color = _colon_color(fields) if head in (38, 48) else None
            if head == 38 and color is not None:
                fg = color
            elif head == 48 and color is not None:
                bg = color
            elif head == 4 and fields[1:2] == ["0"]:
                clear, set_ = clear | UNDERLINE, set_ & ~UNDERLINE
            elif head == 4:
                set_ |= UNDERLINE
            continue
        code = _number(part)
        if code == 0:
            clear, set_, fg, bg = _ALL_FLAGS, 0, DEFAULT_COLOR, DEFAULT_COLOR
        elif code in _FLAGS_ON:
            set_ |= _FLAGS_ON[code]
        elif code in _FLAGS_OFF:
            clear, set_ = clear | _FLAGS_OFF[code], set_ & ~_FLAGS_OFF[code]
        elif 30 <= code <= 37 or 90 <= code <= 97:
            fg = code - 30 if code < 90 else code - 82
        elif 40 <= code <= 47 or 100 <= code <= 107:
            bg = code - 40 if code < 100 else code - 92
        elif code == 39 or code == 49:
            fg, bg = (DEFAULT_COLOR, bg) if code == 39 else (fg, DEFAULT_COLOR)
        elif code in (38, 48, 58):
            values = [_number(value) for value in parts[index : index + 4]]
            color, used = _extended_color(values)
            index += used
            if color is not None and code == 38:
                fg = color
            elif color is not None and code == 48:
                bg = color
    return SgrChange(clear, set_, fg, bg)


def apply_sgr(style: CellStyle, params: str) -> CellStyle:
    """Apply one SGR sequence's parameters to a style."""
    change = compile_sgr(params)
    return CellStyle(
        style.fg if change.fg is None else change.fg,
        style.bg if change.bg is None else change.bg,
        (style.flags & ~change.clear) | change.set,
    )


class StyleTable:
    """Interns cell styles and gives each a one-character code.

    Codes are stable until :meth:`compact` renumbers them; the screen calls it
    when :attr:`full` turns true and rewrites its lines with the mapping.
    """

    def __init__(self) -> None:
        self._styles: list[CellStyle] = [DEFAULT_STYLE]
        self._codes: dict[tuple[int, int, int], str] = {DEFAULT_STYLE: DEFAULT_CODE}
        self.transitions: defaultdict[str, dict[str, str]] = defaultdict(dict)
        """Codes after an SGR: ``transitions[code before][parameters]``.

        Hot loops read it directly; an unknown code gets an empty dictionary, so
        a miss is a ``get`` that returns ``None`` and a call to :meth:`after_sgr`.
        Two levels rather than one key of the code followed by the parameters:
        the lookup then builds no string.
        """
        self._transitions_kept = 0
        self.full = False
        """Whether the table has reached ``STYLE_LIMIT`` and needs compacting."""
        self.generation = 0
        """Counts compactions: a cache of codes is stale once this changes."""
        self._changes: dict[str, SgrChange] = {}

    def __len__(self) -> int:
        return len(self._styles)

    def code(self, style: CellStyle) -> str:
        """Return the code of a style, interning it if it is new."""
        code = self._codes.get(style)
        if code is None:
            code = chr(len(self._styles))
            self._styles.append(style)
            self._codes[style] = code
            self.full = len(self._styles) >= STYLE_LIMIT
        return code

    def style(self, code: str) -> CellStyle:
        """Return the style a code stands for."""
        return self._styles[ord(code)]

    def after_sgr(self, code: str, params: str) -> str:
        """Return the code of the style that an SGR sequence leaves behind.

        Args:
            code: The current style's code.
            params: The SGR parameter string.

        Returns:
            The new style's code. Answers are cached per style and parameters,
            and parsed changes per parameters, each cache bounded.
        """
        known = self.transitions[code]
        result = known.get(params)
        if result is not None:
            return result
        change = self._changes.get(params) or self._compile(params)
        fg, bg, flags = self._styles[ord(code)]
        clear, set_, new_fg, new_bg = change
        new = (
            fg if new_fg is None else new_fg,
            bg if new_bg is None else new_bg,
            (flags & ~clear) | set_,
        )
        style = self._codes.get(new) or self.code(CellStyle(*new))
        if self._transitions_kept >= _TRANSITIONS_KEPT:
            self.transitions.clear()
            self._transitions_kept = 0
            known = self.transitions[code]
        known[params] = style
        self._transitions_kept += 1
        return style

    def _compile(self, params: str) -> SgrChange:
        if len(self._changes) > 4096:
            self._changes.clear()
        change = self._changes[params] = compile_sgr(params)
        return change

    def compact(self, used: set[str]) -> dict[int, int]:
        """Drop every style whose code is not in ``used`` and renumber the rest.

        Args:
            used: Every code still stored in a line or held by a cursor.

        Returns:
            A ``str.translate`` table from old codes to new ones.
        """
        used.add(DEFAULT_CODE)
        kept = sorted(used, key=ord)
        mapping = {ord(old): new for new, old in enumerate(kept)}
        self._styles = [self._styles[ord(old)] for old in kept]
        self._codes = {style: chr(new) for new, style in enumerate(self._styles)}
        self.transitions.clear()
        self._transitions_kept = 0
        self.full = False
        self.generation += 1
        return mapping
