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
    try:
        manifest = kube.core.read_namespaced_pod(pod, namespace)
    except ApiException as error:
        if error.status == 404:
            raise TargetError(
                f"There is no pod {pod} in namespace {namespace}.",
                hint="List pods with `kubectl get pods -n "
                f"{namespace}` or pick one in the browser.",
            ) from error
        raise api_error(error, doing=f"reading pod {namespace}/{pod}") from error
    return target_from_pod(manifest, container=container)


def target_from_pod(manifest: Any, *, container: str = "") -> Target:
    """Pick the target container of a pod object.

    Without a container name, the pod's `kubectl.kubernetes.io/default-container`
    annotation names it; without that, the pod must have only one candidate:
    its regular containers and whichever init containers (native sidecars
    among them) are running now.

    Raises:
        TargetError: as `resolve_target`.
    """
    meta, spec, status = manifest.metadata, manifest.spec, manifest.status
    where = f"{meta.namespace}/{meta.name}"
    statuses = {
        s.name: s
        for s in [
            *(status.init_container_statuses or []),
            *(status.container_statuses or []),
        ]
    }
    declared = [c.name for c in [*(spec.init_containers or []), *spec.containers]]
    annotated = (meta.annotations or {}).get(DEFAULT_CONTAINER_ANNOTATION, "")
    name = container or annotated or _only_candidate(manifest, statuses)
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
            f"`kubectl describe pod -n {meta.namespace} {meta.name}`; only a "
            "running container can be debugged.",
        )
    if not state.container_id or not spec.node_name:
        raise TargetError(f"Container {name} of pod {where} has no container ID yet.")
    return Target(
        namespace=meta.namespace,
        pod=meta.name,
        container=name,
        container_id=state.container_id,
        node=spec.node_name,
        pull_secrets=tuple(s.name for s in spec.image_pull_secrets or [] if s.name),
    )


def _only_candidate(manifest: Any, statuses: dict[str, Any]) -> str:
    spec = manifest.spec
    candidates = [
        (init.name, f" (running {_init_kind(init)})")
        for init in spec.init_containers or []
        if _is_running(statuses.get(init.name))
    ]
    candidates += [(c.name, "") for c in spec.containers]
    if len(candidates) == 1:
        return str(candidates[0][0])
    listed = ", ".join(f"{name}{kind}" for name, kind in candidates)
    raise TargetError(
        f"Pod {manifest.metadata.namespace}/{manifest.metadata.name} has "
        f"{len(candidates)} containers to choose from: {listed}.",
        hint=f"Pass -c with the one to debug, such as -c {spec.containers[0].name}.",
    )


def _init_kind(init: Any) -> str:
    return "sidecar" if init.restart_policy == "Always" else "init container"


def _is_running(status: Any) -> bool:
    return bool(status and status.state and status.state.running is not None)


def _describe_state(status: Any) -> str:
    if status is None or status.state is None:
        return "no status yet"
    if status.state.waiting is not None:
        waiting = status.state.waiting
        detail = f": {waiting.message}" if waiting.message else ""
        return f"waiting, {waiting.reason or 'no reason given'}{detail}"
    if status.state.terminated is not None:
        done = status.state.terminated
        return f"terminated, {done.reason or 'no reason'}, exit code {done.exit_code}"
    return "unknown state"
