"""Resolving what the user pointed at into a running container on a node.

A target is valid when its container is in state *running*, whatever its
readiness; running init containers (native sidecars included) count too. When
the user names no container, the pod's default-container annotation picks it,
or else the pod must leave no choice: a pod with a running native sidecar and
one regular container is as ambiguous as a pod with two regular containers.
"""

import dataclasses
from typing import Any

from kubernetes.client.exceptions import ApiException

from kdebug_tui.backend.errors import TargetError
from kdebug_tui.backend.kube import Kube, api_error
from kdebug_tui.backend.names import NAME_HINT, name_problem
from kdebug_tui.backend.resources import JSON

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A running container the debug container will join."""

    namespace: str
    pod: str
    container: str
    container_id: str
    """With its runtime scheme, e.g. `containerd://3f2a…`."""
    node: str
    pull_secrets: tuple[str, ...] = ()
    """Names of the pod's image pull secrets, for a private debug image."""

    @property
    def runtime(self) -> str:
        """The runtime scheme of the container ID."""
        return self.container_id.partition("://")[0]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod}/{self.container}"


def resolve_target(
    kube: Kube, *, namespace: str, pod: str, container: str = ""
) -> Target:
    """Read the pod and pick the target container.

    Raises:
        TargetError: the pod does not exist, the container is ambiguous or
            unknown, or it is not running.
        ClusterError: the API server failed.
    """
    # Checked before they go into a URL, where a `/` would name another resource.
    for kind, name in (("namespace", namespace), ("pod", pod)):
        if problem := name_problem(kind, name):
            raise TargetError(problem, hint=NAME_HINT)
    try:
        manifest = kube.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}")
    except ApiException as error:
        if error.status == 404:
            raise TargetError(
                f"There is no pod {pod} in namespace {namespace}.",
                hint="List pods with `kubectl get pods -n "
                f"{namespace}` or pick one in the browser.",
            ) from error
        raise api_error(error, doing=f"reading pod {namespace}/{pod}") from error
    return target_from_pod(manifest, container=container)


def target_from_pod(manifest: JSON, *, container: str = "") -> Target:
    """Pick the target container of a pod, as the API server's JSON has it.

    Without a container name, the pod's `kubectl.kubernetes.io/default-container`
    annotation names it; without that, the pod must have only one candidate:
    its regular containers and whichever init containers (native sidecars
    among them) are running now.

    Raises:
        TargetError: as `resolve_target`.
    """
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    status = manifest.get("status") or {}
    namespace, pod = str(meta.get("namespace", "")), str(meta.get("name", ""))
    where = f"{namespace}/{pod}"
    statuses = {
        s.get("name"): s
        for s in [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
    }
    declared = [
        str(c.get("name"))
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    ]
    annotated = (meta.get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION, "")
    name = container or annotated or _only_candidate(where, spec, statuses)
    if name not in declared:
        by = f", which its {DEFAULT_CONTAINER_ANNOTATION} annotation names"
        by = "" if container else by
        raise TargetError(
            f"Pod {where} has no container {name}{by}.",
            hint=f"Pass -c with one of its containers: {', '.join(declared)}.",
        )
    state = statuses.get(name)
    if state is None or not _is_running(state):
        raise TargetError(
            f"Container {name} of pod {where} is not running "
            f"({_describe_state(state)}).",
            hint="Wait until it runs, or find out why it does not with "
            f"`kubectl describe pod -n {namespace} {pod}`; only a "
            "running container can be debugged.",
        )
    container_id, node = state.get("containerID"), spec.get("nodeName")
    if not container_id or not node:
        raise TargetError(f"Container {name} of pod {where} has no container ID yet.")
    secrets = spec.get("imagePullSecrets") or []
    return Target(
        namespace=namespace,
        pod=pod,
        container=name,
        container_id=str(container_id),
        node=str(node),
        pull_secrets=tuple(str(s["name"]) for s in secrets if s.get("name")),
    )


def _only_candidate(where: str, spec: JSON, statuses: dict[Any, JSON]) -> str:
    candidates = [
        (str(init.get("name")), f" (running {_init_kind(init)})")
        for init in spec.get("initContainers") or []
        if _is_running(statuses.get(init.get("name")))
    ]
    containers = spec.get("containers") or [{}]
    candidates += [(str(c.get("name")), "") for c in containers]
    if len(candidates) == 1:
        return candidates[0][0]
    listed = ", ".join(f"{name}{kind}" for name, kind in candidates)
    raise TargetError(
        f"Pod {where} has {len(candidates)} containers to choose from: {listed}.",
        hint=f"Pass -c with the one to debug, such as -c {containers[0].get('name')}.",
    )


def _init_kind(init: JSON) -> str:
    return "sidecar" if init.get("restartPolicy") == "Always" else "init container"


def _is_running(status: JSON | None) -> bool:
    return bool(status and "running" in (status.get("state") or {}))


def _describe_state(status: JSON | None) -> str:
    state = (status or {}).get("state")
    if not state:
        return "no status yet"
    if state.get("waiting") is not None:
        waiting = state["waiting"]
        detail = f": {waiting['message']}" if waiting.get("message") else ""
        return f"waiting, {waiting.get('reason') or 'no reason given'}{detail}"
    if state.get("terminated") is not None:
        done = state["terminated"]
        return (
            f"terminated, {done.get('reason') or 'no reason'}, "
            f"exit code {done.get('exitCode')}"
        )
    return "unknown state"
