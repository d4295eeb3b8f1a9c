"""The browser: drilling in and out, k9s keys, the live filter, `:` commands, help."""

import datetime
import gc
from pathlib import Path

import pytest
from textual import events

from kdebug_tui.app import CONNECTION_BACK, CONNECTION_LOST, create_app
from kdebug_tui.backend.browse import Interrupted, Listed
from kdebug_tui.backend.resources import PodInfo
from kdebug_tui.backend.settings import load_settings
from kdebug_tui.screens.browser_screen import COLLECTOR_THRESHOLDS, FREEZE_AFTER
from kdebug_tui.screens.contexts import ContextsScreen
from kdebug_tui.screens.help import HelpScreen
from kdebug_tui.screens.namespaces import NamespacesScreen
from kdebug_tui.screens.pod import PodScreen
from kdebug_tui.screens.pods import PodsScreen
from kdebug_tui.widgets.prompt_bar import PromptBar
from kdebug_tui.widgets.resource_table import ResourceTable
from tests.tui.conftest import AppFactory
from tests.tui.fixed_cluster import (
    NOW,
    PODS,
    FixedBrowser,
    FrozenClock,
    ScriptedWatch,
    ago,
)
from tests.tui.pilot_helpers import (
    PACES,
    notices,
    screen_text,
    table_keys,
    type_fast,
    wait_for_pods,
    wait_for_rows,
    wait_until,
)

pytestmark = pytest.mark.tui

SIZE = (120, 30)
SHOP_PODS = [
    "shop/api-5c8b7f-9qz4t",
    "shop/db-0",
    "shop/migrate-28911-lx9",
    "shop/web-7d4f9c6b5-x2k8p",
    "shop/worker-6f9d8-crash",
]


def highlighted(app: object) -> str | None:
    """The key under the cursor of the current screen's focused table."""
    table = app.screen.focused  # type: ignore[attr-defined]
    assert isinstance(table, ResourceTable)
    return table.highlighted_key


class TestNavigation:
    """Enter drills from contexts to a pod, Esc climbs back, j/k and arrows move."""

    async def test_it_opens_on_the_pods_of_the_current_contexts_namespace(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            assert [type(s) for s in app.screen_stack] == [
                ContextsScreen,
                NamespacesScreen,
                PodsScreen,
            ]
            assert table_keys(app) == SHOP_PODS
            assert " dev ▸ shop ▸ pods (5)" in screen_text(app)
            assert "3 (42m ago)" in screen_text(app)

    async def test_j_k_and_the_arrows_move_the_cursor(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # Two down with j and an arrow, one up with k.
            await pilot.press("j", "down", "k")
            assert highlighted(app) == "shop/db-0"
            # G jumps to the last pod, g back to the first.
            await pilot.press("G")
            assert highlighted(app) == "shop/worker-6f9d8-crash"
            await pilot.press("g")
            assert highlighted(app) == "shop/api-5c8b7f-9qz4t"

    async def test_enter_shows_a_pods_containers_and_events_and_esc_goes_back(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # Drill into the crashing worker.
            await pilot.press("G", "enter")
            await wait_for_rows(pilot, "#events")
            assert isinstance(app.screen, PodScreen)
            assert table_keys(app, "#containers") == ["worker"]
            # The rows are in; the frame showing them may come a moment later.
            await wait_until(
                pilot,
                lambda: (
                    "waiting: CrashLoopBackOff" in screen_text(app)
                    and "Back-off restarting failed container" in screen_text(app)
                ),
                what="the container's state and the events on screen",
            )

            # Esc climbs back: the pods, the namespaces, the contexts.
            await pilot.press("escape")
            assert isinstance(app.screen, PodsScreen)
            assert highlighted(app) == "shop/worker-6f9d8-crash"
            await pilot.press("escape")
            assert isinstance(app.screen, NamespacesScreen)
            await wait_until(pilot, lambda: highlighted(app) == "shop", what="shop")
            await pilot.press("escape")
            assert isinstance(app.screen, ContextsScreen)
            await wait_for_rows(pilot)
            assert table_keys(app) == ["dev", "prod"]
            # The root stays put on another Esc.
            await pilot.press("escape")
            assert isinstance(app.screen, ContextsScreen)

    async def test_enter_on_a_namespace_and_on_all_lists_their_pods(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("escape")
            await wait_for_rows(pilot)

            # kube-system is the third row, after "all" and default.
            await pilot.press("g", "j", "j", "enter")
            await wait_for_rows(pilot)
            assert table_keys(app) == ["kube-system/coredns-6f6b679f8f-abcde"]

            # Back, then "all": every pod, with a namespace column.
            await pilot.press("escape", "g", "enter")
            await wait_for_rows(pilot)
            assert isinstance(app.screen, PodsScreen) and app.screen.namespace == ""
            assert len(table_keys(app)) == 6
            assert "NAMESPACE" in screen_text(app)
            assert "all namespaces ▸ pods (6)" in screen_text(app)

    async def test_enter_on_a_context_lists_its_namespaces(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("escape", "escape")
            await wait_for_rows(pilot)

            # The second context.
            await pilot.press("j", "enter")
            await wait_for_rows(pilot)
            assert isinstance(app.screen, NamespacesScreen)
            assert app.screen.context == "prod"
            assert app.active_context == "prod"


class TestStartNamespace:
    """The browser opens where kubectl would look: flag, environment, context."""

    @pytest.mark.parametrize(
        ("environ", "flags", "crumbs"),
        [
            ({}, {}, "dev ▸ shop ▸ pods (5)"),
            ({"KDEBUG_NAMESPACE": "kube-system"}, {}, "dev ▸ kube-system ▸ pods (1)"),
            (
                {"KDEBUG_NAMESPACE": "kube-system"},
                {"namespace": "shop"},
                "dev ▸ shop ▸ pods (5)",
            ),
            # prod names no namespace: kubectl's default, as kubectl does.
            ({"KDEBUG_CONTEXT": "prod"}, {}, "prod ▸ default ▸ pods (0)"),
            (
                {"KDEBUG_CONTEXT": "prod"},
                {"namespace": "kube-system"},
                "prod ▸ kube-system ▸ pods (1)",
            ),
        ],
    )
    async def test_the_flag_wins_then_the_environment_then_the_context(
        self,
        environ: dict[str, str],
        flags: dict[str, str],
        crumbs: str,
        refused_kubeconfig: Path,
        clock: FrozenClock,
        tmp_path: Path,
    ) -> None:
        settings = load_settings(
            path=tmp_path / "no-config.yaml",
            environ={"KDEBUG_KUBECONFIG": str(refused_kubeconfig), **environ},
            flags=flags,
        )
        app = create_app(
            settings, browser_factory=lambda kube: FixedBrowser(), clock=clock
        )
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: crumbs in screen_text(app), what=f"`{crumbs}`"
            )
            assert isinstance(app.screen, PodsScreen)


class TestFilter:
    """`/` filters the rows as you type; Esc clears the filter before going back."""

    async def test_each_key_typed_narrows_the_rows(self, fixed_app: AppFactory) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # Open the filter and type "w", then "e".
            await pilot.press("slash", "w")
            assert table_keys(app) == [
                "shop/web-7d4f9c6b5-x2k8p",
                "shop/worker-6f9d8-crash",
            ]
            await pilot.press("e")
            assert table_keys(app) == ["shop/web-7d4f9c6b5-x2k8p"]
            assert "/we" in screen_text(app)
            assert "pods (1/5)" in screen_text(app)
            # A filter that lets nothing through says so, not that there are no pods.
            await pilot.press("z")
            assert table_keys(app) == []
            assert "Nothing matches the filter wez." in screen_text(app)
            assert "No pods in" not in screen_text(app)

    async def test_keys_typed_in_one_burst_with_the_slash_reach_the_filter(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # "/web" and Enter arrive together, as from a fast typist or a paste.
            burst = [
                ("slash", "/"),
                ("w", "w"),
                ("e", "e"),
                ("b", "b"),
                ("enter", "\r"),
            ]
            for key, character in burst:
                app.post_message(events.Key(key, character))
            await wait_until(
                pilot,
                lambda: table_keys(app) == ["shop/web-7d4f9c6b5-x2k8p"],
                what="the filter to apply",
            )
            assert app.screen.query_one(ResourceTable).filter_text == "web"
            assert not app.screen.query_one(PromptBar).is_open

    async def test_enter_keeps_the_filter_and_esc_then_clears_it(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # Filter on the status column, keep it with Enter.
            await pilot.press("slash", *"crash", "enter")
            assert not app.screen.query_one(PromptBar).is_open
            assert isinstance(app.screen.focused, ResourceTable)
            assert table_keys(app) == ["shop/worker-6f9d8-crash"]

            # The first Esc clears the filter and stays; the second goes back.
            await pilot.press("escape")
            assert isinstance(app.screen, PodsScreen)
            assert table_keys(app) == SHOP_PODS
            await pilot.press("escape")
            assert isinstance(app.screen, NamespacesScreen)

    async def test_esc_in_the_prompt_drops_the_filter(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("slash", "d", "b", "escape")
            assert table_keys(app) == SHOP_PODS
            assert isinstance(app.screen, PodsScreen)

    async def test_a_leading_bang_inverts_and_a_regex_matches(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # Every pod not running.
            await pilot.press("slash", *"!Running")
            assert table_keys(app) == [
                "shop/migrate-28911-lx9",
                "shop/worker-6f9d8-crash",
            ]
            # A regular expression, anchored at a cell start.
            await pilot.press("ctrl+u", *"^(db|api)")
            assert table_keys(app) == ["shop/api-5c8b7f-9qz4t", "shop/db-0"]

    async def test_the_cursor_stays_on_its_pod_while_the_filter_changes(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            await pilot.press("G")

            await pilot.press("slash", "w", "enter")
            assert highlighted(app) == "shop/worker-6f9d8-crash"


class TestPromptTypedFast:
    """Every key typed after `/` or `:` goes to the prompt, in order, however fast."""

    @pytest.mark.parametrize("pace", PACES.values(), ids=PACES.keys())
    async def test_a_d_in_a_filter_typed_fast_is_typed_not_a_debug(
        self, fixed_app: AppFactory, pace: float | None
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            # Highlight web, the fourth pod.
            await pilot.press("g", "j", "j", "j")

            # "/sidecar" in one burst: its d and D are letters of the filter.
            await type_fast(app, "/sidecarDd", pace=pace)
            table = app.screen.query_one(ResourceTable)
            await wait_until(
                pilot, lambda: table.filter_text == "sidecarDd", what="the filter"
            )
            assert app.screen.query_one(PromptBar).value == "sidecarDd"
            assert app.tabs == []
            assert isinstance(app.screen, PodsScreen)

    @pytest.mark.parametrize("pace", PACES.values(), ids=PACES.keys())
    async def test_a_command_typed_fast_runs_as_typed(
        self, fixed_app: AppFactory, pace: float | None
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            # ":pods all" and Enter in one burst, right after the pods show.
            await type_fast(app, ":pods all", "enter", pace=pace)
            await wait_until(
                pilot,
                lambda: (
                    # The pods screen just pushed may not have composed its table.
                    bool(app.screen.query(ResourceTable)) and len(table_keys(app)) == 6
                ),
                what="six pods",
            )
            assert app.tabs == []
            assert notices(app) == []


class TestCommands:
    """`:` commands switch namespace, context and view, as in k9s."""

    async def test_ns_name_lists_that_namespaces_pods(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("colon", *"ns kube-system", "enter")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, PodsScreen)
                    and app.screen.namespace == "kube-system"
                ),
                what="the pods of kube-system",
            )
            await wait_for_rows(pilot)
            assert table_keys(app) == ["kube-system/coredns-6f6b679f8f-abcde"]
            # Esc goes to the namespaces with kube-system highlighted.
            await pilot.press("escape")
            await wait_until(
                pilot, lambda: highlighted(app) == "kube-system", what="kube-system"
            )

    async def test_ns_alone_lists_the_namespaces(self, fixed_app: AppFactory) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("colon", "n", "s", "enter")
            await wait_for_rows(pilot)
            assert isinstance(app.screen, NamespacesScreen)
            assert len(app.screen_stack) == 2

    async def test_pods_all_lists_every_namespaces_pods(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("colon", *"pods all", "enter")
            await wait_until(pilot, lambda: len(table_keys(app)) == 6, what="six pods")
            assert app.screen.namespace == ""  # type: ignore[attr-defined]

    async def test_ctx_name_opens_that_contexts_default_namespace(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("colon", *"ctx prod", "enter")
            await wait_until(
                pilot,
                lambda: (
                    isinstance(app.screen, PodsScreen) and app.screen.context == "prod"
                ),
                what="the pods of prod",
            )
            assert app.screen.namespace == "default"  # type: ignore[attr-defined]
            assert "prod ▸ default ▸ pods" in screen_text(app)

    async def test_unknown_commands_and_contexts_are_explained(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("colon", *"deploy", "enter")
            await pilot.press("colon", *"ctx staging", "enter")
            await wait_until(pilot, lambda: len(notices(app)) == 2, what="two notices")
            messages = notices(app)
            assert "There is no command `deploy`" in messages[0]
            assert (
                "There is no context staging; the contexts are dev, prod."
                in (messages[1])
            )
            assert isinstance(app.screen, PodsScreen)

    async def test_q_quits_when_no_session_is_open(self, fixed_app: AppFactory) -> None:
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("colon", "q", "enter")
            await wait_until(pilot, lambda: app.return_code == 0, what="the exit")
            assert app.shut_down_cleanly


class TestHelp:
    """`?` lists every key of the view, the commands and the tab commands."""

    async def test_help_lists_the_views_keys_commands_and_tab_keys(
        self, fixed_app: AppFactory
    ) -> None:
        app = fixed_app()
        async with app.run_test(size=(120, 60)) as pilot:
            await wait_for_pods(pilot)

            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            keys_of = {
                what: keys
                for section in app.screen.sections
                for keys, what in section.entries
            }
            assert keys_of["Up"] == "↑ k"
            assert keys_of["Down"] == "↓ j"
            assert keys_of["Last row"] == "end G"
            assert keys_of["Filter"] == "/"
            assert keys_of["Command"] == ":"
            assert keys_of["Debug"] == "d"
            assert keys_of["Debug with…"] == "D"
            assert keys_of["Back"] == "esc"
            assert keys_of["Open"] == "⏎"
            assert keys_of["Quit"] == "^c ^q"
            assert keys_of["Tab commands"] == "^]"
            assert keys_of["Next tab"] == "]"
            assert "Scroll Left" not in keys_of
            assert (
                keys_of["the namespaces of the context, or the pods of namespace NAME"]
                == ":ns [NAME|all]"
            )
            assert keys_of["close the tab, ending its session"] == "^] x"

            # Esc closes the help.
            await pilot.press("escape")
            assert isinstance(app.screen, PodsScreen)


class TestWatchInterruptions:
    """A lost API server is said in a sentence, once, and so is its return."""

    UNREACHABLE = Interrupted(
        "Cannot reach the Kubernetes API at https://127.0.0.1:6443: "
        "connection refused.",
        retry_in=2.0,
        unreachable=True,
    )

    async def test_a_lost_connection_and_its_return_are_each_said_once(
        self, fixed_app: AppFactory
    ) -> None:
        watch: ScriptedWatch[PodInfo] = ScriptedWatch()
        app = fixed_app(browser=FixedBrowser(pods_watch=watch))
        shop = tuple(p for p in PODS if p.namespace == "shop")
        async with app.run_test(size=SIZE) as pilot:
            watch.script.put(Listed(shop))
            await wait_for_pods(pilot)

            # The connection drops, and every retry fails for a while.
            for _ in range(3):
                watch.script.put(self.UNREACHABLE)
            await wait_until(
                pilot, lambda: "⚠ reconnecting…" in screen_text(app), what="the ⚠"
            )
            await pilot.pause(0.3)
            assert notices(app) == [CONNECTION_LOST]
            # The rows stay, as last seen.
            assert table_keys(app) == SHOP_PODS

            # The API server is back.
            watch.script.put(Listed(shop))
            await wait_until(
                pilot, lambda: len(notices(app)) == 2, what="the second notice"
            )
            assert notices(app) == [CONNECTION_LOST, CONNECTION_BACK]
            await wait_until(
                pilot, lambda: "⚠" not in screen_text(app), what="the ⚠ to go"
            )

    async def test_before_the_first_listing_the_table_says_why_it_is_empty(
        self, fixed_app: AppFactory
    ) -> None:
        watch: ScriptedWatch[PodInfo] = ScriptedWatch()
        app = fixed_app(browser=FixedBrowser(pods_watch=watch))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: isinstance(app.screen, PodsScreen), what="the pods"
            )

            # The API server is down from the start.
            watch.script.put(self.UNREACHABLE)
            await wait_until(
                pilot,
                lambda: "connection refused. Retrying in 2 s." in screen_text(app),
                what="the reason in the table",
            )
            assert notices(app) == []

            # It comes up.
            watch.script.put(Listed(tuple(p for p in PODS if p.namespace == "shop")))
            await wait_for_pods(pilot)
            await wait_until(
                pilot, lambda: notices(app) == [CONNECTION_BACK], what="the notice"
            )

    async def test_a_refusal_is_said_with_its_reason(
        self, fixed_app: AppFactory
    ) -> None:
        watch: ScriptedWatch[PodInfo] = ScriptedWatch()
        app = fixed_app(browser=FixedBrowser(pods_watch=watch))
        async with app.run_test(size=SIZE) as pilot:
            watch.script.put(Listed(()))
            await wait_until(
                pilot, lambda: "No pods in shop." in screen_text(app), what="no pods"
            )

            # The API server answers, with an error.
            reason = "The API server failed watching pods in shop (500): etcd down."
            watch.script.put(Interrupted(reason, retry_in=4.0))
            await wait_until(pilot, lambda: bool(notices(app)), what="a notice")
            assert notices(app) == [f"{reason} Retrying…"]
            await wait_until(
                pilot, lambda: "⚠ retrying…" in screen_text(app), what="the ⚠"
            )


def _many_pods(count: int) -> tuple[PodInfo, ...]:
    return tuple(
        PodInfo(
            namespace="shop",
            name=f"web-{index:05d}",
            ready="1/1",
            status="Running",
            created=ago(seconds=60),
            node="node-1",
        )
        for index in range(count)
    )


class TestAges:
    """Ages follow the clock; only the rows drawn are rebuilt for it."""

    async def test_the_ages_on_screen_move_on_with_the_clock(
        self, fixed_app: AppFactory, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An hour later, the restart shown 42 minutes ago says 102 minutes."""
        app = fixed_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            assert "3 (42m ago)" in screen_text(app)

            # An hour passes; the age timer's work is done at once.
            later = NOW + datetime.timedelta(hours=1)
            monkeypatch.setattr(clock, "now", lambda: later)
            app.screen.refresh_ages()  # type: ignore[attr-defined]
            await wait_until(
                pilot, lambda: "3 (102m ago)" in screen_text(app), what="new ages"
            )

    async def test_a_row_off_screen_gets_its_age_when_it_scrolls_into_view(
        self, fixed_app: AppFactory, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Rows below the screen are rebuilt as they are drawn, not before."""
        watch: ScriptedWatch[PodInfo] = ScriptedWatch()
        app = fixed_app(browser=FixedBrowser(pods_watch=watch))
        async with app.run_test(size=SIZE) as pilot:
            watch.script.put(Listed(_many_pods(200)))
            await wait_until(
                pilot, lambda: len(table_keys(app)) == 200, what="200 pods"
            )
            table = app.screen.query_one(ResourceTable)
            assert table.rows[0].cells[-2] == "60s"

            # An hour passes: the rows on screen say so.
            later = NOW + datetime.timedelta(hours=1)
            monkeypatch.setattr(clock, "now", lambda: later)
            app.screen.refresh_ages()  # type: ignore[attr-defined]
            await wait_until(
                pilot, lambda: table.rows[0].cells[-2] == "61m", what="new ages"
            )
            assert table.rows[-1].cells[-2] == "60s"

            # The last row is drawn once the cursor jumps to it.
            await pilot.press("G")
            await wait_until(
                pilot, lambda: table.rows[-1].cells[-2] == "61m", what="its age"
            )
            await wait_until(
                pilot, lambda: "web-00190" in screen_text(app), what="the last rows"
            )
            assert " 60s " not in screen_text(app)


class TestCollector:
    """A big listing is left out of the collector's later full collections."""

    async def test_thousands_of_pods_listed_are_frozen(
        self, fixed_app: AppFactory
    ) -> None:
        """After the table shows them, they are frozen and the thresholds raised."""
        watch: ScriptedWatch[PodInfo] = ScriptedWatch()
        app = fixed_app(browser=FixedBrowser(pods_watch=watch))
        frozen_before = gc.get_freeze_count()
        thresholds = gc.get_threshold()
        try:
            async with app.run_test(size=SIZE) as pilot:
                watch.script.put(Listed(_many_pods(FREEZE_AFTER)))
                await wait_until(
                    pilot,
                    lambda: gc.get_freeze_count() > frozen_before + FREEZE_AFTER,
                    what="a freeze",
                )
                assert len(table_keys(app)) == FREEZE_AFTER
                assert gc.get_threshold() >= COLLECTOR_THRESHOLDS
        finally:
            gc.unfreeze()
            gc.set_threshold(*thresholds)
