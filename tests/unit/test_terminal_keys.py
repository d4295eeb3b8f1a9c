"""Keys, pastes, mouse and focus reach the remote as xterm would send them."""

from __future__ import annotations

import pytest

from kdebug_tui.terminal.keys import (
    encode_focus,
    encode_key,
    encode_mouse,
    encode_paste,
)


@pytest.mark.parametrize(
    ("key", "character", "expected"),
    [
        ("a", "a", b"a"),
        ("A", "A", b"A"),
        ("ctrl+c", "\x03", b"\x03"),
        ("ctrl+c", None, b"\x03"),
        ("ctrl+z", None, b"\x1a"),
        ("ctrl+p", None, b"\x10"),
        ("ctrl+d", None, b"\x04"),
        ("ctrl+@", None, b"\x00"),
        ("ctrl+backslash", None, b"\x1c"),
        ("ctrl+right_square_bracket", None, b"\x1d"),
        ("ctrl+underscore", None, b"\x1f"),
        ("escape", "\x1b", b"\x1b"),
        ("enter", "\r", b"\r"),
        ("tab", "\t", b"\t"),
        ("shift+tab", None, b"\x1b[Z"),
        ("backspace", "\x7f", b"\x7f"),
        ("backspace", "\x08", b"\x08"),
        ("space", " ", b" "),
        ("alt+x", "x", b"\x1bx"),
        ("alt+enter", None, b"\x1b\r"),
        ("ctrl+alt+c", None, b"\x1b\x03"),
        ("question_mark", "?", b"?"),
        ("f1", None, b"\x1bOP"),
        ("f4", None, b"\x1bOS"),
        ("f5", None, b"\x1b[15~"),
        ("f12", None, b"\x1b[24~"),
        ("shift+f5", None, b"\x1b[15;2~"),
        ("ctrl+f1", None, b"\x1b[1;5P"),
        ("insert", None, b"\x1b[2~"),
        ("delete", None, b"\x1b[3~"),
        ("pageup", None, b"\x1b[5~"),
        ("pagedown", None, b"\x1b[6~"),
        ("ctrl+delete", None, b"\x1b[3;5~"),
        ("é", "é", "é".encode()),
    ],
)
def test_keys_encode_as_xterm_sends_them(
    key: str, character: str | None, expected: bytes
) -> None:
    assert encode_key(key, character) == expected


@pytest.mark.parametrize(
    ("key", "normal", "application"),
    [
        ("up", b"\x1b[A", b"\x1bOA"),
        ("down", b"\x1b[B", b"\x1bOB"),
        ("right", b"\x1b[C", b"\x1bOC"),
        ("left", b"\x1b[D", b"\x1bOD"),
        ("home", b"\x1b[H", b"\x1bOH"),
        ("end", b"\x1b[F", b"\x1bOF"),
        ("ctrl+left", b"\x1b[1;5D", b"\x1b[1;5D"),
        ("shift+up", b"\x1b[1;2A", b"\x1b[1;2A"),
        ("alt+right", b"\x1b[1;3C", b"\x1b[1;3C"),
    ],
)
def test_cursor_keys_follow_the_cursor_key_mode(
    key: str, normal: bytes, application: bytes
) -> None:
    assert encode_key(key, None, application_cursor=False) == normal
    assert encode_key(key, None, application_cursor=True) == application


def test_a_key_without_an_encoding_sends_nothing() -> None:
    assert encode_key("f24", None) is None


def test_pasted_newlines_become_carriage_returns() -> None:
    assert encode_paste("a\nb\r\nc", bracketed=False) == b"a\rb\rc"


def test_a_bracketed_paste_cannot_close_its_own_bracket() -> None:
    pasted = encode_paste("x\x1b[201~rm -rf /\n", bracketed=True)
    assert pasted == b"\x1b[200~xrm -rf /\r\x1b[201~"


def test_mouse_reports_use_sgr_when_asked() -> None:
    assert encode_mouse("press", (4, 2), button=0, sgr=True) == b"\x1b[<0;5;3M"
    assert encode_mouse("release", (4, 2), button=0, sgr=True) == b"\x1b[<0;5;3m"
    assert encode_mouse("motion", (0, 0), button=0, sgr=True) == b"\x1b[<32;1;1M"
    assert encode_mouse("wheel_up", (0, 0), button=0, sgr=True) == b"\x1b[<64;1;1M"
    modifiers = frozenset({"ctrl", "shift"})
    assert encode_mouse("press", (0, 0), button=2, modifiers=modifiers, sgr=True) == (
        b"\x1b[<22;1;1M"
    )


def test_mouse_reports_fall_back_to_the_x10_byte_form() -> None:
    assert encode_mouse("press", (4, 2), button=0, sgr=False) == b"\x1b[M %#"
    assert encode_mouse("release", (4, 2), button=1, sgr=False) == b"\x1b[M#%#"
    assert encode_mouse("press", (300, 2), button=0, sgr=False) is None


def test_focus_reports_are_csi_i_and_csi_o() -> None:
    assert (encode_focus(True), encode_focus(False)) == (b"\x1b[I", b"\x1b[O")
