"""The app against the real cluster, through its pilot: live pods and real shells."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from cluster.workloads import DEMO_NAMESPACE
from kdebug_tui.app import CONNECTION_BACK, CONNECTION_LOST, KdebugApp, create_app
from kdebug_tui.backend.session import SessionState
from kdebug_tui.backend.settings import Settings
from kdebug_tui.screens.debug import DebugScreen
from kdebug_tui.screens.error import ErrorScreen
from kdebug_tui.screens.pod import PodScreen
from kdebug_tui.screens.pods import PodsScreen
from tests.fixtures.cluster import KubernetesCluster
from tests.tui.api_proxy import api_server_proxy
from tests.tui.pilot_helpers import (
    notices,
    screen_text,
    table_keys,
    wait_for_pods,
    wait_for_rows,
    wait_until,
)
from tests.tui.private_namespace import PrivateNamespace, private_namespace

pytestmark = [pytest.mark.tui, pytest.mark.e2e]

SIZE = (110, 30)
LEADER = "ctrl+right_square_bracket"
SESSION_SECONDS = 120.0


@pytest.fixture
def namespace(kubernetes_cluster: KubernetesCluster) -> Iterator[PrivateNamespace]:
    """The test's own targets and agent pods."""
    yield from private_namespace(kubernetes_cluster, "pilot")


@pytest.fixture
def cluster_app(
    kubernetes_cluster: KubernetesCluster,
    namespace: PrivateNamespace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[KdebugApp]:
    """The app as the cluster's least-privileged user runs it, on its namespace."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    settings = Settings(
        kubeconfig=str(kubernetes_cluster.user_kubeconfig),
        namespace=namespace.name,
        image=kubernetes_cluster.images.tools,
        pull_policy="Never",
        runtime_socket=str(kubernetes_cluster.containerd_socket),
        agent_namespace=namespace.name,
    )
    # The namespace fixture checks that the app left nothing behind.
    yield create_app(settings)


async def wait_long(pilot: Pilot[object], condition: Any, *, what: str) -> None:
    """Wait for something a real session does (an agent pod may have to start)."""
    import tests.tui.pilot_helpers as helpers

    saved = helpers.WAIT_SECONDS
    helpers.WAIT_SECONDS = SESSION_SECONDS
    try:
        await wait_until(pilot, condition, what=what)
    finally:
        helpers.WAIT_SECONDS = saved


async def open_shell(pilot: Pilot[object], app: KdebugApp, pod: str) -> None:
    """Open a debug tab on `pod` from the pods list and wait until its shell runs."""
    await wait_for_pods(pilot)
    highlight(app, pod)
    await pilot.press("d")
    await wait_long(
        pilot,
        lambda: bool(app.tabs) and app.tabs[0].state is SessionState.RUNNING,
        what="the shell to run",
    )


def highlight(app: KdebugApp, key: str) -> None:
    """Put the cursor of the pods table on a pod."""
    from kdebug_tui.widgets.resource_table import ResourceTable

    assert app.screen.query_one(ResourceTable).move_to(key)


class TestBrowsingTheCluster:
    """The browser shows the cluster's pods and follows their changes."""

    async def test_the_pods_and_a_pods_containers_are_shown(
        self, cluster_app: KdebugApp, namespace: PrivateNamespace
    ) -> None:
        app = cluster_app
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            assert table_keys(app) == [
                f"{namespace.name}/web",
                f"{namespace.name}/worker",
            ]

            # The samples, where multi has three containers.
            await pilot.press("colon", *f"ns {DEMO_NAMESPACE}", "enter")
            await wait_until(
                pilot,
                lambda: f"{DEMO_NAMESPACE}/multi" in table_keys(app),
                what="the samples",
            )
            highlight(app, f"{DEMO_NAMESPACE}/multi")
            await pilot.press("enter")
            await wait_for_rows(pilot, "#containers")
            assert isinstance(app.screen, PodScreen)
            assert table_keys(app, "#containers") == ["app", "sidecar", "metrics"]

    async def test_a_pod_created_and_deleted_meanwhile_comes_and_goes(
        self,
        cluster_app: KdebugApp,
        namespace: PrivateNamespace,
        kubernetes_cluster: KubernetesCluster,
    ) -> None:
        app = cluster_app
        name = f"tui-{uuid.uuid4().hex[:6]}"
        key = f"{namespace.name}/{name}"
        core = namespace.admin.core
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_pods(pilot)
            pods = app.screen
            assert isinstance(pods, PodsScreen)

            # A pod appears, and turns Running, while the list is on screen.
            core.create_namespaced_pod(namespace.name, _pod(name, kubernetes_cluster))
            await wait_long(
                pilot,
                lambda: key in table_keys(app) and pods.pods[key].status == "Running",
                what="the new pod, running",
            )
            # It goes when deleted.
            core.delete_namespaced_pod(name, namespace.name, grace_period_seconds=0)
            await wait_long(pilot, lambda: key not in table_keys(app), what="it to go")


class TestDebuggingInATab:
    """`d` opens a real debug shell in a tab; keys, size and exit pass through."""

    async def test_a_shell_in_a_tab_runs_commands_and_exits(
        self, cluster_app: KdebugApp, namespace: PrivateNamespace
    ) -> None:
        app = cluster_app
        async with app.run_test(size=SIZE) as pilot:
            await open_shell(pilot, app, f"{namespace.name}/web")
            screen = app.screen
            assert isinstance(screen, DebugScreen)

            # The target's processes, seen from the debug container.
            await pilot.press(*"ps -o pid,comm", "enter")
            await wait_long(pilot, lambda: "httpd" in screen_text(app), what="ps")
            # The terminal's size is the tab's.
            columns, lines = screen.view.size_in_cells
            await pilot.press(*"stty size", "enter")
            await wait_long(
                pilot, lambda: f"{lines} {columns}" in screen_text(app), what="size"
            )
            # ctrl+c reaches the shell: a long sleep ends at once.
            await pilot.press(*"sleep 300", "enter", "ctrl+c")
            await pilot.press(*"echo after-$((40+2))", "enter")
            await wait_long(pilot, lambda: "after-42" in screen_text(app), what="42")

            # exit 3 ends the session; the tab says how.
            await pilot.press(*"exit 3", "enter")
            await wait_long(
                pilot,
                lambda: app.tabs[0].state is SessionState.EXITED,
                what="the shell to exit",
            )
            assert app.tabs[0].exit_code == 3
            assert "exited with code 3" in screen_text(app)

            # Closing the ended tab needs no confirmation.
            await pilot.press(LEADER, "x")
            await wait_until(pilot, lambda: not app.tabs, what="the tab to close")

    async def test_a_tab_whose_target_stops_says_so(
        self, cluster_app: KdebugApp, namespace: PrivateNamespace
    ) -> None:
        app = cluster_app
        async with app.run_test(size=SIZE) as pilot:
            await open_shell(pilot, app, f"{namespace.name}/worker")
            namespace.admin.core.delete_namespaced_pod("worker", namespace.name)
            await wait_long(
                pilot,
                lambda: app.tabs[0].state is SessionState.EXITED,
                what="the session to end with its target",
            )
            assert app.tabs[0].exit_code == 137
            assert "target stopped (code 137)" in screen_text(app)

    async def test_a_shell_whose_agent_stops_keeps_its_output_and_says_why(
        self, cluster_app: KdebugApp, namespace: PrivateNamespace
    ) -> None:
        app = cluster_app
        async with app.run_test(size=SIZE) as pilot:
            await open_shell(pilot, app, f"{namespace.name}/web")
            await pilot.press(*"echo seen-$((6*7))", "enter")
            await wait_long(pilot, lambda: "seen-42" in screen_text(app), what="echo")
            agents = namespace.admin.core.list_namespaced_pod(
                namespace.name, label_selector="app.kubernetes.io/managed-by=kdebug-tui"
            )
            for agent in agents.items:
                namespace.admin.core.delete_namespaced_pod(
                    agent.metadata.name, namespace.name
                )
            await wait_long(
                pilot, lambda: isinstance(app.screen, ErrorScreen), what="the error"
            )
            error = app.screen
            assert isinstance(error, ErrorScreen)
            assert error.message == "The agent is shutting down."
            assert app.tabs[0].state is SessionState.FAILED
            await pilot.press("escape")
            # The shell's output is still there, and the sentence below it.
            await wait_until(
                pilot,
                lambda: "kdebug-tui: The agent is shutting down" in screen_text(app),
                what="the sentence in the terminal",
            )
            text = screen_text(app)
            assert "seen-42" in text
            assert text.index("seen-42") < text.index("kdebug-tui: The agent")

    async def test_a_missing_debug_image_is_explained(
        self, cluster_app: KdebugApp, namespace: PrivateNamespace
    ) -> None:
        app = cluster_app
        async with app.run_test(size=(110, 40)) as pilot:
            await wait_for_pods(pilot)
            highlight(app, f"{namespace.name}/web")
            # D, another image that is nowhere, launch (pull policy is Never).
            await pilot.press("D")
            await pilot.press("ctrl+u", *"example.invalid/absent:1", "enter")
            await wait_long(
                pilot, lambda: isinstance(app.screen, ErrorScreen), what="the error"
            )
            error = app.screen
            assert isinstance(error, ErrorScreen)
            assert "example.invalid/absent:1" in error.message
            assert "pull policy Never needs it there already" in error.hint
            assert app.tabs[0].state is SessionState.FAILED
            await pilot.press("escape", LEADER, "x")
            await wait_until(pilot, lambda: not app.tabs, what="the tab to close")

    async def test_quitting_ends_the_sessions_and_removes_the_agent_pod(
        self, cluster_app: KdebugApp, namespace: PrivateNamespace
    ) -> None:
        app = cluster_app
        async with app.run_test(size=SIZE) as pilot:
            await open_shell(pilot, app, f"{namespace.name}/web")

            await pilot.press(LEADER, "q", "y")
            await wait_long(pilot, lambda: app.return_code == 0, what="the exit")
            assert app.shut_down_cleanly


class TestLosingTheApiServer:
    """When the API server goes away and comes back, the browser says so plainly."""

    async def test_the_loss_and_the_return_are_each_one_sentence(
        self,
        kubernetes_cluster: KubernetesCluster,
        namespace: PrivateNamespace,
        tmp_path: Path,
    ) -> None:
        with api_server_proxy(kubernetes_cluster.user_kubeconfig) as proxy:
            kubeconfig = proxy.kubeconfig(
                kubernetes_cluster.user_kubeconfig, tmp_path / "proxied.kubeconfig"
            )
            app = create_app(
                Settings(
                    kubeconfig=str(kubeconfig),
                    namespace=namespace.name,
                    agent_namespace=namespace.name,
                )
            )
            async with app.run_test(size=SIZE) as pilot:
                await wait_for_pods(pilot)

                # The API server goes: the watch breaks, reconnecting is refused.
                proxy.cut()
                await wait_long(
                    pilot,
                    lambda: "⚠ reconnecting…" in screen_text(app),
                    what="the ⚠ in the crumbs",
                )
                assert notices(app) == [CONNECTION_LOST]
                assert "HTTPSConnectionPool" not in screen_text(app)
                # What was listed stays.
                assert f"{namespace.name}/web" in table_keys(app)

                # It comes back.
                proxy.restore()
                await wait_long(
                    pilot,
                    lambda: notices(app) == [CONNECTION_LOST, CONNECTION_BACK],
                    what="the notice that it is back",
                )
                await wait_until(
                    pilot, lambda: "⚠" not in screen_text(app), what="the ⚠ to go"
                )


def _pod(name: str, cluster: KubernetesCluster) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "idle",
                    "image": cluster.images.shell,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
                }
            ],
        },
    }
