"""Fixed records for the browser, so that TUI tests and snapshots are repeatable.

A live cluster's ages, restart counts and generated names change from run to
run, so tests that check what the screens draw key by key, and every snapshot,
read these records instead, through `FixedBrowser`. The records are the browse
layer's own dataclasses, as its parsers make them from the API server's JSON;
the tests marked `e2e` drive the same screens against the real cluster.

The kubeconfig the fixed tests use is real, but its API server address is a
closed local port: anything that talks to the API server (opening a debug
session) fails the way it fails when a cluster is down.
"""

import datetime
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

import yaml

from kdebug_tui.backend.browse import Listed, WatchEvent
from kdebug_tui.backend.resources import (
    ContainerInfo,
    ContainerKind,
    EventInfo,
    NamespaceInfo,
    PodInfo,
)

T = TypeVar("T")

NOW = datetime.datetime(2026, 5, 4, 12, 0, 0, tzinfo=datetime.UTC)
"""The time the fixed clock shows."""


def ago(**delta: float) -> datetime.datetime:
    """A time before `NOW`."""
    return NOW - datetime.timedelta(**delta)


class FrozenClock:
    """A clock stopped at `NOW`; durations advance only when a test says so."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def now(self) -> datetime.datetime:
        """Always `NOW`."""
        return NOW

    def monotonic(self) -> float:
        """The seconds a test has let pass."""
        return self.seconds


class FixedWatch(Generic[T]):
    """Lists fixed items once, then waits until stopped, as a quiet watch does."""

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self._stopped = threading.Event()

    def events(self) -> Iterator[WatchEvent[T]]:
        """The listing, then nothing."""
        yield Listed(tuple(self.items))
        self._stopped.wait()

    def stop(self) -> None:
        """End `events`."""
        self._stopped.set()


class ScriptedWatch(Generic[T]):
    """Yields what the test puts in `script`, until stopped.

    A fake, for the order of events a real watch yields only by chance: a
    listing, failures, and a listing again when the API server is back. The
    real watch failing against the real cluster is in `test_cluster.py`.
    """

    def __init__(self) -> None:
        self.script: queue.Queue[WatchEvent[T] | None] = queue.Queue()

    def events(self) -> Iterator[WatchEvent[T]]:
        """What the test scripted, as it comes."""
        while (event := self.script.get()) is not None:
            yield event

    def stop(self) -> None:
        """End `events`."""
        self.script.put(None)


def _running(
    name: str,
    *,
    image: str,
    kind: ContainerKind = ContainerKind.REGULAR,
    restarts: int = 0,
) -> ContainerInfo:
    return ContainerInfo(
        name=name,
        kind=kind,
        image=image,
        state="running",
        ready=True,
        restarts=restarts,
        since=ago(hours=5),
    )


NAMESPACES = [
    NamespaceInfo("default", "Active", ago(days=40)),
    NamespaceInfo("kube-system", "Active", ago(days=40)),
    NamespaceInfo("shop", "Active", ago(days=12)),
    NamespaceInfo("staging", "Active", ago(hours=30)),
    NamespaceInfo("old-demo", "Terminating", ago(days=90)),
]

PODS = [
    PodInfo(
        "shop",
        "web-7d4f9c6b5-x2k8p",
        ready="1/1",
        status="Running",
        created=ago(hours=5, minutes=12),
        node="node-a",
        ip="10.0.0.12",
        containers=(_running("nginx", image="nginx:1.27"),),
        default_container="nginx",
    ),
    PodInfo(
        "shop",
        "api-5c8b7f-9qz4t",
        ready="2/2",
        status="Running",
        restarts=3,
        last_restart=ago(minutes=42),
        created=ago(days=2, hours=3),
        node="node-b",
        ip="10.0.1.7",
        containers=(
            _running("api", image="ghcr.io/shop/api:2.4.1", restarts=3),
            _running("envoy", image="envoyproxy/envoy:v1.31"),
        ),
    ),
    PodInfo(
        "shop",
        "worker-6f9d8-crash",
        ready="0/1",
        status="CrashLoopBackOff",
        restarts=17,
        last_restart=ago(minutes=2),
        created=ago(hours=1, minutes=5),
        node="node-a",
        ip="10.0.0.31",
        containers=(
            ContainerInfo(
                "worker",
                ContainerKind.REGULAR,
                image="ghcr.io/shop/worker:2.4.1",
                state="waiting",
                reason="CrashLoopBackOff",
                restarts=17,
            ),
        ),
        default_container="worker",
    ),
    PodInfo(
        "shop",
        "db-0",
        ready="2/2",
        status="Running",
        created=ago(days=12),
        node="node-b",
        ip="10.0.1.3",
        containers=(
            _running("log-shipper", image="fluent-bit:3.1", kind=ContainerKind.SIDECAR),
            _running("postgres", image="postgres:16"),
        ),
        default_container="postgres",
    ),
    PodInfo(
        "shop",
        "migrate-28911-lx9",
        ready="0/1",
        status="Completed",
        created=ago(days=1),
        node="node-a",
        containers=(
            ContainerInfo(
                "migrate",
                ContainerKind.REGULAR,
                image="ghcr.io/shop/api:2.4.1",
                state="terminated",
                reason="Completed",
                exit_code=0,
                since=ago(hours=23),
            ),
        ),
        default_container="migrate",
    ),
    PodInfo(
        "kube-system",
        "coredns-6f6b679f8f-abcde",
        ready="1/1",
        status="Running",
        created=ago(days=40),
        node="node-a",
        ip="10.0.0.2",
        containers=(_running("coredns", image="coredns:1.11.3"),),
        default_container="coredns",
    ),
]

EVENTS = {
    "shop/worker-6f9d8-crash": [
        EventInfo(
            "e1",
            "Warning",
            "BackOff",
            "Back-off restarting failed container worker in pod worker-6f9d8-crash",
            count=211,
            last_seen=ago(seconds=20),
            source="kubelet",
        ),
        EventInfo(
            "e2",
            "Normal",
            "Pulled",
            'Container image "ghcr.io/shop/worker:2.4.1" already present on machine',
            count=17,
            last_seen=ago(minutes=2),
            source="kubelet",
        ),
    ],
    "shop/api-5c8b7f-9qz4t": [
        EventInfo(
            "e3",
            "Warning",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            count=4,
            last_seen=ago(minutes=40),
            source="kubelet",
        ),
    ],
}


class FixedBrowser:
    """A `Browser` over the records above."""

    def __init__(
        self,
        pods: list[PodInfo] | None = None,
        *,
        pods_watch: ScriptedWatch[PodInfo] | None = None,
    ) -> None:
        self.pods = PODS if pods is None else pods
        self.pods_watch = pods_watch

    def watch_namespaces(self) -> FixedWatch[NamespaceInfo]:
        """The fixed namespaces."""
        return FixedWatch(NAMESPACES)

    def watch_pods(
        self, namespace: str = ""
    ) -> FixedWatch[PodInfo] | ScriptedWatch[PodInfo]:
        """The fixed pods of a namespace, or all of them; or the scripted watch."""
        if self.pods_watch is not None:
            return self.pods_watch
        return FixedWatch([p for p in self.pods if namespace in ("", p.namespace)])

    def watch_pod(self, namespace: str, name: str) -> FixedWatch[PodInfo]:
        """One fixed pod."""
        return FixedWatch([p for p in self.pods if p.key == f"{namespace}/{name}"])

    def watch_events(self, namespace: str, pod: str) -> FixedWatch[EventInfo]:
        """The fixed events of a pod."""
        return FixedWatch(EVENTS.get(f"{namespace}/{pod}", []))


def write_kubeconfig(path: Path, *, server: str = "https://127.0.0.1:9") -> Path:
    """A kubeconfig with two contexts, `dev` (current, namespace shop) and `prod`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "dev-cluster", "cluster": {"server": server}},
            {"name": "prod-cluster", "cluster": {"server": server}},
        ],
        "users": [{"name": "alice", "user": {"token": "not-a-real-token"}}],
        "contexts": [
            {
                "name": "dev",
                "context": {
                    "cluster": "dev-cluster",
                    "user": "alice",
                    "namespace": "shop",
                },
            },
            {"name": "prod", "context": {"cluster": "prod-cluster", "user": "alice"}},
        ],
        "current-context": "dev",
    }
    path.write_text(yaml.safe_dump(config))
    return path
