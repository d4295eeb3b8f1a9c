"""The browse layer against the real cluster: listings, live changes, stopping.

The sample workloads give known pods: `web` with one container, `multi` with
three, `native-sidecar` with a running init container, and `crash-loop`, which
keeps failing.
"""

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from cluster.workloads import CRASH_LOOP_POD, DEMO_NAMESPACE, EMPTY_NAMESPACE
from kdebug_tui.backend.browse import (
    Changed,
    ClusterBrowser,
    Listed,
    Removed,
    ResourceWatch,
    WatchEvent,
)
from kdebug_tui.backend.errors import PermissionDenied
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.resources import ContainerKind, PodInfo
from tests.fixtures.cluster import KubernetesCluster

pytestmark = pytest.mark.e2e

T = TypeVar("T")
EVENT_TIMEOUT = 90.0


@pytest.fixture
def browser(kubernetes_cluster: KubernetesCluster) -> ClusterBrowser:
    """The browser of the cluster's admin."""
    kubeconfig = str(kubernetes_cluster.admin_kubeconfig)
    return ClusterBrowser(Kube.connect(kubeconfig=kubeconfig))


def events_of(watch: ResourceWatch[T]) -> Iterator[WatchEvent[T]]:
    """The watch's events, failing the test when none comes for a long time."""
    timer = threading.Timer(EVENT_TIMEOUT, watch.stop)
    timer.start()
    try:
        yield from watch.events()
    finally:
        timer.cancel()
        watch.stop()


def first_listing(watch: ResourceWatch[T]) -> tuple[T, ...]:
    """The items of the watch's first listing."""
    for event in events_of(watch):
        if isinstance(event, Listed):
            watch.stop()
            return event.items
    raise AssertionError("The watch ended without a listing.")


def test_the_sample_pods_read_as_kubectl_shows_them(browser: ClusterBrowser) -> None:
    pods = {p.name: p for p in first_listing(browser.watch_pods(DEMO_NAMESPACE))}

    assert {"web", "multi", "native-sidecar", CRASH_LOOP_POD} <= set(pods)
    web = pods["web"]
    assert (web.ready, web.status, web.default_container) == ("1/1", "Running", "web")
    assert web.node and web.ip and web.created is not None
    assert [c.debuggable for c in web.containers] == [True]
    assert pods["multi"].ready == "3/3"
    assert pods["multi"].default_container == ""
    sidecar = pods["native-sidecar"]
    assert (sidecar.ready, sidecar.status) == ("2/2", "Running")
    assert [c.kind for c in sidecar.containers] == [
        ContainerKind.SIDECAR,
        ContainerKind.REGULAR,
    ]
    crashing = pods[CRASH_LOOP_POD]
    assert crashing.status in ("CrashLoopBackOff", "Error", "Running", "Completed")
    assert crashing.restarts >= 1


def test_the_namespaces_include_the_samples(browser: ClusterBrowser) -> None:
    names = {n.name: n.status for n in first_listing(browser.watch_namespaces())}

    assert names[DEMO_NAMESPACE] == "Active"
    assert names[EMPTY_NAMESPACE] == "Active"
    assert "kube-system" in names


def test_the_events_of_a_crashing_pod_say_why(browser: ClusterBrowser) -> None:
    events = first_listing(browser.watch_events(DEMO_NAMESPACE, CRASH_LOOP_POD))

    reasons = {e.reason for e in events}
    assert reasons & {"BackOff", "Started", "Created", "Pulled"}
    assert all(e.last_seen is not None for e in events)


def test_a_new_pod_appears_and_a_deleted_pod_goes(
    browser: ClusterBrowser, kubernetes_cluster: KubernetesCluster
) -> None:
    name = f"browse-{uuid.uuid4().hex[:6]}"
    kube = browser.kube
    watch = browser.watch_pods(EMPTY_NAMESPACE)
    seen: list[str] = []

    for event in events_of(watch):
        if isinstance(event, Listed):
            # The namespace is empty until the test creates its pod.
            assert all(p.name != name for p in event.items)
            kube.core.create_namespaced_pod(
                EMPTY_NAMESPACE, _pod(name, kubernetes_cluster.images.shell)
            )
        elif isinstance(event, Changed) and event.item.name == name:
            pod: PodInfo = event.item
            seen.append(pod.status)
            if pod.status == "Running" and "deleting" not in seen:
                seen.append("deleting")
                kube.core.delete_namespaced_pod(
                    name, EMPTY_NAMESPACE, grace_period_seconds=0
                )
        elif isinstance(event, Removed) and event.item.name == name:
            break

    assert seen[0] == "Pending"
    assert "Running" in seen and "deleting" in seen


def test_stopping_a_watch_from_another_thread_ends_it_at_once(
    browser: ClusterBrowser,
) -> None:
    watch = browser.watch_pods(DEMO_NAMESPACE)
    stopped_at: list[float] = []

    def stop_soon() -> None:
        time.sleep(1)
        stopped_at.append(time.monotonic())
        watch.stop()

    for event in events_of(watch):
        if isinstance(event, Listed):
            threading.Thread(target=stop_soon).start()
    ended_at = time.monotonic()

    # The watch was blocked in a read that only the stop could end.
    assert ended_at - stopped_at[0] < 2


def test_a_user_without_the_namespace_list_is_told_so(
    browser: ClusterBrowser, kubernetes_cluster: KubernetesCluster, tmp_path: Path
) -> None:
    # A service account bound to no role: authenticated, allowed nothing.
    core = browser.kube.core
    name = f"browse-nobody-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_service_account(
        EMPTY_NAMESPACE, {"metadata": {"name": name}}
    )
    try:
        token = core.create_namespaced_service_account_token(
            name, EMPTY_NAMESPACE, {"spec": {"expirationSeconds": 600}}
        ).status.token
        kubeconfig = tmp_path / "nobody.kubeconfig"
        kubeconfig.write_text(
            _with_token(kubernetes_cluster.admin_kubeconfig.read_text(), token)
        )
        nobody = ClusterBrowser(Kube.connect(kubeconfig=str(kubeconfig)))

        with pytest.raises(PermissionDenied) as raised:
            first_listing(nobody.watch_namespaces())
    finally:
        core.delete_namespaced_service_account(name, EMPTY_NAMESPACE)

    assert "listing namespaces" in str(raised.value)
    assert "deploy/rbac.yaml" in raised.value.hint


def _pod(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "idle",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
                }
            ],
        },
    }


def _with_token(kubeconfig: str, token: str) -> str:
    config = yaml.safe_load(kubeconfig)
    for user in config["users"]:
        user["user"] = {"token": token}
    return str(yaml.safe_dump(config))
