"""What our screen does beyond pyte: alternate screen, scrollback, replies, fixes."""

from __future__ import annotations

import pytest

from kdebug_tui.terminal import BellRang, ReplyReady, Terminal, TitleChanged, modes
from kdebug_tui.terminal.styles import STYLE_LIMIT


def _terminal(text: str = "", columns: int = 20, lines: int = 5) -> Terminal:
    terminal = Terminal(columns, lines, scrollback=100)
    terminal.feed(text.encode())
    return terminal


def _rows(terminal: Terminal) -> list[str]:
    return [row.rstrip() for row in terminal.screen.display]


@pytest.mark.parametrize("mode", ["1049", "1047", "47"])
def test_leaving_the_alternate_screen_restores_the_main_screen(mode: str) -> None:
    terminal = _terminal("shell prompt$ ")
    terminal.feed(f"\x1b[?{mode}h\x1b[2J\x1b[Hvim buffer".encode())
    assert _rows(terminal)[0] == "vim buffer"
    assert terminal.screen.alternate

    terminal.feed(f"\x1b[?{mode}l".encode())

    assert _rows(terminal)[0] == "shell prompt$"
    assert not terminal.screen.alternate


def test_mode_1049_restores_the_cursor_it_saved() -> None:
    terminal = _terminal("ab\r\ncd")
    terminal.feed(b"\x1b[?1049h\x1b[4;9Hx\x1b[?1049l")
    assert (terminal.screen.cursor.x, terminal.screen.cursor.y) == (2, 1)


def test_the_alternate_screen_starts_blank_and_keeps_no_history() -> None:
    terminal = _terminal("main")
    terminal.feed(b"\x1b[?1049h" + b"line\r\n" * 10)
    assert _rows(terminal)[0] == "line"
    assert len(terminal.screen.history) == 0


def test_lines_scrolled_off_the_top_enter_the_scrollback() -> None:
    terminal = _terminal("".join(f"line {n}\r\n" for n in range(8)))
    assert [line.plain().rstrip() for line in terminal.screen.history] == [
        "line 0",
        "line 1",
        "line 2",
        "line 3",
    ]
    assert terminal.screen.scrolled == 4


def test_the_scrollback_is_bounded() -> None:
    terminal = Terminal(10, 3, scrollback=5)
    terminal.feed(b"x\r\n" * 50)
    assert len(terminal.screen.history) == 5
    assert terminal.screen.scrolled == 48


def test_a_scrolling_region_below_a_status_line_keeps_no_history() -> None:
    terminal = _terminal("status\x1b[2;5r\x1b[5;1H" + "x\r\n" * 10)
    assert _rows(terminal)[0] == "status"
    assert len(terminal.screen.history) == 0


def test_erase_display_3_clears_the_scrollback_but_not_the_screen() -> None:
    terminal = _terminal("a\r\nb\r\nc\r\nd\r\ne\r\nf")
    terminal.feed(b"\x1b[3J")
    assert len(terminal.screen.history) == 0
    assert _rows(terminal)[-1] == "f"


def test_overwriting_half_a_wide_character_blanks_the_other_half() -> None:
    terminal = _terminal("中文\x1b[1;2Hx")
    assert _rows(terminal)[0] == " x文"
    terminal.feed(b"\x1b[1;3Hy")
    assert _rows(terminal)[0] == " xy"


def test_a_wide_character_that_does_not_fit_wraps_whole() -> None:
    terminal = _terminal("abc中", columns=4)
    assert _rows(terminal)[:2] == ["abc", "中"]


def test_repeat_draws_the_previous_character_again() -> None:
    assert _rows(_terminal("ab\x1b[3b"))[0] == "abbbb"


def test_scroll_up_and_down_move_the_region() -> None:
    terminal = _terminal("1\r\n2\r\n3\r\n4\r\n5")
    terminal.feed(b"\x1b[2S")
    assert _rows(terminal) == ["3", "4", "5", "", ""]
    terminal.feed(b"\x1b[1T")
    assert _rows(terminal) == ["", "3", "4", "5", ""]


def test_tab_forward_and_back_move_between_stops() -> None:
    terminal = _terminal("\x1b[2I")
    assert terminal.screen.cursor.x == 16
    terminal.feed(b"\x1b[Z")
    assert terminal.screen.cursor.x == 8


def test_the_dec_line_drawing_set_works_in_utf8() -> None:
    assert _rows(_terminal("\x1b(0lqk\x1b(Bx"))[0] == "┌─┐x"


def test_primary_and_secondary_device_attributes_are_answered() -> None:
    terminal = _terminal()
    assert terminal.feed(b"\x1b[c") == [ReplyReady(b"\x1b[?62;22c")]
    assert terminal.feed(b"\x1b[>c") == [ReplyReady(b"\x1b[>1;10;0c")]


def test_cursor_position_and_status_reports_are_answered() -> None:
    terminal = _terminal("\x1b[3;7H")
    assert terminal.feed(b"\x1b[6n\x1b[5n") == [ReplyReady(b"\x1b[3;7R\x1b[0n")]


def test_a_cursor_report_at_the_right_margin_names_the_last_column() -> None:
    terminal = _terminal("x" * 20)
    assert terminal.feed(b"\x1b[6n") == [ReplyReady(b"\x1b[1;20R")]


def test_mode_reports_say_whether_a_mode_is_set() -> None:
    terminal = _terminal("\x1b[?2004h")
    assert terminal.feed(b"\x1b[?2004$p\x1b[?1$p") == [
        ReplyReady(b"\x1b[?2004;1$y\x1b[?1;2$y")
    ]


def test_titles_and_bells_become_events_once() -> None:
    terminal = _terminal()
    events = terminal.feed(b"\x1b]0;top - 12:00\x07\x07")
    assert events == [TitleChanged("top - 12:00"), BellRang()]
    assert terminal.feed(b"\x1b]2;top - 12:00\x1b\\") == []


def test_osc_colour_queries_do_not_touch_the_title_or_icon() -> None:
    terminal = _terminal("\x1b]11;?\x07\x1b]10;?\x1b\\")
    assert (terminal.screen.title, terminal.screen.icon_name) == ("", "")


def test_dcs_strings_are_not_drawn() -> None:
    assert _rows(_terminal("a\x1bP1$r0m\x1b\\b"))[0] == "ab"


def test_vims_modify_other_keys_request_is_not_taken_for_sgr() -> None:
    terminal = _terminal("\x1b[>4;2mx")
    assert terminal.screen.pyte_row(0)[0].underscore is False


def test_a_sequence_with_extra_parameters_is_ignored_without_raising() -> None:
    assert _rows(_terminal("a\x1b[1;2;3Ab\x9b1;2;3Ac"))[0] == "abc"


def test_modes_the_view_honours_are_recorded() -> None:
    terminal = _terminal("\x1b[?1h\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b=")
    for mode in (modes.CURSOR_KEYS, modes.BRACKETED_PASTE, modes.MOUSE_SGR):
        assert terminal.has_mode(mode)
    assert terminal.mouse_tracking
    assert terminal.screen.keypad_application_mode
    terminal.feed(b"\x1b[?1l\x1b[?1000l\x1b>")
    assert not terminal.has_mode(modes.CURSOR_KEYS)
    assert not terminal.mouse_tracking
    assert not terminal.screen.keypad_application_mode


def test_column_mode_does_not_resize_the_screen() -> None:
    terminal = _terminal("\x1b[?3h")
    assert terminal.screen.columns == 20


def test_resizing_keeps_the_cursor_line_and_moves_the_top_to_history() -> None:
    terminal = _terminal("1\r\n2\r\n3\r\n4\r\n5")
    terminal.resize(10, 3)
    assert _rows(terminal) == ["3", "4", "5"]
    assert terminal.screen.cursor.y == 2
    assert [line.plain().rstrip() for line in terminal.screen.history] == ["1", "2"]


def test_resizing_with_the_cursor_at_the_top_drops_blank_lines_below() -> None:
    terminal = _terminal("prompt$ ")
    terminal.resize(30, 2)
    assert _rows(terminal) == ["prompt$", ""]
    assert len(terminal.screen.history) == 0
    terminal.resize(30, 6)
    assert terminal.screen.lines == 6
    assert len(terminal.screen.rows[0].text) == 30


def test_the_style_table_is_compacted_when_it_fills_up() -> None:
    terminal = Terminal(10, 2, scrollback=0)
    colours = (f"\x1b[38;2;{n >> 16};{n >> 8 & 255};{n & 255}mx" for n in range(70000))
    data = "".join(colours).encode()
    for start in range(0, len(data), 16384):
        terminal.feed(data[start : start + 16384])
    assert len(terminal.screen.styles) < STYLE_LIMIT
    last = terminal.screen.styles.style(terminal.screen.rows[-1].styles[9])
    assert last.fg & 0xFFFFFF == 69999


def test_an_unfinished_sequence_waits_for_the_rest() -> None:
    terminal = _terminal()
    terminal.feed(b"a\x1b[3")
    terminal.feed(b"1mb\x1b]0;ti")
    terminal.feed(b"tle\x07\xe4\xb8")
    terminal.feed(b"\xad")
    assert _rows(terminal)[0] == "ab中"
    assert terminal.screen.pyte_row(0)[1].fg == "red"
    assert terminal.title == "title"
