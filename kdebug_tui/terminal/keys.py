"""What a key press, a paste, a click or a focus change sends to the remote.

Keys are named the way Textual names them (``"ctrl+c"``, ``"shift+up"``,
``"alt+x"``, ``"f5"``), but nothing here imports Textual. Encodings are xterm's:
cursor keys honour DECCKM, modifiers travel as xterm's ``1;m`` parameter, Alt
prefixes ``ESC``, and mouse reports use SGR (?1006) when the remote asked for it
and the X10 byte form otherwise.
"""

from __future__ import annotations

from typing import Literal

_CURSOR_FINALS = {"up": "A", "down": "B", "right": "C", "left": "D"}
_CURSOR_FINALS |= {"home": "H", "end": "F"}
_SS3_FUNCTION_FINALS = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
_TILDE_NUMBERS = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6}
_TILDE_NUMBERS |= {"f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21}
_TILDE_NUMBERS |= {"f11": 23, "f12": 24, "f13": 25, "f14": 26, "f15": 28}
_TILDE_NUMBERS |= {"f16": 29, "f17": 31, "f18": 32, "f19": 33, "f20": 34}
_PLAIN_KEYS = {"enter": "\r", "tab": "\t", "escape": "\x1b", "backspace": "\x7f"}
_PLAIN_KEYS |= {"space": " ", "newline": "\n"}
_CONTROL_SYMBOLS = {"@": 0, "at": 0, "space": 0, "left_square_bracket": 27}
_CONTROL_SYMBOLS |= {"backslash": 28, "right_square_bracket": 29}
_CONTROL_SYMBOLS |= {"circumflex_accent": 30, "underscore": 31, "question_mark": 127}
_MODIFIER_BITS = {"shift": 1, "alt": 2, "meta": 2, "ctrl": 4, "super": 8}

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"

MouseAction = Literal["press", "release", "motion", "wheel_up", "wheel_down"]


def split_key(key: str) -> tuple[set[str], str]:
    """Split a Textual key name into its modifiers and its base key."""
    *modifiers, base = key.split("+")
    return set(modifiers), base


def encode_key(
    key: str, character: str | None, *, application_cursor: bool = False
) -> bytes | None:
    """Encode a key press for the remote.

    Args:
        key: Textual's key name, for example ``"ctrl+c"`` or ``"shift+f5"``.
        character: The character the outer terminal sent, if any.
        application_cursor: Whether DECCKM is set (cursor keys send ``ESC O``).

    Returns:
        The bytes to send, or ``None`` for a key that has no encoding.
    """
    modifiers, base = split_key(key)
    sequence = _special_key(base, modifiers, application_cursor)
    if sequence is None:
        sequence = _character_key(base, modifiers, character)
    return None if sequence is None else sequence.encode()


def _modifier_parameter(modifiers: set[str]) -> int:
    return 1 + sum(_MODIFIER_BITS.get(name, 0) for name in modifiers)


def _special_key(base: str, modifiers: set[str], application: bool) -> str | None:
    """Encode cursor, editing and function keys, or ``None`` for other keys."""
    parameter = _modifier_parameter(modifiers)
    if base in _CURSOR_FINALS:
        final = _CURSOR_FINALS[base]
        if parameter > 1:
            return f"\x1b[1;{parameter}{final}"
        return ("\x1bO" if application else "\x1b[") + final
    if base in _SS3_FUNCTION_FINALS:
        final = _SS3_FUNCTION_FINALS[base]
        return f"\x1b[1;{parameter}{final}" if parameter > 1 else "\x1bO" + final
    if base in _TILDE_NUMBERS:
        number = _TILDE_NUMBERS[base]
        return f"\x1b[{number};{parameter}~" if parameter > 1 else f"\x1b[{number}~"
    if base == "tab" and modifiers == {"shift"}:
        return "\x1b[Z"
    return None


def _character_key(base: str, modifiers: set[str], character: str | None) -> str | None:
    """Encode a key that stands for a character, with Ctrl and Alt applied."""
    alt = "alt" in modifiers or "meta" in modifiers
    if base == "backspace" and character == "\x08":
        text: str | None = "\x08"
    elif "ctrl" in modifiers:
        text = _control_character(base, character)
    elif base in _PLAIN_KEYS:
        text = _PLAIN_KEYS[base]
    elif character and character.isprintable():
        text = character
    elif len(base) == 1:
        text = base.upper() if "shift" in modifiers else base
    else:
        text = character or None
    if text is None:
        return None
    if alt and not text.startswith("\x1b"):
        return "\x1b" + text
    return text


def _control_character(base: str, character: str | None) -> str | None:
    """The C0 control Ctrl plus a key produces, as a terminal sends it."""
    if len(base) == 1 and base.isalpha():
        return chr(ord(base.lower()) - ord("a") + 1)
    if base in _CONTROL_SYMBOLS:
        return chr(_CONTROL_SYMBOLS[base])
    if base in _PLAIN_KEYS:
        return "\x08" if base == "backspace" else _PLAIN_KEYS[base]
    if character and len(character) == 1 and ord(character) < 32:
        return character
    return None


def encode_paste(text: str, *, bracketed: bool) -> bytes:
    """Encode pasted text: newlines become ``CR`` and, if asked, it is bracketed.

    An end marker inside the text is removed so a paste cannot break out of
    the bracket and run as typed input.
    """
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if bracketed:
        text = PASTE_START + text.replace(PASTE_END, "") + PASTE_END
    return text.encode()


def encode_mouse(
    action: MouseAction,
    cell: tuple[int, int],
    *,
    button: int = 0,
    modifiers: set[str] | frozenset[str] = frozenset(),
    sgr: bool,
) -> bytes | None:
    """Encode a mouse report.

    Args:
        action: What happened.
        cell: 0-based column and row.
        button: 0 left, 1 middle, 2 right (ignored for the wheel).
        modifiers: Any of ``"shift"``, ``"alt"``/``"meta"``, ``"ctrl"``.
        sgr: Whether ?1006 is set.

    Returns:
        The report, or ``None`` when the X10 form cannot reach the position
        (beyond column or row 223).
    """
    x, y = cell
    code = {"wheel_up": 64, "wheel_down": 65}.get(action, button)
    if action == "motion":
        code += 32
    code += 4 * ("shift" in modifiers) + 8 * bool({"alt", "meta"} & modifiers)
    code += 16 * ("ctrl" in modifiers)
    if sgr:
        final = "m" if action == "release" else "M"
        return f"\x1b[<{code};{x + 1};{y + 1}{final}".encode()
    if action == "release":
        code = 3 + (code & ~3)
    if x > 222 or y > 222:
        return None
    return bytes([0x1B, 0x5B, 0x4D, 32 + code, 33 + x, 33 + y])


def encode_focus(focused: bool) -> bytes:
    """Encode a focus report (?1004)."""
    return b"\x1b[I" if focused else b"\x1b[O"
