"""Launching debug tabs, the launch dialog, switching tabs, the leader key, quitting.

These tests need a session that stays open, so their API server accepts
connections and never answers: each tab stays in its first launch stage, which
is all the tab machinery needs. Launch failures use a closed port. The same
flows against the real cluster are in `test_cluster.py`.
"""

import logging
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Checkbox, Input, RadioButton, RadioSet

from kdebug_tui.app import logging_to_file
from kdebug_tui.backend.session import SessionState
from kdebug_tui.cli import main
from kdebug_tui.screens.confirm import ConfirmScreen
from kdebug_tui.screens.debug import DebugScreen
from kdebug_tui.screens.error import ErrorScreen
from kdebug_tui.screens.help import HelpScreen
from kdebug_tui.screens.launch import LaunchScreen
from kdebug_tui.screens.leader import LeaderScreen
from kdebug_tui.screens.pod import PodScreen
from kdebug_tui.screens.pods import PodsScreen
from kdebug_tui.screens.scrollback import ScrollbackScreen
from kdebug_tui.tabs import DebugTarget
from kdebug_tui.widgets.progress_log import ProgressLog
from kdebug_tui.widgets.tab_bar import TabBar
from kdebug_tui.widgets.terminal_view import TerminalView
from tests.tui.conftest import AppFactory
from tests.tui.pilot_helpers import (
    PACES,
    notices,
    screen_text,
    type_fast,
    wait_for_pods,
    wait_for_rows,
    wait_until,
)

pytestmark = pytest.mark.tui

SIZE = (120, 34)
LEADER = "ctrl+right_square_bracket"
WEB = "web-7d4f9c6b5-x2k8p"


async def open_web_tab(pilot: object) -> None:
    """Highlight the web pod (fourth row) and press d."""
    await wait_for_pods(pilot)  # type: ignore[arg-type]
    await pilot.press("g", "j", "j", "j", "d")  # type: ignore[attr-defined]
    await wait_until(
        pilot,  # type: ignore[arg-type]
        lambda: pilot.app.current_mode != "browser",  # type: ignore[attr-defined]
        what="the debug tab",
    )


async def open_failing_web_tab(pilot: object) -> None:
    """Open a tab on the web pod whose launch fails (the API port is closed)."""
    await open_web_tab(pilot)
    await wait_until(
        pilot,  # type: ignore[arg-type]
        lambda: isinstance(pilot.app.screen, ErrorScreen),  # type: ignore[attr-defined]
        what="the error",
    )


class TestLaunching:
    """`d` opens a tab on the pod's container with the default options."""

    async def test_d_opens_a_connecting_tab_with_the_settings_defaults(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig, image="busybox:1.36", privileged=False)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)

            [tab] = app.tabs
            assert tab.target == DebugTarget("dev", "shop", WEB, "nginx")
            assert tab.options.image == "busybox:1.36"
            assert tab.options.privileged is False
            assert tab.agent_namespace == "default"
            assert tab.state is SessionState.CONNECTING
            # The tab bar and the launch stages say so.
            await wait_until(
                pilot,
                lambda: "Reading pod shop/web" in screen_text(app),
                what="the first launch stage",
            )
            text = screen_text(app)
            assert f"1 {WEB}/nginx · connecting" in text
            assert "Debugging shop/web-7d4f9c6b5-x2k8p/nginx." in text

    @pytest.mark.parametrize("pace", PACES.values(), ids=PACES.keys())
    async def test_d_typed_fast_after_cursor_keys_debugs_the_pod_they_reach(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path, pace: float | None
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            # From the last pod (not running), k then d in one burst: web.
            await pilot.press("G")
            await type_fast(app, "kd", pace=pace)
            await wait_until(pilot, lambda: len(app.tabs) == 1, what="the tab")
            assert app.tabs[0].target.pod == WEB
            # From the first pod (two containers), three down then d: web again.
            await pilot.press(LEADER, "b")
            await wait_until(
                pilot, lambda: app.current_mode == "browser", what="the browser"
            )
            await pilot.press("g")
            await type_fast(app, "jjjd", pace=pace)
            await wait_until(pilot, lambda: len(app.tabs) == 2, what="a second tab")
            assert app.tabs[1].target.pod == WEB

    @pytest.mark.parametrize("pace", PACES.values(), ids=PACES.keys())
    async def test_keys_typed_fast_after_d_wait_for_the_shell(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path, pace: float | None
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "j", "j")

            # d and a command, as a user who knows the shell comes.
            await type_fast(app, "d", "ps", "enter", pace=pace)
            await wait_until(pilot, lambda: len(app.tabs) == 1, what="the tab")
            screen = app.screen
            assert isinstance(screen, DebugScreen)
            await wait_until(
                pilot,
                lambda: bytes(screen._early_input) == b"ps\r",
                what="the keys kept for the shell",
            )

    async def test_a_pod_with_several_containers_asks_which_one(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # api has two containers and no default one.
            await pilot.press("g", "d")
            await wait_until(
                pilot, lambda: isinstance(app.screen, PodScreen), what="the pod view"
            )
            assert app.tabs == []
            assert "has several containers (api, envoy)" in notices(app)[0]

            # On the pod view, d debugs the highlighted container.
            await wait_for_rows(pilot, "#containers")
            await pilot.press("j", "d")
            await wait_until(pilot, lambda: len(app.tabs) == 1, what="a tab")
            assert app.tabs[0].target.container == "envoy"

    async def test_a_container_that_is_not_running_is_refused(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # The crashing worker is the last pod.
            await pilot.press("G", "d")
            await wait_until(pilot, lambda: bool(notices(app)), what="a notice")
            assert app.tabs == []
            assert isinstance(app.screen, PodsScreen)
            notice = notices(app)[0]
            assert "is waiting: CrashLoopBackOff; only a running container" in notice
            assert "Enter on the pod shows its containers and events." in notice

    async def test_a_failed_launch_shows_the_cause_and_what_to_do(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await open_failing_web_tab(pilot)
            error = app.screen
            assert isinstance(error, ErrorScreen)
            assert error.title_text == "The debug session failed"
            assert error.message == (
                "Cannot reach the Kubernetes API at https://127.0.0.1:9: "
                "connection refused."
            )
            assert error.hint.startswith(
                "Check that the cluster is running and that context dev of your "
                "kubeconfig points at it"
            )
            assert "Traceback" not in screen_text(app)
            assert app.tabs[0].state is SessionState.FAILED

            # Closing the error leaves the tab with its launch log.
            await pilot.press("escape")
            assert isinstance(app.screen, DebugScreen)
            progress = app.screen.query_one(ProgressLog)
            assert progress.failed
            assert "failed" in screen_text(app)


class TestLaunchDialog:
    """`D` asks for the image, command, namespaces, profile, pull policy and so on."""

    async def test_the_dialog_starts_from_the_settings(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app(image="busybox:1.36", namespaces="pid,net", pull_policy="Never")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # D on the db pod, whose default container is postgres.
            await pilot.press("g", "j", "D")
            dialog = app.screen
            assert isinstance(dialog, LaunchScreen)
            assert dialog.query_one("#image", Input).value == "busybox:1.36"
            assert dialog.query_one("#ns-pid", Checkbox).value
            assert dialog.query_one("#ns-net", Checkbox).value
            assert not dialog.query_one("#ns-ipc", Checkbox).value
            assert dialog.query_one("#privileged", RadioButton).value
            assert dialog.query_one("#pull-Never", RadioButton).value
            assert dialog.query_one("#agent-namespace", Input).value == "default"
            request = dialog.request()
            assert request.container == "postgres"

    async def test_what_is_typed_becomes_the_tabs_launch_options(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")
            dialog = app.screen
            assert isinstance(dialog, LaunchScreen)

            # Another image and a command with quoting.
            await pilot.press("ctrl+u", *"alpine:3.20", "tab")
            await pilot.press(*"sh -c 'ps; sleep 9'")
            # Join uts as well, run unprivileged, pull always, another agent ns.
            await pilot.click("#ns-uts")
            await pilot.click("#unprivileged")
            await pilot.click("#pull-Always")
            agent_namespace = dialog.query_one("#agent-namespace", Input)
            agent_namespace.value = "debuggers"
            await pilot.press("ctrl+s")

            await wait_until(pilot, lambda: len(app.tabs) == 1, what="a tab")
            [tab] = app.tabs
            assert tab.target.container == "postgres"
            assert tab.options.image == "alpine:3.20"
            assert tab.options.command == ("sh", "-c", "ps; sleep 9")
            assert tab.options.namespaces == ("pid", "net", "ipc", "uts")
            assert tab.options.privileged is False
            assert tab.options.pull_policy == "Always"
            assert tab.agent_namespace == "debuggers"

    @pytest.mark.parametrize("pace", PACES.values(), ids=PACES.keys())
    async def test_keys_typed_fast_after_D_fill_the_fields_in_order(
        self, fixed_app: AppFactory, pace: float | None
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j")

            # D, Ctrl-U and a new image, Tab, a command: no key waits for the dialog.
            await type_fast(
                app,
                "D",
                "ctrl+u",
                "alpine:3.20",
                "tab",
                "sh -c 'ps; sleep 9'",
                pace=pace,
            )
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, LaunchScreen)
                    and app.screen.query_one("#command", Input).value.endswith("9'")
                ),
                what="the command typed",
            )
            dialog = app.screen
            assert dialog.query_one("#image", Input).value == "alpine:3.20"
            assert dialog.query_one("#command", Input).value == "sh -c 'ps; sleep 9'"
            assert app.tabs == []

    @pytest.mark.parametrize("pace", PACES.values(), ids=PACES.keys())
    async def test_keys_typed_fast_across_the_fields_go_where_tab_leads(
        self, fixed_app: AppFactory, pace: float | None
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")
            dialog = app.screen
            assert isinstance(dialog, LaunchScreen)

            # Image, command, back to the image and on to the command again:
            # every key lands in the field that has focus when it is typed.
            await type_fast(app, "ctrl+u", "busybox", "tab", "ps aux", pace=pace)
            await type_fast(app, "shift+tab", "end", ":1.36", pace=pace)
            await type_fast(app, "tab", "end", " -ef", pace=pace)
            await wait_until(
                pilot,
                lambda: dialog.query_one("#command", Input).value.endswith("-ef"),
                what="the last key",
            )
            assert dialog.query_one("#image", Input).value == "busybox:1.36"
            assert dialog.query_one("#command", Input).value == "ps aux -ef"

    async def test_the_pod_views_enter_opens_the_dialog_for_keys_typed_fast(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            # The api pod's view, the envoy container highlighted.
            await pilot.press("g", "enter")
            await wait_for_rows(pilot, "#containers")
            await pilot.press("j")

            await type_fast(app, "enter", "tab", "ps", pace=None)
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, LaunchScreen)
                    and app.screen.query_one("#command", Input).value == "ps"
                ),
                what="the command typed",
            )
            assert app.screen.request().container == "envoy"

    async def test_checked_and_unchecked_differ_without_colour(
        self, fixed_app: AppFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("NO_COLOR", "1")
        app = fixed_app(namespaces="pid,net", privileged=True, pull_policy="Never")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")
            assert isinstance(app.screen, LaunchScreen)

            # The mark is drawn only in what is on.
            text = screen_text(app)
            for on in ("pid", "net", "privileged", "Never"):
                assert f"▐X▌ {on}" in text or f"▐●▌ {on}" in text, on
            for off in ("ipc", "uts", "user", "unprivileged", "Always"):
                assert f"▐ ▌ {off}" in text, off

            # Clicking moves the marks.
            await pilot.click("#ns-pid")
            await pilot.click("#unprivileged")
            await pilot.pause()
            text = screen_text(app)
            assert "▐ ▌ pid" in text and "▐X▌ net" in text
            assert "▐ ▌ privileged" in text and "▐●▌ unprivileged" in text
            assert app.screen.query_one("#profile", RadioSet).pressed_index == 1

    async def test_invalid_fields_are_explained_and_the_dialog_stays(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")

            # An unbalanced quote in the command.
            await pilot.press("tab", *"sh -c 'ps", "enter")
            assert isinstance(app.screen, LaunchScreen)
            assert "cannot be split into words" in screen_text(app)
            assert app.tabs == []

            # Esc cancels without a tab.
            await pilot.press("escape")
            assert isinstance(app.screen, PodsScreen)
            assert app.tabs == []


class TestLaunchDialogSize:
    """The launch dialog fits an 80x24 terminal; a shorter one scrolls with Tab."""

    async def test_every_field_and_button_shows_at_80_by_24(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")
            dialog = app.screen
            assert isinstance(dialog, LaunchScreen)
            await pilot.pause()

            # Nothing is scrolled out of sight, the buttons included.
            body = dialog.query_one("#launch-dialog")
            assert body.max_scroll_y == 0
            for widget in dialog.query("Label, Input, Select, Checkbox, Button"):
                assert body.scrollable_content_region.contains_region(widget.region), (
                    widget
                )

    async def test_tab_brings_each_field_into_view_in_a_short_terminal(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=(80, 14)) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")
            dialog = app.screen
            assert isinstance(dialog, LaunchScreen)
            body = dialog.query_one("#launch-dialog")

            # Tab from the image to Cancel, the last button: each is in view.
            while app.focused is not dialog.query_one("#cancel"):
                await pilot.press("tab")
                await pilot.pause()
                focused = app.focused
                assert focused is not None and focused is not body
                assert body.scrollable_content_region.contains_region(focused.region), (
                    focused
                )

    async def test_the_image_opens_with_the_cursor_after_it(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "D")

            # Focused, nothing selected: the first key typed adds to the image.
            image = app.screen.query_one("#image", Input)
            assert app.focused is image
            assert image.selection.is_empty
            assert image.cursor_position == len(image.value)
            await pilot.press(*":1")
            assert image.value == "docker.io/nicolaka/netshoot:v0.13:1"


class TestTabs:
    """Tabs live beside the browser; ] and [ or the leader key switch between them."""

    async def test_brackets_cycle_through_the_browser_and_the_tabs(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            # Back to the browser, then a second tab on db.
            await pilot.press(LEADER, "b")
            assert app.current_mode == "browser"
            await pilot.press("k", "k", "d")
            await wait_until(pilot, lambda: len(app.tabs) == 2, what="two tabs")
            assert app.current_mode == app.tabs[1].mode

            labels = [label.text for label in app.screen.query_one(TabBar).labels]
            assert labels == [
                "⌂ browser",
                f"1 {WEB}/nginx · connecting",
                "2 db-0/postgres · connecting",
            ]

            # From a terminal: leader n wraps to the browser, leader p comes back.
            await pilot.press(LEADER, "n")
            assert app.current_mode == "browser"
            await pilot.press(LEADER, "p")
            assert app.current_mode == app.tabs[1].mode
            # From the browser: ] and [.
            await pilot.press(LEADER, "b", "right_square_bracket")
            assert app.current_mode == app.tabs[0].mode
            await pilot.press(LEADER, "b", "left_square_bracket")
            assert app.current_mode == app.tabs[1].mode
            # Leader and a number.
            await pilot.press(LEADER, "1")
            assert app.current_mode == app.tabs[0].mode

    async def test_closing_a_live_tab_asks_first_and_ends_its_session(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)

            # Leader x asks; n keeps the tab.
            await pilot.press(LEADER, "x")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert app.screen is screen and len(app.tabs) == 1

            # Leader x, y: the tab goes, its launch is cancelled, the browser shows.
            await pilot.press(LEADER, "x", "y")
            await wait_until(pilot, lambda: not app.tabs, what="the tab to close")
            assert app.current_mode == "browser"
            assert isinstance(app.screen, PodsScreen)
            assert screen.tab.state is SessionState.EXITED
            assert all(w.is_finished for w in app.workers if w.node is screen)
            labels = [label.text for label in app.screen.query_one(TabBar).labels]
            assert labels == ["⌂ browser"]

    async def test_a_failed_tab_closes_without_a_question(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await open_failing_web_tab(pilot)

            await pilot.press("escape", LEADER, "x")
            await wait_until(pilot, lambda: not app.tabs, what="the tab to close")
            assert app.current_mode == "browser"

    async def test_a_failed_tab_says_how_to_try_again_and_r_does(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await open_failing_web_tab(pilot)
            await pilot.press("escape")
            assert "failed · ^] r again · ^] x closes" in screen_text(app)
            [failed] = app.tabs

            await pilot.press(LEADER, "r")
            await wait_until(pilot, lambda: len(app.tabs) == 2, what="a second tab")
            again = app.tabs[1]
            assert app.current_mode == again.mode
            assert again.target == failed.target
            assert again.options == failed.options
            assert again.agent_namespace == failed.agent_namespace
            # The failed tab stays, with what it showed, until it is closed.
            assert failed.state is SessionState.FAILED


class TestLeaderKey:
    """In a terminal every key goes to the shell, except the leader key."""

    async def test_keys_the_browser_uses_go_to_the_shell_instead(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)
            assert isinstance(app.focused, TerminalView)

            # Keys that quit, go back, filter or open help in the browser.
            await pilot.press("ctrl+c", "escape", "q", "slash", "question_mark")
            await pilot.press("ctrl+q", "left_square_bracket", "d", "tab")
            await pilot.pause()
            # Typed before the shell runs, they wait for it, in order.
            assert bytes(screen._early_input) == b"\x03\x1bq/?\x11[d\t"
            assert app.screen is screen
            assert app.return_code is None

    async def test_the_leader_key_offers_the_tab_commands(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)

            await pilot.press(LEADER)
            assert isinstance(app.screen, LeaderScreen)
            text = screen_text(app)
            assert "^] then…" in text and "close the tab" in text
            # Esc cancels and sends nothing.
            await pilot.press("escape")
            assert app.screen is screen
            assert screen._early_input == b""

    async def test_a_key_in_the_same_burst_as_the_leader_is_a_tab_command(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)

            # The leader and x arrive together, as when typed fast.
            app.post_message(events.Key(LEADER, None))
            app.post_message(events.Key("x", "x"))
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, ConfirmScreen),
                what="the close question",
            )
            assert screen._early_input == b""

    async def test_help_in_a_tab_puts_the_terminals_keys_first(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)

            await pilot.press(LEADER, "question_mark")
            help_screen = app.screen
            assert isinstance(help_screen, HelpScreen)
            titles = [section.title for section in help_screen.sections]
            assert titles == [
                "In a debug tab",
                "Tab commands (^] first, in a terminal too)",
                "Commands (type : first)",
                "Keys of the browser",
            ]
            assert ("^]", "a tab command (below); twice sends it to the shell") in (
                help_screen.sections[0].entries
            )

    async def test_the_leader_key_twice_sends_it_to_the_shell(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)

            await pilot.press(LEADER, LEADER)
            await pilot.pause()
            assert bytes(screen._early_input) == b"\x1d"

    async def test_a_configured_leader_key_replaces_the_default(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig, leader_key="ctrl+a")
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)

            # The default leader now reaches the shell; ctrl+a b goes to the browser.
            await pilot.press(LEADER, "ctrl+a", "b")
            await pilot.pause()
            assert bytes(screen._early_input) == b"\x1d"
            assert app.current_mode == "browser"

    async def test_leader_bracket_opens_scrollback_and_esc_returns(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            screen = app.screen
            assert isinstance(screen, DebugScreen)
            # Some output to scroll through.
            lines = b"".join(b"line %d\r\n" % n for n in range(200))
            await screen.view.feed(lines)
            await screen.view.drain()

            await pilot.press(LEADER, "left_square_bracket")
            assert isinstance(app.screen, ScrollbackScreen)
            assert screen.view.history_offset > 0
            # Keys move through the history and do not reach the shell.
            offset = screen.view.history_offset
            await pilot.press("k", "k")
            assert screen.view.history_offset == offset + 2
            assert screen._early_input == b""
            await pilot.press("escape")
            assert app.screen is screen
            assert screen.view.history_offset == 0


class TestLeaderKeySetting:
    """Only a key Textual knows can be the leader; it then works everywhere."""

    def test_an_unknown_leader_key_stops_the_tui_with_the_form_it_needs(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
        monkeypatch.setenv("KDEBUG_LEADER_KEY", "ctrl+zz")
        with pytest.raises(SystemExit) as exit_:
            main([])
        assert exit_.value.code == 1
        error = capsys.readouterr().err
        assert "KDEBUG_LEADER_KEY is 'ctrl+zz', which is not a key" in error
        assert "Set KDEBUG_LEADER_KEY to a key as Textual names it" in error

    @pytest.mark.parametrize("leader", ["ctrl+a", "f12", "ctrl+backslash"])
    async def test_a_leader_key_the_settings_take_opens_the_tab_commands(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path, leader: str
    ) -> None:
        app = fixed_app(stalled_kubeconfig, leader_key=leader)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)

            # In the tab: the leader, then b, goes back to the browser.
            await pilot.press(leader, "b")
            assert app.current_mode == "browser"
            # In the browser: the leader, then n, comes back to the tab.
            await pilot.press(leader)
            assert isinstance(app.screen, LeaderScreen)
            await pilot.press("n")
            assert app.current_mode == app.tabs[0].mode


class TestLeaderKeyTypedFast:
    """The key typed right after the leader is always the tab command, anywhere."""

    @pytest.mark.parametrize("key", ["shift+tab", "tab", "left", "right"])
    async def test_leader_bursts_in_the_browser_switch_tabs_and_never_crash(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path, key: str
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            await pilot.press(LEADER, "b")
            assert isinstance(app.screen, PodsScreen)
            modes = ["browser", app.tabs[0].mode]

            # Five bursts of the leader and the key: each one switches the tab.
            for burst in range(1, 6):
                await type_fast(app, LEADER, key, pace=None)
                await wait_until(
                    pilot,
                    lambda burst=burst: (
                        app.current_mode == modes[burst % 2]
                        and not isinstance(app.screen, LeaderScreen)
                    ),
                    what=f"the tab of burst {burst}",
                )
            # The leader's pop-up has gone, and the browser keeps its views.
            await pilot.press(LEADER, "n")
            assert app.current_mode == "browser"
            assert isinstance(app.screen, PodsScreen)
            assert len(app.screen_stack) == 3
            assert app.return_code is None

    async def test_keys_after_the_chosen_command_go_on_to_the_screen_it_shows(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            await pilot.press(LEADER, "b")

            # The leader, p (previous: the tab) and "ls", all in one burst.
            await type_fast(app, LEADER, "p", "ls", pace=None)
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, DebugScreen)
                    and bytes(app.screen._early_input) == b"ls"
                ),
                what="the keys after the command in the tab",
            )
            assert len(app.get_screen_stack("browser")) == 3


class TestLogFile:
    """The backend's sentences about sessions reach the log file, without -v."""

    async def test_a_sessions_start_and_failure_are_logged_as_sentences(
        self, fixed_app: AppFactory, tmp_path: Path
    ) -> None:
        root = logging.getLogger()
        level = root.level
        # Without -v the command line leaves the root logger at WARNING.
        root.setLevel(logging.WARNING)
        try:
            with logging_to_file():
                app = fixed_app()
                async with app.run_test(size=SIZE) as pilot:
                    # d on web, whose API server refuses; a key goes to the tab.
                    await open_web_tab(pilot)
                    await pilot.press("s")
                    await wait_until(
                        pilot,
                        lambda: isinstance(app.screen, ErrorScreen),
                        what="the error",
                    )
            assert root.level == logging.WARNING
        finally:
            root.setLevel(level)

        lines = (tmp_path / "kdebug-tui.log").read_text(encoding="utf-8").splitlines()
        said = [line.split(" ", 2)[2] for line in lines]
        target = f"[shop/{WEB}/nginx]"
        assert (
            f"INFO kdebug_tui.backend.session: {target} Opening a debug session "
            "with image docker.io/nicolaka/netshoot:v0.13." in said
        )
        assert any(
            line.startswith(
                f"INFO kdebug_tui.backend.session: {target} The debug session "
                "could not start: "
            )
            for line in said
        )
        # Whole sentences, each its own line.
        assert all(line.endswith(".") for line in said if " kdebug_tui." in f" {line}")


class TestQuitting:
    """Quitting with live sessions asks first, then ends every one of them."""

    async def test_the_question_counts_the_sessions_in_good_english(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            await pilot.press(LEADER, "b")

            # One session: its container and its agent pod.
            await pilot.press("ctrl+c")
            question = app.screen
            assert isinstance(question, ConfirmScreen)
            assert question.message == (
                "1 debug session will end, and its debug container and agent pod "
                "will be removed."
            )
            # Two sessions: theirs.
            await pilot.press("n", "k", "k", "d")
            await wait_until(pilot, lambda: len(app.tabs) == 2, what="two tabs")
            await pilot.press(LEADER, "q")
            question = app.screen
            assert isinstance(question, ConfirmScreen)
            assert question.message == (
                "2 debug sessions will end, and their debug containers and agent "
                "pods will be removed."
            )

    async def test_quit_asks_while_sessions_live_and_ends_them_on_yes(
        self, fixed_app: AppFactory, stalled_kubeconfig: Path
    ) -> None:
        app = fixed_app(stalled_kubeconfig)
        async with app.run_test(size=SIZE) as pilot:
            await open_web_tab(pilot)
            await pilot.press(LEADER, "b")

            # ctrl+c in the browser asks; n stays.
            await pilot.press("ctrl+c")
            assert isinstance(app.screen, ConfirmScreen)
            assert "1 debug session will end" in screen_text(app)
            await pilot.press("n")
            assert isinstance(app.screen, PodsScreen)
            assert app.return_code is None

            # Leader q from the browser asks too; y quits after ending the session.
            await pilot.press(LEADER, "q", "y")
            await wait_until(pilot, lambda: app.return_code == 0, what="the exit")
            assert app.shut_down_cleanly
            assert app.tabs[0].state is SessionState.EXITED
