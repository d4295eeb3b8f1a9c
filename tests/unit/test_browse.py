"""Reading pods, events and namespaces as the browser shows them; folding watches."""

import datetime
from typing import Any

import pytest

from kdebug_tui.backend.browse import Changed, Interrupted, Listed, Removed, Store
from kdebug_tui.backend.resources import (
    ContainerKind,
    NamespaceInfo,
    event_from_json,
    format_age,
    namespace_from_json,
    pod_from_json,
)
from kdebug_tui.commands import Command, CommandError, parse_command
from kdebug_tui.widgets.resource_table import compile_filter

T0 = "2026-05-04T10:00:00Z"


def running(name: str, *, ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "started": True,
        "state": {"running": {"startedAt": T0}},
    }


def waiting(name: str, reason: str, *, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason}},
    }


def terminated(name: str, *, exit_code: int, reason: str = "") -> dict[str, Any]:
    done: dict[str, Any] = {"exitCode": exit_code, "finishedAt": T0}
    if reason:
        done["reason"] = reason
    return {
        "name": name,
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": done},
    }


def pod(
    containers: list[dict[str, Any]],
    *,
    init: list[dict[str, Any]] = (),  # type: ignore[assignment]
    sidecars: tuple[str, ...] = (),
    phase: str = "Running",
    deleting: bool = False,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "web",
        "namespace": "shop",
        "creationTimestamp": T0,
        "annotations": annotations or {},
    }
    if deleting:
        meta["deletionTimestamp"] = T0
    return {
        "metadata": meta,
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": c["name"], "image": "img"} for c in containers],
            "initContainers": [
                {"name": c["name"], "image": "img"}
                | ({"restartPolicy": "Always"} if c["name"] in sidecars else {})
                for c in init
            ],
        },
        "status": {
            "phase": phase,
            "podIP": "10.0.0.9",
            "containerStatuses": containers,
            "initContainerStatuses": list(init),
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


class TestPodStatus:
    """The STATUS column says what kubectl says."""

    def test_a_running_pod_is_running_with_its_ready_count(self) -> None:
        info = pod_from_json(pod([running("app"), running("proxy", ready=False)]))
        assert (info.status, info.ready, info.node, info.ip) == (
            "Running",
            "1/2",
            "node-a",
            "10.0.0.9",
        )

    def test_a_waiting_container_gives_its_reason(self) -> None:
        info = pod_from_json(pod([waiting("app", "CrashLoopBackOff", restarts=7)]))
        assert (info.status, info.restarts) == ("CrashLoopBackOff", 7)

    def test_a_container_that_ended_without_a_reason_gives_its_exit_code(self) -> None:
        info = pod_from_json(pod([terminated("app", exit_code=3)], phase="Failed"))
        assert info.status == "ExitCode:3"

    def test_a_finished_pod_is_completed(self) -> None:
        done = terminated("job", exit_code=0, reason="Completed")
        assert pod_from_json(pod([done], phase="Succeeded")).status == "Completed"

    def test_an_unfinished_init_container_shows_the_init_progress(self) -> None:
        first = terminated("migrate", exit_code=0, reason="Completed")
        second = running("seed")
        info = pod_from_json(
            pod(
                [waiting("app", "PodInitializing")],
                init=[first, second],
                phase="Pending",
            )
        )
        assert info.status == "Init:1/2"

    def test_a_failing_init_container_gives_its_reason(self) -> None:
        failing = waiting("migrate", "CrashLoopBackOff")
        info = pod_from_json(pod([waiting("app", "PodInitializing")], init=[failing]))
        assert info.status == "Init:CrashLoopBackOff"

    def test_a_running_native_sidecar_does_not_hold_the_pod_in_init(self) -> None:
        info = pod_from_json(
            pod([running("app")], init=[running("proxy")], sidecars=("proxy",))
        )
        assert (info.status, info.ready) == ("Running", "2/2")
        kinds = {c.name: c.kind for c in info.containers}
        assert kinds == {"proxy": ContainerKind.SIDECAR, "app": ContainerKind.REGULAR}

    def test_a_pod_being_deleted_is_terminating(self) -> None:
        assert (
            pod_from_json(pod([running("app")], deleting=True)).status == "Terminating"
        )


class TestPodContainers:
    """Each container with its state; only running ones can be debugged."""

    def test_states_reasons_and_exit_codes_are_kept(self) -> None:
        info = pod_from_json(
            pod(
                [
                    running("app"),
                    waiting("worker", "ImagePullBackOff"),
                    terminated("once", exit_code=1, reason="Error"),
                ]
            )
        )
        states = [(c.name, c.state_text, c.debuggable) for c in info.containers]
        assert states == [
            ("app", "running", True),
            ("worker", "waiting: ImagePullBackOff", False),
            ("once", "terminated: Error (exit code 1)", False),
        ]

    def test_the_default_container_is_the_annotated_or_the_only_one(self) -> None:
        annotated = pod(
            [running("app"), running("proxy")],
            annotations={"kubectl.kubernetes.io/default-container": "proxy"},
        )
        assert pod_from_json(annotated).default_container == "proxy"
        assert pod_from_json(pod([running("app")])).default_container == "app"
        assert pod_from_json(pod([running("a"), running("b")])).default_container == ""

    def test_a_running_native_sidecar_leaves_no_default_container(self) -> None:
        sidecar = pod([running("app")], init=[running("proxy")], sidecars=("proxy",))
        assert pod_from_json(sidecar).default_container == ""

    def test_a_sidecar_that_is_not_running_leaves_the_only_container(self) -> None:
        stopped = pod(
            [running("app")],
            init=[waiting("proxy", "CrashLoopBackOff")],
            sidecars=("proxy",),
        )
        assert pod_from_json(stopped).default_container == "app"


class TestEventsAndNamespaces:
    """Events and namespaces keep what the tables show."""

    def test_an_event_takes_its_newest_time_and_its_count(self) -> None:
        event = event_from_json(
            {
                "metadata": {"uid": "u1", "creationTimestamp": T0},
                "type": "Warning",
                "reason": "BackOff",
                "message": "Back-off\n restarting",
                "count": 4,
                "firstTimestamp": T0,
                "lastTimestamp": "2026-05-04T10:05:00Z",
                "source": {"component": "kubelet"},
            }
        )
        assert (event.key, event.count, event.source) == ("u1", 4, "kubelet")
        assert event.message == "Back-off restarting"
        assert event.last_seen == datetime.datetime(
            2026, 5, 4, 10, 5, tzinfo=datetime.UTC
        )

    def test_a_namespace_keeps_its_phase(self) -> None:
        namespace = namespace_from_json(
            {"metadata": {"name": "old"}, "status": {"phase": "Terminating"}}
        )
        assert (namespace.name, namespace.status) == ("old", "Terminating")


class TestAges:
    """Ages read as kubectl prints them."""

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (0, "0s"),
            (119, "119s"),
            (192, "3m12s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600 + 60, "8h"),
            (3 * 86400 + 3600, "3d1h"),
            (40 * 86400, "40d"),
            (800 * 86400, "2y70d"),
            (9 * 365 * 86400, "9y"),
        ],
    )
    def test_the_precision_drops_as_the_age_grows(
        self, seconds: int, text: str
    ) -> None:
        now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
        assert format_age(now - datetime.timedelta(seconds=seconds), now) == text

    def test_an_unknown_time_says_so(self) -> None:
        now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
        assert format_age(None, now) == "<unknown>"


class TestStore:
    """A store folds watch events into the objects a table is drawn from."""

    def test_listings_replace_changes_update_and_removals_delete(self) -> None:
        store: Store[NamespaceInfo] = Store()
        a, b = NamespaceInfo("a", "Active"), NamespaceInfo("b", "Active")
        store.apply(Listed((a, b)))
        store.apply(Changed(NamespaceInfo("a", "Terminating")))
        store.apply(Removed(b))
        assert store.items == {"a": NamespaceInfo("a", "Terminating")}
        assert store.listed

    def test_an_interruption_is_kept_until_the_next_listing(self) -> None:
        store: Store[NamespaceInfo] = Store()
        store.apply(Interrupted("The API server could not be reached.", 2.0))
        assert store.interruption is not None
        store.apply(Listed(()))
        assert store.interruption is None


class TestFilterAndCommands:
    """Filter text and command lines are read as k9s users type them."""

    def test_a_filter_is_a_case_insensitive_regex_or_a_plain_string(self) -> None:
        pattern, inverted = compile_filter("WEB|api")
        assert pattern is not None and not inverted
        assert pattern.search("web-1") and pattern.search("api-2")
        literal, _ = compile_filter("web(")
        assert literal is not None and literal.search("my-web(1)")
        _, inverted = compile_filter("!Running")
        assert inverted
        assert compile_filter("  ") == (None, False)

    def test_commands_and_aliases_parse_to_their_canonical_names(self) -> None:
        assert parse_command(":ns kube-system") == Command("ns", "kube-system")
        assert parse_command("po all") == Command("pods", "all")
        assert parse_command("context") == Command("ctx")
        assert parse_command("q!") == Command("quit")

    def test_unknown_commands_and_extra_arguments_are_refused(self) -> None:
        with pytest.raises(CommandError, match="no command `deploy`"):
            parse_command("deploy")
        with pytest.raises(CommandError, match="Usage: `:ns"):
            parse_command("ns a b")
        with pytest.raises(CommandError, match="Usage: `:quit`"):
            parse_command("q now")
