"""Cell styles, interned so that a line can keep the styles of its cells as a string.

Every distinct combination of colours and attributes gets a small number, and a
line stores its cells' styles as a string of ``chr(number)``. The hot paths then
paint, erase and shift styles with string slicing instead of a Python loop per
cell, and the renderer finds runs of equal style with one regular expression.
"""

from __future__ import annotations

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


def apply_sgr(style: CellStyle, params: str) -> CellStyle:
    """Apply one Select Graphic Rendition sequence's parameters to a style.

    Args:
        style: The style before the sequence.
        params: The parameter string between ``CSI`` and ``m``, such as
            ``"1;38;5;208"`` or ``"38:2::255:0:0"``.

    Returns:
        The style after the sequence.
    """
    fg, bg, flags = style
    parts = params.split(";")
    index = 0
    while index < len(parts):
        part = parts[index]
        index += 1
        if ":" in part:
            fields = part.split(":")
            head = _number(fields[0])
            if head in (38, 48):
                color = _colon_color(fields)
                if color is not None and head == 38:
                    fg = color
                elif color is not None:
                    bg = color
            elif head == 4:
                on = fields[1:2] != ["0"]
                flags = flags | UNDERLINE if on else flags & ~UNDERLINE
            continue
        code = _number(part)
        if code == 0:
            fg, bg, flags = DEFAULT_COLOR, DEFAULT_COLOR, 0
        elif code in _FLAGS_ON:
            flags |= _FLAGS_ON[code]
        elif code in _FLAGS_OFF:
            flags &= ~_FLAGS_OFF[code]
        elif 30 <= code <= 37:
            fg = code - 30
        elif 40 <= code <= 47:
            bg = code - 40
        elif 90 <= code <= 97:
            fg = code - 82
        elif 100 <= code <= 107:
            bg = code - 92
        elif code == 39:
            fg = DEFAULT_COLOR
        elif code == 49:
            bg = DEFAULT_COLOR
        elif code in (38, 48, 58):
            values = [_number(value) for value in parts[index : index + 4]]
            color, used = _extended_color(values)
            index += used
            if color is not None and code == 38:
                fg = color
            elif color is not None and code == 48:
                bg = color
    return CellStyle(fg, bg, flags)


class StyleTable:
    """Interns cell styles and gives each a one-character code.

    Codes are stable until :meth:`compact` renumbers them; the screen calls it
    when :attr:`full` turns true and rewrites its lines with the mapping.
    """

    def __init__(self) -> None:
        self._styles: list[CellStyle] = [DEFAULT_STYLE]
        self._codes: dict[CellStyle, str] = {DEFAULT_STYLE: DEFAULT_CODE}
        self._after_sgr: dict[str, dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self._styles)

    @property
    def full(self) -> bool:
        """Whether the table has reached ``STYLE_LIMIT`` and needs compacting."""
        return len(self._styles) >= STYLE_LIMIT

    def code(self, style: CellStyle) -> str:
        """Return the code of a style, interning it if it is new."""
        code = self._codes.get(style)
        if code is None:
            code = chr(len(self._styles))
            self._styles.append(style)
            self._codes[style] = code
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
            The new style's code; the answer is cached per style and parameters.
        """
        known = self._after_sgr.get(code)
        if known is None:
            if len(self._after_sgr) > 4096:
                self._after_sgr.clear()
            known = self._after_sgr[code] = {}
        result = known.get(params)
        if result is None:
            result = self.code(apply_sgr(self._styles[ord(code)], params))
            if len(known) < 256:
                known[params] = result
        return result

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
        self._after_sgr.clear()
        return mapping
