"""Plain records of what the browser shows, read from the API server's JSON.

The browser needs a handful of fields per object, so it reads the JSON the API
server sends instead of the client's model classes: turning ten thousand pods
into models would cost seconds and hundreds of megabytes. The records are
frozen dataclasses with no clock inside; ages are computed when shown, so tests
can build records with fixed timestamps and render them at a fixed time.
"""

import dataclasses
import datetime
import enum
from collections.abc import Mapping, Sequence
from typing import Any

JSON = Mapping[str, Any]

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


class ContainerKind(enum.StrEnum):
    """Where a container is declared in its pod."""

    INIT = "init"
    SIDECAR = "sidecar"
    """An init container with `restartPolicy: Always`, running beside the others."""
    REGULAR = "container"
    EPHEMERAL = "ephemeral"


@dataclasses.dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """A namespace as the browser lists it."""

    name: str
    status: str
    created: datetime.datetime | None = None

    @property
    def key(self) -> str:
        """The namespace's name, unique in a cluster."""
        return self.name


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerInfo:
    """A container of a pod with its current state."""

    name: str
    kind: ContainerKind
    image: str = ""
    state: str = "unknown"
    """One of `running`, `waiting`, `terminated` or `unknown` (no status yet)."""
    reason: str = ""
    """Why it waits or why it ended, as the kubelet says (`CrashLoopBackOff`)."""
    ready: bool = False
    restarts: int = 0
    since: datetime.datetime | None = None
    """When it started running, or when it ended."""
    exit_code: int | None = None

    @property
    def debuggable(self) -> bool:
        """Whether a debug container can join it: it must be running."""
        return self.state == "running"

    @property
    def state_text(self) -> str:
        """The state in a few words, e.g. `terminated: Error (exit code 1)`."""
        text = self.state
        if self.reason:
            text += f": {self.reason}"
        if self.exit_code is not None and self.state == "terminated":
            text += f" (exit code {self.exit_code})"
        return text


@dataclasses.dataclass(frozen=True, slots=True)
class PodInfo:
    """A pod as the browser lists it, with the columns `kubectl get pods` shows."""

    namespace: str
    name: str
    ready: str = "0/0"
    status: str = "Unknown"
    restarts: int = 0
    last_restart: datetime.datetime | None = None
    created: datetime.datetime | None = None
    node: str = ""
    ip: str = ""
    containers: tuple[ContainerInfo, ...] = ()
    default_container: str = ""
    """The container to debug when none is named, or empty when it is ambiguous."""

    @property
    def key(self) -> str:
        """`namespace/name`, unique in a cluster."""
        return f"{self.namespace}/{self.name}"

    def container(self, name: str) -> ContainerInfo | None:
        """Return the container called `name`, if the pod has one."""
        return next((c for c in self.containers if c.name == name), None)


@dataclasses.dataclass(frozen=True, slots=True)
class EventInfo:
    """An event about a pod, as `kubectl describe` lists it."""

    uid: str
    type: str
    reason: str
    message: str
    count: int = 1
    last_seen: datetime.datetime | None = None
    source: str = ""

    @property
    def key(self) -> str:
        """The event's UID."""
        return self.uid


def parse_time(value: object) -> datetime.datetime | None:
    """Parse an RFC 3339 timestamp of the API server; `None` when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


def namespace_from_json(data: JSON) -> NamespaceInfo:
    """Read a namespace object."""
    meta = data.get("metadata") or {}
    status = data.get("status") or {}
    return NamespaceInfo(
        name=str(meta.get("name", "")),
        status=str(status.get("phase", "Active")),
        created=parse_time(meta.get("creationTimestamp")),
    )


def event_from_json(data: JSON) -> EventInfo:
    """Read a core/v1 event object."""
    meta = data.get("metadata") or {}
    series = data.get("series") or {}
    source = data.get("source") or {}
    last_seen = (
        parse_time(series.get("lastObservedTime"))
        or parse_time(data.get("lastTimestamp"))
        or parse_time(data.get("eventTime"))
        or parse_time(data.get("firstTimestamp"))
        or parse_time(meta.get("creationTimestamp"))
    )
    return EventInfo(
        uid=str(meta.get("uid") or meta.get("name", "")),
        type=str(data.get("type") or "Normal"),
        reason=str(data.get("reason") or ""),
        message=" ".join(str(data.get("message") or "").split()),
        count=int(series.get("count") or data.get("count") or 1),
        last_seen=last_seen,
        source=str(source.get("component") or data.get("reportingComponent") or ""),
    )


def pod_from_json(data: JSON) -> PodInfo:
    """Read a pod object into the columns `kubectl get pods` shows."""
    meta = data.get("metadata") or {}
    spec = data.get("spec") or {}
    status = data.get("status") or {}
    containers = _containers(spec, status)
    # Ready and restarts count the containers that run for the pod's life.
    counted = [
        c
        for c in containers
        if c.kind in (ContainerKind.REGULAR, ContainerKind.SIDECAR)
    ]
    names = {c.name for c in counted}
    restarted = [
        _last_restart(s)
        for key in ("containerStatuses", "initContainerStatuses")
        for s in status.get(key) or []
        if s.get("name") in names
    ]
    return PodInfo(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        ready=f"{sum(c.ready for c in counted)}/{len(counted)}",
        status=pod_status(data),
        restarts=sum(c.restarts for c in counted),
        last_restart=max((t for t in restarted if t is not None), default=None),
        created=parse_time(meta.get("creationTimestamp")),
        node=str(spec.get("nodeName") or ""),
        ip=str(status.get("podIP") or ""),
        containers=containers,
        default_container=_default_container(meta, containers),
    )


def pod_status(data: JSON) -> str:
    """Return the one word `kubectl get pods` shows in its STATUS column.

    The pod's phase, unless a container explains better what is going on: an
    init container that has not finished (`Init:1/2`, `Init:Error`), or a
    container that waits or ended (`CrashLoopBackOff`, `OOMKilled`).
    """
    meta = data.get("metadata") or {}
    spec = data.get("spec") or {}
    status = data.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")

    initializing = _init_status(spec, status)
    if initializing:
        reason = initializing
    else:
        reason = _container_status(status, reason)

    if meta.get("deletionTimestamp"):
        return "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return reason


def _init_status(spec: JSON, status: JSON) -> str:
    init_specs = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if container.get("name") in sidecars and container.get("started"):
            continue
        if terminated:
            return "Init:" + (terminated.get("reason") or _exit_text(terminated))
        if waiting and waiting.get("reason") not in (None, "", "PodInitializing"):
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{len(init_specs)}"
    return ""


def _container_status(status: JSON, reason: str) -> str:
    running_and_ready = False
    # The first container that waits or ended gives the reason, as in kubectl.
    for container in reversed(status.get("containerStatuses") or []):
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated:
            reason = str(terminated.get("reason") or _exit_text(terminated))
        elif state.get("running") and container.get("ready"):
            running_and_ready = True
    if reason == "Completed" and running_and_ready:
        conditions = status.get("conditions") or []
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
        )
        return "Running" if ready else "NotReady"
    return reason


def _exit_text(terminated: JSON) -> str:
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', '?')}"


def _containers(spec: JSON, status: JSON) -> tuple[ContainerInfo, ...]:
    statuses = {
        s.get("name"): s
        for key in ("initContainerStatuses", "containerStatuses")
        for s in status.get(key) or []
    }
    ephemeral = {
        s.get("name"): s for s in status.get("ephemeralContainerStatuses") or []
    }
    declared: list[tuple[JSON, ContainerKind, Mapping[Any, Any]]] = []
    for container in spec.get("initContainers") or []:
        kind = (
            ContainerKind.SIDECAR
            if container.get("restartPolicy") == "Always"
            else ContainerKind.INIT
        )
        declared.append((container, kind, statuses))
    for container in spec.get("containers") or []:
        declared.append((container, ContainerKind.REGULAR, statuses))
    for container in spec.get("ephemeralContainers") or []:
        declared.append((container, ContainerKind.EPHEMERAL, ephemeral))
    return tuple(
        _container(container, kind, found.get(container.get("name")) or {})
        for container, kind, found in declared
    )


def _container(spec: JSON, kind: ContainerKind, status: JSON) -> ContainerInfo:
    state = status.get("state") or {}
    name, image = str(spec.get("name", "")), str(spec.get("image", ""))
    common: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "image": image,
        "ready": bool(status.get("ready")),
        "restarts": int(status.get("restartCount") or 0),
    }
    if "running" in state:
        since = parse_time((state["running"] or {}).get("startedAt"))
        return ContainerInfo(state="running", since=since, **common)
    if "terminated" in state:
        done = state["terminated"] or {}
        return ContainerInfo(
            state="terminated",
            reason=str(done.get("reason") or ""),
            since=parse_time(done.get("finishedAt")),
            exit_code=done.get("exitCode"),
            **common,
        )
    if "waiting" in state:
        waiting = state["waiting"] or {}
        return ContainerInfo(
            state="waiting", reason=str(waiting.get("reason") or ""), **common
        )
    return ContainerInfo(**common)


def _last_restart(status: JSON) -> datetime.datetime | None:
    last = (status.get("lastState") or {}).get("terminated") or {}
    return parse_time(last.get("finishedAt"))


def _default_container(meta: JSON, containers: Sequence[ContainerInfo]) -> str:
    annotations = meta.get("annotations") or {}
    named = annotations.get(DEFAULT_CONTAINER_ANNOTATION)
    if named:
        return str(named)
    # As the CLI decides (`targets.target_from_pod`): regular containers and
    # running init containers are the candidates; only one may be left.
    candidates = [
        c.name
        for c in containers
        if c.kind is ContainerKind.REGULAR
        or (c.kind in (ContainerKind.INIT, ContainerKind.SIDECAR) and c.debuggable)
    ]
    return candidates[0] if len(candidates) == 1 else ""


def format_age(
    since: datetime.datetime | None,
    now: datetime.datetime,
    *,
    unknown: str = "<unknown>",
) -> str:
    """Return an age as kubectl prints it: `45s`, `3m12s`, `5h10m`, `12d`, `2y40d`.

    The precision drops as the age grows, so that a column of ages stays short
    and the digits that change every second disappear once they stop mattering.
    """
    if since is None:
        return unknown
    seconds = int((now - since).total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return _pair(minutes, "m", seconds % 60, "s")
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return _pair(days, "d", hours % 24, "h")
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return _pair(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    if minor == 0:
        return f"{major}{major_unit}"
    return f"{major}{major_unit}{minor}{minor_unit}"
