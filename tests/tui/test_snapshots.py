"""What the screens look like, as SVG snapshots; the state is checked before each.

Update them with `pytest tests/tui/test_snapshots.py --snapshot-update` after a
deliberate change, and look at the new SVGs before committing them.
"""

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from kdebug_tui.backend.session import SessionState
from kdebug_tui.screens.debug import DebugScreen
from kdebug_tui.screens.error import ErrorScreen
from kdebug_tui.screens.launch import LaunchScreen
from kdebug_tui.screens.pod import PodScreen
from kdebug_tui.widgets.progress_log import ProgressLog
from tests.tui.conftest import AppFactory
from tests.tui.fixed_cluster import FrozenClock
from tests.tui.pilot_helpers import (
    screen_text,
    table_keys,
    wait_for_pods,
    wait_for_rows,
    wait_until,
)

pytestmark = pytest.mark.tui

SIZE = (100, 28)
RECORDING = Path(__file__).parent / "captured" / "debug_shell.bin"
LEADER = "ctrl+right_square_bracket"

# The stages the backend and the agent report for a cold start, with the seconds
# each took on the e2e cluster, rounded.
COLD_START = [
    ("open", "Debugging kdebug-demo/web/web.", 0.0),
    ("target", "Reading pod kdebug-demo/web.", 0.05),
    ("agent", "Starting an agent pod on node kdebug-node.", 0.11),
    (
        "agent-created",
        "Created agent pod default/kdebug-agent-kdebug-node-4f2a1c.",
        0.02,
    ),
    ("agent-scheduled", "Agent pod scheduled on kdebug-node.", 0.35),
    ("agent-image", "Agent image present on the node.", 0.9),
    ("agent-started", "Agent started.", 1.21),
    ("agent-ready", "Agent ready.", 0.4),
    ("connect", "Connecting to agent pod kdebug-agent-kdebug-node-4f2a1c.", 0.18),
    ("agent-session", "Preparing the debug container.", 0.02),
    ("image", "Pulling the image docker.io/nicolaka/netshoot:v0.13.", 2.5),
]


class ProgressApp(App[None]):
    """The launch stages alone, as a debug tab shows them over its terminal."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        """Only the progress log."""
        yield ProgressLog(clock=self.clock.monotonic)


class TestBrowserSnapshots:
    """The pods of a namespace, and one pod with its containers and events."""

    def test_the_pods_view(self, fixed_app: AppFactory, snap_compare: object) -> None:
        app = fixed_app()

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            # Highlight the crashing pod.
            await pilot.press("G")
            assert len(table_keys(app)) == 5

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]

    def test_the_pod_view(self, fixed_app: AppFactory, snap_compare: object) -> None:
        app = fixed_app()

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            # Open the api pod, two containers and a warning.
            await pilot.press("g", "enter")
            await wait_for_rows(pilot, "#events")
            assert isinstance(app.screen, PodScreen)
            assert table_keys(app, "#containers") == ["api", "envoy"]

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]

    def test_the_filter_prompt(
        self, fixed_app: AppFactory, snap_compare: object
    ) -> None:
        app = fixed_app()

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            # Filter on "r", then "u": the running pods.
            await pilot.press("slash", "r", "u")
            assert table_keys(app) == [
                "shop/api-5c8b7f-9qz4t",
                "shop/db-0",
                "shop/web-7d4f9c6b5-x2k8p",
            ]

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


class TestLaunchDialogSnapshot:
    """The launch dialog over the pods."""

    def test_the_launch_dialog(
        self, fixed_app: AppFactory, snap_compare: object
    ) -> None:
        app = fixed_app(namespaces="pid,net,ipc")

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            # D on db-0: two containers, postgres by default.
            await pilot.press("g", "j", "D")
            assert isinstance(app.screen, LaunchScreen)
            assert app.screen.request().container == "postgres"

        assert snap_compare(app, terminal_size=(100, 34), run_before=run_before)  # type: ignore[operator]

    def test_the_launch_dialog_in_an_80_by_24_terminal(
        self, fixed_app: AppFactory, snap_compare: object
    ) -> None:
        app = fixed_app(namespaces="pid,net,ipc")

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            # D on web; the whole form and its buttons show.
            await pilot.press("g", "j", "j", "j", "D")
            assert isinstance(app.screen, LaunchScreen)
            assert app.screen.query_one("#launch-dialog").max_scroll_y == 0

        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)  # type: ignore[operator]


class TestProgressSnapshot:
    """The stages of a cold start, each with its time, the last in progress."""

    def test_the_progress_view(self, snap_compare: object) -> None:
        clock = FrozenClock()
        app = ProgressApp(clock)

        async def run_before(pilot: Pilot[object]) -> None:
            log = app.query_one(ProgressLog)
            for stage, message, seconds in COLD_START:
                log.report(stage, message)
                clock.seconds += seconds
            await pilot.pause()
            assert len(log.stages) == len(COLD_START)
            assert log.stages[-1].ended is None
            assert not log.failed

        assert snap_compare(app, terminal_size=(90, 18), run_before=run_before)  # type: ignore[operator]


class TestErrorSnapshot:
    """A launch that failed: the cause and what to do, over the tab's stages."""

    def test_the_error_view(self, fixed_app: AppFactory, snap_compare: object) -> None:
        app = fixed_app()

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            # d on web-7d4f9c6b5-x2k8p, whose API server is down.
            await pilot.press("g", "j", "j", "j", "d")
            await wait_until(
                pilot, lambda: isinstance(app.screen, ErrorScreen), what="the error"
            )
            assert app.tabs[0].state is SessionState.FAILED
            assert "Traceback" not in screen_text(app)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


class TestDebugTabSnapshot:
    """A running debug tab, with a recorded shell session replayed into it."""

    def test_a_debug_tab(
        self,
        fixed_app: AppFactory,
        briefly_stalled_kubeconfig: Path,
        snap_compare: object,
    ) -> None:
        app = fixed_app(briefly_stalled_kubeconfig)

        async def run_before(pilot: Pilot[object]) -> None:
            await wait_for_pods(pilot)
            await pilot.press("g", "j", "j", "j", "d")
            await wait_until(
                pilot, lambda: isinstance(app.screen, DebugScreen), what="the tab"
            )
            screen = app.screen
            assert isinstance(screen, DebugScreen)
            # The recording stands in for the agent, whose API server never answers.
            await screen.view.feed(RECORDING.read_bytes())
            await screen.view.drain()
            screen.mark_running()
            await pilot.pause()
            assert screen.view.size_in_cells == (100, 26)
            assert app.tabs[0].title == "root@web: target"
            assert app.tabs[0].state is SessionState.RUNNING
            assert "26 100" in screen_text(app)

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]
