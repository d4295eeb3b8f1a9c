"""The terminal view, driven through Textual's pilot as a user and a remote would."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from textual import events, on
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Label

from kdebug_tui.widgets import TerminalView
from tests.unit.test_terminal_captured import SESSIONS, load_session, normalised

pytestmark = pytest.mark.tui

CURSOR_KEYS = Path(__file__).parent / "captured" / "cursor_keys"
"""The recorded cursor-key session, without its suffix (.bin, .json)."""
RECORDED_CHECKPOINTS = [
    (name, index)
    for name in SESSIONS
    for index in range(len(load_session(name)[1]["checkpoints"]))
]
"""Every checkpoint of the recordings in tests/captured, as (session, index)."""


class TerminalHost(App[None]):
    """A bare app holding one terminal view and recording what it posts."""

    def __init__(self, view: TerminalView | None = None) -> None:
        super().__init__()
        self.view = view or TerminalView()
        self.sent: list[bytes] = []
        self.sizes: list[tuple[int, int]] = []
        self.titles: list[str] = []
        self.bells = 0
        self.leader_presses = 0
        self.notified: list[str] = []

    def notify(self, message: str, **options: Any) -> None:
        self.notified.append(options.get("severity", "information"))
        super().notify(message, **options)

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        self.view.focus()

    @on(TerminalView.InputGenerated)
    def record_input(self, message: TerminalView.InputGenerated) -> None:
        self.sent.append(message.data)

    @on(TerminalView.Resized)
    def record_size(self, message: TerminalView.Resized) -> None:
        self.sizes.append((message.width, message.height))

    @on(TerminalView.TitleChanged)
    def record_title(self, message: TerminalView.TitleChanged) -> None:
        self.titles.append(message.title)

    @on(TerminalView.BellRang)
    def record_bell(self) -> None:
        self.bells += 1

    @on(TerminalView.LeaderPressed)
    def record_leader(self) -> None:
        self.leader_presses += 1


async def show(pilot: Pilot[Any], data: bytes) -> list[str]:
    """Feed output, let it be parsed and painted, and return the rows as text."""
    view = pilot.app.query_one(TerminalView)
    await view.feed(data)
    await view.drain()
    await pilot.pause(0.05)
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


class TestOutput:
    """Output from the remote appears on screen and raises the right messages."""

    async def test_text_and_colours_are_shown(self) -> None:
        """Plain and coloured text lands on the rows it was written to."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            rows = await show(pilot, b"hello\r\n\x1b[31mred\x1b[0m text")
            assert rows[:2] == ["hello", "red text"]
            strip = app.view.render_line(1)
            first = next(iter(strip))
            assert first.style is not None and first.style.color is not None

    async def test_queries_are_answered_through_input_generated(self) -> None:
        """A cursor-position query is answered to the remote, not drawn."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            # The remote asks where the cursor is.
            await show(pilot, b"ab\x1b[6n")
            assert app.sent == [b"\x1b[1;3R"]

    async def test_titles_and_bells_become_messages(self) -> None:
        """OSC 2 posts TitleChanged; BEL posts BellRang."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await show(pilot, b"\x1b]2;vim notes.txt\x07\x07")
            assert app.titles == ["vim notes.txt"]
            assert app.bells == 1
            assert app.view.terminal_title == "vim notes.txt"

    async def test_only_changed_rows_are_repainted(self) -> None:
        """After a change on one row, only that row is refreshed."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            # Paint three rows, then watch what the next change refreshes.
            await show(pilot, b"one\r\ntwo\r\nthree")
            refreshed: list[Region] = []
            original = app.view.refresh

            def recording_refresh(*regions: Region, **options: Any) -> TerminalView:
                refreshed.extend(regions)
                return original(*regions, **options)

            app.view.refresh = recording_refresh  # type: ignore[method-assign]
            # Rewrite row 1 and put the cursor back where it was.
            await show(pilot, b"\x1b7\x1b[2;1HTWO\x1b8")
            # On a busy machine the repaint timer may fire late; wait for it.
            for _ in range(500):
                if refreshed:
                    break
                await pilot.pause(0.01)
            assert refreshed == [Region(0, 1, 40, 1)]


class TestBackPressure:
    """A full backlog makes feed wait instead of growing."""

    async def test_feed_waits_until_the_parser_makes_room(self) -> None:
        """With the backlog full, a second feed only returns once parsing starts."""
        view = TerminalView(backlog_limit=16)
        await view.feed(b"x" * 16)
        blocked = asyncio.create_task(view.feed(b"more"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not blocked.done()

        app = TerminalHost(view)
        async with app.run_test(size=(40, 8)) as pilot:
            await asyncio.wait_for(blocked, timeout=30)
            rows = await show(pilot, b"")
            assert rows[0] == "x" * 16 + "more"

    async def test_removing_the_view_releases_a_waiting_writer(self) -> None:
        """A writer blocked on a full backlog returns once the view is gone."""
        view = TerminalView(backlog_limit=16)
        app = TerminalHost(view)
        async with app.run_test(size=(40, 8)) as pilot:
            await view.remove()
            await pilot.pause()
            await view.feed(b"x" * 64)
            await asyncio.wait_for(view.feed(b"more"), timeout=30)


class ViewScreen(Screen[None]):
    """A screen holding only the given view, as a debug tab's screen does."""

    def __init__(self, view: TerminalView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


class TabsHost(TerminalHost):
    """An app with the view in a mode of its own, as the app keeps its tabs."""

    def compose(self) -> ComposeResult:
        yield Label("elsewhere")

    def on_mount(self) -> None:
        self.add_mode("tab", lambda: ViewScreen(self.view))
        self.add_mode("other", Screen)


class TestHiddenView:
    """A view whose tab is hidden takes all output, slowly, and shows it once shown."""

    async def test_a_flood_into_a_hidden_view_is_kept_whole_and_in_order(
        self,
    ) -> None:
        """Nothing is lost or reordered, and the backlog stays at its limit."""
        view = TerminalView(backlog_limit=1024)
        app = TabsHost(view)
        lines = [f"line {number:05}".encode() for number in range(3000)]
        async with app.run_test(size=(40, 8)) as pilot:
            # Show the tab once so the view gets its size, then hide it.
            await app.switch_mode("tab")
            await pilot.pause()
            await app.switch_mode("other")
            await pilot.pause()
            assert not view.is_shown

            # A remote flooding the hidden tab, one line a message.
            largest = 0
            for line in lines:
                await view.feed(line + b"\r\n")
                largest = max(largest, view.backlog_size)
            await asyncio.wait_for(view.drain(), timeout=60)
            assert largest <= 1024 + len(lines[0]) + 2

            screen = view.terminal.screen
            kept = [line.text.rstrip() for line in screen.history]
            kept += [row.text.rstrip() for row in screen.rows]
            assert kept[: len(lines)] == [line.decode() for line in lines]

            # Shown again, the view paints the end of the flood.
            await app.switch_mode("tab")
            assert view.is_shown
            await pilot.pause(0.05)
            rows = [view.render_line(y).text.rstrip() for y in range(8)]
            assert rows[-2:] == ["line 02999", ""]


class TestParserFailure:
    """A parser failure loses some output but never the tab."""

    async def test_the_view_reports_the_loss_and_keeps_showing_output(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A fake failure (the real parser has none we know of) is survived."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            real_feed = app.view.terminal.feed
            calls = []

            def failing_once(data: bytes) -> list[Any]:
                calls.append(data)
                if len(calls) == 1:
                    raise RuntimeError("parser bug")
                return real_feed(data)

            monkeypatch.setattr(app.view.terminal, "feed", failing_once)
            # The first slice fails to parse; the next must still be shown.
            await show(pilot, b"lost")
            rows = await show(pilot, b"shown")
            assert rows[0] == "shown"
            assert app.notified == ["error"]


class TestKeys:
    """Every key goes to the remote except the leader."""

    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("ctrl+c", b"\x03"),
            ("ctrl+z", b"\x1a"),
            ("ctrl+p", b"\x10"),
            ("ctrl+q", b"\x11"),
            ("escape", b"\x1b"),
            ("tab", b"\t"),
            ("f5", b"\x1b[15~"),
            ("up", b"\x1b[A"),
            ("x", b"x"),
        ],
    )
    async def test_keys_are_sent_to_the_remote(self, key: str, expected: bytes) -> None:
        """Keys the app would otherwise bind (quit, focus) reach the remote."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await pilot.press(key)
            await pilot.pause()
            assert app.sent == [expected]
            assert app.is_running
            assert app.focused is app.view

    async def test_cursor_keys_follow_application_mode(self) -> None:
        """After DECCKM the arrows send SS3 sequences, as vim expects."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            # The remote switches cursor keys to application mode.
            await show(pilot, b"\x1b[?1h")
            await pilot.press("up", "left")
            await pilot.pause()
            assert app.sent == [b"\x1bOA", b"\x1bOD"]

    async def test_the_leader_key_posts_a_message_and_is_not_sent(self) -> None:
        """The leader key is left to the container."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await pilot.press("ctrl+right_square_bracket")
            await pilot.pause()
            assert app.leader_presses == 1
            assert app.sent == []

    async def test_the_leader_key_is_configurable(self) -> None:
        """Another leader frees Ctrl-] for the remote."""
        app = TerminalHost(TerminalView(leader_key="ctrl+b"))
        async with app.run_test(size=(40, 8)) as pilot:
            # Ctrl-B is now the leader; Ctrl-] is an ordinary key.
            await pilot.press("ctrl+b", "ctrl+right_square_bracket")
            await pilot.pause()
            assert app.leader_presses == 1
            assert app.sent == [b"\x1d"]


class TestPaste:
    """Pasted text reaches the remote, bracketed when it asked."""

    async def test_a_paste_is_bracketed_when_the_remote_asked(self) -> None:
        """?2004 wraps the paste; newlines become carriage returns."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            # The shell turns on bracketed paste, then the user pastes a line.
            await show(pilot, b"\x1b[?2004h")
            app.view.post_message(events.Paste("ls\n"))
            await pilot.pause()
            assert app.sent == [b"\x1b[200~ls\r\x1b[201~"]


class TestSize:
    """The view tells its owner its size in cells."""

    async def test_the_size_is_announced_at_mount_and_on_resize(self) -> None:
        """Resized comes first at mount, then on every change."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await pilot.pause()
            assert app.sizes == [(40, 8)]
            # The outer terminal grows.
            await pilot.resize_terminal(50, 12)
            await pilot.pause()
            assert app.sizes[-1] == (50, 12)
            assert app.view.size_in_cells == (50, 12)


class TestScrollback:
    """Shift+PageUp and PageDown page through lines that scrolled away."""

    async def test_paging_back_shows_older_lines_and_a_key_returns(self) -> None:
        """The view pages back, and typing returns it to the live screen."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            lines = b"".join(b"line %d\r\n" % n for n in range(30))
            rows = await show(pilot, lines)
            assert rows[0] == "line 23"
            # Page back, then type.
            await pilot.press("shift+pageup")
            await pilot.pause()
            assert app.view.history_offset == 7
            assert app.view.render_line(0).text.rstrip() == "line 16"
            assert app.sent == []
            await pilot.press("a")
            await pilot.pause()
            assert app.view.history_offset == 0
            assert app.sent == [b"a"]

    async def test_clearing_the_scrollback_while_scrolled_back_shows_the_screen(
        self,
    ) -> None:
        """ED 3 while paged back leaves no stale or wrapped-around lines."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await show(pilot, b"".join(b"line %d\r\n" % n for n in range(30)))
            await pilot.press("shift+pageup")
            # The remote clears the scrollback (as `clear` does).
            rows = await show(pilot, b"\x1b[3J")
            assert rows[0] == "line 23"


class TestSelection:
    """Dragging selects text and copies it through the outer terminal."""

    async def test_dragging_copies_the_selected_text(self) -> None:
        """A drag over two words copies exactly them."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await show(pilot, b"first line\r\nsecond line")
            # Drag from "line" on the first row to "second" on the next.
            await pilot.mouse_down(TerminalView, offset=(6, 0))
            await pilot.hover(TerminalView, offset=(5, 1))
            await pilot.mouse_up(TerminalView, offset=(5, 1))
            await pilot.pause()
            assert app.view.selected_text == "line\nsecond"
            assert app.clipboard == "line\nsecond"
            assert app.sent == []


class TestMouseReporting:
    """Clicks go to the remote when it asked for mouse reports."""

    async def test_a_click_is_reported_in_sgr_form(self) -> None:
        """?1000 with ?1006 turns a click into press and release reports."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            # The remote asks for SGR mouse reports; the user clicks.
            await show(pilot, b"\x1b[?1000h\x1b[?1006h")
            await pilot.click(TerminalView, offset=(2, 1))
            await pilot.pause()
            assert app.sent == [b"\x1b[<0;3;2M", b"\x1b[<0;3;2m"]
            assert app.view.selected_text == ""


class TestWheel:
    """The wheel scrolls back, presses arrows in full-screen programs, or reports."""

    @staticmethod
    def wheel_up(app: TerminalHost) -> None:
        app.view.post_message(
            events.MouseScrollUp(app.view, 1, 1, 0, 0, 0, False, False, False)
        )

    async def test_on_the_main_screen_the_wheel_scrolls_back(self) -> None:
        """Three lines per notch, nothing sent."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await show(pilot, b"".join(b"%d\r\n" % n for n in range(20)))
            self.wheel_up(app)
            await pilot.pause()
            assert app.view.history_offset == 3
            assert app.sent == []

    async def test_on_the_alternate_screen_the_wheel_presses_up(self) -> None:
        """less and vim get cursor keys, in their cursor-key mode."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await show(pilot, b"\x1b[?1049h\x1b[?1h")
            self.wheel_up(app)
            await pilot.pause()
            assert app.sent == [b"\x1bOA"] * 3

    async def test_with_mouse_reporting_the_wheel_is_reported(self) -> None:
        """Button 64 in SGR form."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            await show(pilot, b"\x1b[?1000h\x1b[?1006h")
            self.wheel_up(app)
            await pilot.pause()
            assert app.sent == [b"\x1b[<64;2;2M"]


class TestFocusReports:
    """The remote hears about focus changes when it asked (?1004)."""

    async def test_losing_and_regaining_focus_is_reported(self) -> None:
        """CSI O on blur, CSI I on focus."""
        app = TerminalHost()
        async with app.run_test(size=(40, 8)) as pilot:
            # The remote asks for focus reports; focus leaves and comes back.
            await show(pilot, b"\x1b[?1004h")
            app.view.blur()
            await pilot.pause()
            app.view.focus()
            await pilot.pause()
            assert app.sent == [b"\x1b[O", b"\x1b[I"]


class TestRecordedSessions:
    """Recorded programs replayed into the view show what tmux showed."""

    @pytest.mark.parametrize(("name", "index"), RECORDED_CHECKPOINTS)
    async def test_the_view_shows_the_recorded_screen(
        self, name: str, index: int
    ) -> None:
        """Every rendered row matches tmux's capture at the checkpoint."""
        data, document = load_session(name)
        checkpoint = document["checkpoints"][index]
        app = TerminalHost()
        async with app.run_test(size=tuple(document["size"])) as pilot:
            rows = await show(pilot, data[: checkpoint["offset"]])
            rendered = [unicodedata.normalize("NFC", row) for row in rows]
            assert rendered == normalised(checkpoint["screen"])


class TestCursorKeysInARecordedSession:
    """The arrows send what tmux sent in the same recorded session, in both modes.

    In `captured/cursor_keys.bin` a shell switches the cursor keys to
    application mode, then back, and each time `od` prints the bytes tmux sent
    for up, down, right and left (see `captured/record_cursor_keys.py`).
    """

    @pytest.mark.parametrize(("waiting", "mode"), [(0, "application"), (2, "normal")])
    async def test_the_arrows_send_the_bytes_od_read_from_tmux(
        self, waiting: int, mode: str
    ) -> None:
        data = CURSOR_KEYS.with_suffix(".bin").read_bytes()
        document = json.loads(CURSOR_KEYS.with_suffix(".json").read_text())
        before, after = document["checkpoints"][waiting : waiting + 2]
        assert before["application_cursor_keys"] is (mode == "application")
        app = TerminalHost()
        async with app.run_test(size=tuple(document["size"])) as pilot:
            # Up to where od waits; the screen is tmux's.
            rows = await show(pilot, data[: before["offset"]])
            assert rows == normalised(before["screen"])

            # The four arrows send what tmux sent, which od printed next.
            await pilot.press("up", "down", "right", "left")
            await pilot.pause()
            od_line = after["screen"][after["cursor"][1] - 1]
            assert b"".join(app.sent) == od_bytes(od_line)

            # Then od's output and the prompt, as tmux showed them.
            rows = await show(pilot, data[before["offset"] : after["offset"]])
            assert rows == normalised(after["screen"])


def od_bytes(line: str) -> bytes:
    """The bytes an `od -An -c` line shows, e.g. ` 033   O   A` is ESC O A."""
    return bytes(int(word, 8) if word.isdigit() else ord(word) for word in line.split())
