"""Recorded sessions of real programs replay to the screens tmux showed for them.

``tests/captured/*.bin`` hold what vim, less, top, ``ls --color`` and ``printf``
wrote to an 80x24 tmux pane; the ``.json`` beside each holds tmux's rendering
at checkpoints (see ``tests/captured/record.py``). Replaying the bytes up to
each checkpoint must give the same text, cursor and screen (main or alternate).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from kdebug_tui.terminal import Terminal
from kdebug_tui.terminal.styles import BOLD

CAPTURED = Path(__file__).resolve().parents[1] / "captured"
SESSIONS = sorted(path.stem for path in CAPTURED.glob("*.bin"))


def load_session(name: str) -> tuple[bytes, dict[str, Any]]:
    """Return a recording's bytes and its checkpoints document."""
    document = json.loads((CAPTURED / f"{name}.json").read_text())
    return (CAPTURED / f"{name}.bin").read_bytes(), document


def normalised(lines: list[str]) -> list[str]:
    """Lines without trailing blanks, combining marks composed (tmux decomposes)."""
    return [unicodedata.normalize("NFC", line.rstrip()) for line in lines]


def _checkpoints() -> list[tuple[str, int]]:
    cases = []
    for name in SESSIONS:
        _data, document = load_session(name)
        cases += [(name, index) for index in range(len(document["checkpoints"]))]
    return cases


@pytest.mark.parametrize(("name", "index"), _checkpoints())
def test_a_recorded_session_replays_to_the_screen_tmux_showed(
    name: str, index: int
) -> None:
    data, document = load_session(name)
    checkpoint = document["checkpoints"][index]
    terminal = Terminal(*document["size"])

    terminal.feed(data[: checkpoint["offset"]])

    screen = terminal.screen
    assert normalised(screen.display) == normalised(checkpoint["screen"])
    assert [screen.cursor.x, screen.cursor.y] == checkpoint["cursor"]
    assert screen.alternate == checkpoint["alternate"]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_replaying_in_small_pieces_gives_the_same_screens(chunk: int) -> None:
    for name in SESSIONS:
        data, document = load_session(name)
        whole, pieces = Terminal(*document["size"]), Terminal(*document["size"])
        whole.feed(data)
        for start in range(0, len(data), chunk):
            pieces.feed(data[start : start + chunk])
        assert pieces.screen.display == whole.screen.display, name


def test_ls_colours_directories_bold_blue_and_executables_bold_green() -> None:
    data, _document = load_session("ls_colour")
    terminal = Terminal(80, 24)
    terminal.feed(data)

    row = terminal.screen.pyte_row(1)

    assert (row[0].data, row[0].fg, row[0].bold) == ("b", "blue", True)
    run_sh = terminal.screen.display[1].index("run.sh")
    assert (row[run_sh].fg, row[run_sh].bold) == ("green", True)
    assert row[terminal.screen.display[1].index("readme")].fg == "default"


def test_vim_switches_cursor_keys_to_application_mode_and_back() -> None:
    data, document = load_session("vim_edit")
    opened, left = (document["checkpoints"][i]["offset"] for i in (1, 3))
    terminal = Terminal(80, 24)

    terminal.feed(data[:opened])
    assert terminal.encode_key("up", None) == b"\x1bOA"
    terminal.feed(data[opened:left])
    assert terminal.encode_key("up", None) == b"\x1b[A"


def test_top_draws_its_summary_in_bold() -> None:
    data, document = load_session("top_refresh")
    terminal = Terminal(80, 24)
    terminal.feed(data[: document["checkpoints"][0]["offset"]])

    tasks = terminal.screen.rows[1]
    number = tasks.plain().index("total") - 2

    assert terminal.screen.styles.style(tasks.styles[number]).flags & BOLD
