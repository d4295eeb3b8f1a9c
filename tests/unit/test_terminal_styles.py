"""SGR sequences become the styles xterm would show."""

from __future__ import annotations

import pytest

from kdebug_tui.terminal.styles import (
    BOLD,
    DEFAULT_COLOR,
    DEFAULT_STYLE,
    DIM,
    ITALIC,
    REVERSE,
    TRUECOLOR,
    UNDERLINE,
    CellStyle,
    StyleTable,
    apply_sgr,
)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("", DEFAULT_STYLE),
        ("31", CellStyle(fg=1)),
        ("1;44", CellStyle(bg=4, flags=BOLD)),
        ("91;101", CellStyle(fg=9, bg=9)),
        ("38;5;208", CellStyle(fg=208)),
        ("48;5;17", CellStyle(bg=17)),
        ("38;2;1;2;3", CellStyle(fg=TRUECOLOR | 0x010203)),
        ("38:2::1:2:3", CellStyle(fg=TRUECOLOR | 0x010203)),
        ("38:2:1:2:3", CellStyle(fg=TRUECOLOR | 0x010203)),
        ("38:5:208", CellStyle(fg=208)),
        ("4:3", CellStyle(flags=UNDERLINE)),
        ("2;3;7", CellStyle(flags=DIM | ITALIC | REVERSE)),
        ("38;5;300", DEFAULT_STYLE),
        ("38;2;300;0;0", DEFAULT_STYLE),
        ("38;5", DEFAULT_STYLE),
        ("1;22", DEFAULT_STYLE),
        ("1;0;4", CellStyle(flags=UNDERLINE)),
    ],
)
def test_sgr_parameters_set_colours_and_attributes(
    params: str, expected: CellStyle
) -> None:
    assert apply_sgr(DEFAULT_STYLE, params) == expected


def test_sgr_changes_keep_what_they_do_not_mention() -> None:
    start = CellStyle(fg=3, bg=5, flags=BOLD | UNDERLINE)
    assert apply_sgr(start, "24") == CellStyle(fg=3, bg=5, flags=BOLD)
    assert apply_sgr(start, "39") == CellStyle(DEFAULT_COLOR, 5, BOLD | UNDERLINE)
    assert apply_sgr(start, "38;2;9;9;9").bg == 5
    assert apply_sgr(start, "4:0").flags == BOLD


def test_the_table_gives_each_style_one_stable_code() -> None:
    table = StyleTable()
    red = table.after_sgr("\x00", "31")
    assert table.after_sgr("\x00", "31") == red
    assert table.style(red) == CellStyle(fg=1)
    assert table.after_sgr(red, "0") == "\x00"
    assert table.code(CellStyle(fg=1)) == red


def test_compacting_keeps_the_styles_in_use_and_renumbers_them() -> None:
    table = StyleTable()
    codes = [table.code(CellStyle(fg=n)) for n in range(10)]
    mapping = table.compact({codes[7]})
    assert len(table) == 2
    assert table.style(codes[7].translate(mapping)) == CellStyle(fg=7)
    assert table.generation == 1
