"""Picking the target container out of a pod, as the API server returns it."""

from typing import Any

import pytest
from kubernetes import client

from kdebug_tui.backend.errors import TargetError
from kdebug_tui.backend.targets import target_from_pod

RUNNING = client.V1ContainerState(running=client.V1ContainerStateRunning())


def _status(name: str, state: Any = RUNNING, ready: bool = False) -> Any:
    return client.V1ContainerStatus(
        name=name,
        state=state,
        ready=ready,
        restart_count=0,
        image="img",
        image_id="",
        container_id=f"containerd://{name}-id",
    )


def _pod(
    containers: list[str],
    *,
    statuses: list[Any] | None = None,
    init: list[str] = (),  # type: ignore[assignment]
    init_statuses: list[Any] | None = None,
    annotations: dict[str, str] | None = None,
    sidecars: bool = False,
) -> Any:
    restart_policy = "Always" if sidecars else None
    # Built with the client's models for brevity, read as the JSON they make.
    return client.ApiClient().sanitize_for_serialization(
        _model(
            containers,
            statuses=statuses,
            init=init,
            init_statuses=init_statuses,
            annotations=annotations,
            restart_policy=restart_policy,
        )
    )


def _model(
    containers: list[str],
    *,
    statuses: list[Any] | None,
    init: list[str],
    init_statuses: list[Any] | None,
    annotations: dict[str, str] | None,
    restart_policy: str | None,
) -> Any:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name="web", namespace="shop", annotations=annotations
        ),
        spec=client.V1PodSpec(
            node_name="node-1",
            containers=[client.V1Container(name=n) for n in containers],
            init_containers=[
                client.V1Container(name=n, restart_policy=restart_policy) for n in init
            ]
            or None,
            image_pull_secrets=[client.V1LocalObjectReference(name="regcred")],
        ),
        status=client.V1PodStatus(
            container_statuses=statuses
            if statuses is not None
            else [_status(n) for n in containers],
            init_container_statuses=init_statuses,
        ),
    )


def test_the_only_container_is_the_target_without_naming_it() -> None:
    target = target_from_pod(_pod(["app"]))
    assert (target.container, target.container_id, target.node) == (
        "app",
        "containerd://app-id",
        "node-1",
    )
    assert target.runtime == "containerd"
    assert target.pull_secrets == ("regcred",)


def test_the_default_container_annotation_picks_among_several() -> None:
    pod = _pod(
        ["app", "sidecar"],
        annotations={"kubectl.kubernetes.io/default-container": "sidecar"},
    )
    assert target_from_pod(pod).container == "sidecar"


def test_several_containers_without_a_hint_are_listed_in_the_error() -> None:
    with pytest.raises(TargetError) as caught:
        target_from_pod(_pod(["app", "sidecar"]))
    assert str(caught.value) == (
        "Pod shop/web has 2 containers to choose from: app, sidecar."
    )
    assert caught.value.hint == "Pass -c with the one to debug, such as -c app."


class TestARunningNativeSidecarMakesTheChoiceAmbiguous:
    def test_without_a_name_the_pod_is_refused_listing_both(self) -> None:
        pod = _pod(
            ["app"], init=["proxy"], init_statuses=[_status("proxy")], sidecars=True
        )
        with pytest.raises(TargetError) as caught:
            target_from_pod(pod)
        assert str(caught.value) == (
            "Pod shop/web has 2 containers to choose from: "
            "proxy (running sidecar), app."
        )
        assert "-c" in caught.value.hint

    def test_the_default_container_annotation_decides(self) -> None:
        pod = _pod(
            ["app"],
            init=["proxy"],
            init_statuses=[_status("proxy")],
            sidecars=True,
            annotations={"kubectl.kubernetes.io/default-container": "app"},
        )
        assert target_from_pod(pod).container == "app"

    def test_a_named_container_needs_no_annotation(self) -> None:
        pod = _pod(
            ["app"], init=["proxy"], init_statuses=[_status("proxy")], sidecars=True
        )
        assert target_from_pod(pod, container="app").container == "app"
        assert target_from_pod(pod, container="proxy").container == "proxy"

    def test_a_sidecar_that_is_not_running_leaves_no_choice(self) -> None:
        waiting = client.V1ContainerState(
            waiting=client.V1ContainerStateWaiting(reason="CrashLoopBackOff")
        )
        pod = _pod(
            ["app"],
            init=["proxy"],
            init_statuses=[_status("proxy", state=waiting)],
            sidecars=True,
        )
        assert target_from_pod(pod).container == "app"

    def test_a_running_init_container_counts_as_well(self) -> None:
        pod = _pod(["app"], init=["migrate"], init_statuses=[_status("migrate")])
        with pytest.raises(TargetError, match=r"migrate \(running init container\)"):
            target_from_pod(pod)


def test_an_annotation_naming_no_container_says_where_the_name_came_from() -> None:
    pod = _pod(
        ["app", "sidecar"],
        annotations={"kubectl.kubernetes.io/default-container": "gone"},
    )
    with pytest.raises(TargetError) as caught:
        target_from_pod(pod)
    assert str(caught.value) == (
        "Pod shop/web has no container gone, which its "
        "kubectl.kubernetes.io/default-container annotation names."
    )
    assert caught.value.hint == "Pass -c with one of its containers: app, sidecar."


def test_an_unknown_container_name_lists_the_real_ones() -> None:
    with pytest.raises(TargetError, match="no container nope") as caught:
        target_from_pod(_pod(["app"]), container="nope")
    assert "app" in caught.value.hint


def test_a_running_init_container_is_a_valid_target() -> None:
    pod = _pod(["app"], init=["proxy"], init_statuses=[_status("proxy")])
    assert target_from_pod(pod, container="proxy").container_id == (
        "containerd://proxy-id"
    )


def test_readiness_does_not_matter_only_running_does() -> None:
    pod = _pod(["app"], statuses=[_status("app", ready=False)])
    assert target_from_pod(pod).container == "app"


def test_a_waiting_container_is_refused_with_its_reason() -> None:
    waiting = client.V1ContainerState(
        waiting=client.V1ContainerStateWaiting(
            reason="CrashLoopBackOff", message="back-off 5m0s"
        )
    )
    pod = _pod(["app"], statuses=[_status("app", state=waiting)])
    with pytest.raises(TargetError, match="not running.*CrashLoopBackOff"):
        target_from_pod(pod)


def test_a_terminated_container_is_refused_with_its_exit_code() -> None:
    done = client.V1ContainerState(
        terminated=client.V1ContainerStateTerminated(exit_code=2, reason="Error")
    )
    pod = _pod(["app"], statuses=[_status("app", state=done)])
    with pytest.raises(TargetError, match="exit code 2"):
        target_from_pod(pod)
