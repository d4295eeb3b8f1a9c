"""What the terminal view looks like, kept as SVG snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from kdebug_tui.widgets import TerminalView
from tests.tui.test_terminal_view import TerminalHost
from tests.unit.test_terminal_captured import load_session

pytestmark = pytest.mark.tui

PALETTE = (
    "".join(f"\x1b[{30 + n}m{n}\x1b[{90 + n}m{n}" for n in range(8))
    + "\x1b[0m \x1b[1mbold\x1b[0m \x1b[3mitalic\x1b[0m \x1b[4munder\x1b[0m"
    + " \x1b[7mreverse\x1b[0m \x1b[9mstrike\x1b[0m\r\n"
    + "".join(f"\x1b[48;5;{n}m " for n in range(16, 256, 6))
    + "\x1b[0m\r\n"
    + "".join(f"\x1b[48;2;{n * 6};{255 - n * 6};128m " for n in range(40))
    + "\x1b[0m\r\n"
    + "\x1b[44;97m white on blue, \xe4\xb8\xad\xe6\x96\x87 wide \x1b[K\x1b[0m\r\n"
)


class TestColouredOutput:
    """Coloured output is drawn with its colours, attributes and the cursor."""

    def test_coloured_ls_and_a_palette(self, snap_compare: Any) -> None:
        """ls --color, 16/256/truecolour samples and a wide string, cursor last."""
        listing, _document = load_session("ls_colour")

        async def feed_output(pilot: Pilot[Any]) -> None:
            view = pilot.app.query_one(TerminalView)
            # Replay ls, then the palette below its prompt.
            await view.feed(listing + PALETTE.encode("latin-1"))
            await view.drain()
            await pilot.pause(0.1)
            assert view.terminal.screen.display[1].startswith("bin/")

        assert snap_compare(
            TerminalHost(), terminal_size=(80, 12), run_before=feed_output
        )
