"""Agent pods: find one to reuse on a node, create one, wait for it, remove it.

An agent pod is pinned to the target's node, tolerates every taint, runs
privileged with the node's filesystem at /host, and has no hostPort and no
hostNetwork: clients reach it through a port-forward with their own RBAC. It
carries an expiry annotation for `kdebug-tui gc` and an `activeDeadlineSeconds`
as the last resort should every client die.
"""

import base64
import dataclasses
import datetime
import enum
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from kdebug_agent.protocol import hash_token
from kdebug_tui import __version__
from kdebug_tui.backend.errors import (
    AgentPodError,
    ClusterUnreachable,
    PermissionDenied,
    missing_agent_namespace,
)
from kdebug_tui.backend.kube import Kube, api_error
from kdebug_tui.backend.resources import JSON
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.tokens import TokenStore, new_token

logger = logging.getLogger(__name__)

AGENT_PORT = 10027
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NODE_LABEL = "kdebug-tui.io/node"
AGENT_SELECTOR = f"{NAME_LABEL}=kdebug-agent,{MANAGED_BY_LABEL}=kdebug-tui"
# Agents of the optional DaemonSet (deploy/daemonset.yaml) carry this label,
# naming the Secret that holds their token; clients use them and never delete them.
TOKEN_SECRET_LABEL = "kdebug-tui.io/token-secret"
EXPIRES_ANNOTATION = "kdebug-tui.io/expires-at"
CREATED_BY_ANNOTATION = "kdebug-tui.io/created-by"
IMAGE_PULL_FAILURES = {
    "ErrImagePull",
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
}
POD_SECURITY_HINT = (
    "Let the namespace run privileged pods with `kubectl label namespace {ns} "
    "pod-security.kubernetes.io/enforce=privileged`, or choose another agent "
    "namespace with --agent-namespace."
)

ProgressReporter = Callable[[str, str], None]
"""Called with a stage name and a sentence as an agent pod comes up."""


class AgentPodState(enum.Enum):
    """How far a new agent pod has come, as its status tells."""

    PENDING = "pending"
    """Not scheduled yet, or its container is not running yet."""
    STARTED = "started"
    """The agent's container runs: the agent itself may be asked if it answers."""
    READY = "ready"
    """The kubelet's readiness probe passed."""


@dataclasses.dataclass(frozen=True, slots=True)
class AgentPod:
    """An agent pod this client may talk to."""

    namespace: str
    name: str
    uid: str
    node: str
    token: str = dataclasses.field(repr=False)
    created_here: bool = False
    """Whether this client created it."""
    preinstalled: bool = False
    """Whether it belongs to the DaemonSet, so that no client may delete it."""


def agent_pod_name(node: str) -> str:
    """Return a valid, unique pod name (at most 63 characters) for a node."""
    slug = re.sub(r"[^a-z0-9-]+", "-", node.lower()).strip("-")[:40].strip("-")
    return f"kdebug-agent-{slug or 'node'}-{secrets.token_hex(3)}"


def node_label_value(node: str) -> str:
    """Return a label value naming a node; node names can exceed 63 characters."""
    return hashlib.sha256(node.encode()).hexdigest()[:32]


def agent_pod_manifest(
    *, node: str, name: str, token_sha256: str, settings: Settings, user: str
) -> dict[str, Any]:
    """Build the agent pod for a node, as the JSON the API server takes."""
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
        seconds=settings.agent_lifetime
    )
    env = {
        "KDEBUG_AGENT_TOKEN_SHA256": token_sha256,
        "KDEBUG_AGENT_HOST_ROOT": "/host",
        "KDEBUG_AGENT_PORT": str(AGENT_PORT),
        "KDEBUG_AGENT_IDLE_TIMEOUT": str(settings.agent_idle_timeout),
        "KDEBUG_AGENT_GRACE": str(settings.grace),
    }
    if settings.runtime_socket:
        env["KDEBUG_AGENT_CONTAINERD_SOCKET"] = settings.runtime_socket
    container = {
        "name": "agent",
        "image": settings.agent_image,
        "imagePullPolicy": settings.agent_pull_policy,
        "command": ["kdebug-agent"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"containerPort": AGENT_PORT, "name": "agent"}],
        "securityContext": {"privileged": True},
        # Clients ask the agent itself as soon as it runs; the probe keeps the
        # Ready condition honest for `kubectl` and for other clients' reuse.
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": AGENT_PORT},
            "periodSeconds": 1,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"memory": "1Gi"},
        },
        "volumeMounts": [{"name": "host", "mountPath": "/host"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {
                NAME_LABEL: "kdebug-agent",
                MANAGED_BY_LABEL: "kdebug-tui",
                NODE_LABEL: node_label_value(node),
            },
            "annotations": {
                EXPIRES_ANNOTATION: expires.isoformat(timespec="seconds"),
                CREATED_BY_ANNOTATION: user[:250],
                "kdebug-tui.io/client-version": __version__,
            },
        },
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": settings.agent_lifetime,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": 10,
            "tolerations": [{"operator": "Exists"}],
            "containers": [container],
            "volumes": [
                {"name": "host", "hostPath": {"path": "/", "type": "Directory"}}
            ],
        },
    }


class AgentPods:
    """Creates, finds, awaits and deletes agent pods in one namespace."""

    def __init__(self, kube: Kube, settings: Settings, *, tokens: TokenStore) -> None:
        self._kube = kube
        self._settings = settings
        self._tokens = tokens
        self.namespace = settings.agent_namespace

    def find_reusable(self, node: str) -> AgentPod | None:
        """Return a ready agent pod on `node` this user may use, if there is one.

        A pod of the DaemonSet is preferred; otherwise a pod of ours whose
        token this user holds, running the configured agent image.
        """
        now = datetime.datetime.now(datetime.UTC)
        # An expired pod is what `collect_garbage`, which may run meanwhile,
        # deletes: it is no pod to start a session on.
        pods = [
            pod
            for pod in self._list(
                field_selector=f"spec.nodeName={node}",
                label_selector=f"{NAME_LABEL}=kdebug-agent",
            )
            if _is_ready(pod)
            and not _meta(pod).get("deletionTimestamp")
            and not _is_expired(pod, now)
        ]
        for pod in pods:
            secret = (_meta(pod).get("labels") or {}).get(TOKEN_SECRET_LABEL)
            if secret:
                return self._preinstalled(pod, node, secret)
        for pod in pods:
            meta = _meta(pod)
            labels = meta.get("labels") or {}
            if labels.get(MANAGED_BY_LABEL) != "kdebug-tui":
                continue
            containers = (pod.get("spec") or {}).get("containers") or [{}]
            if containers[0].get("image") != self._settings.agent_image:
                continue
            token = self._tokens.get(str(meta.get("uid", "")))
            if token:
                return AgentPod(
                    namespace=self.namespace,
                    name=str(meta.get("name", "")),
                    uid=str(meta.get("uid", "")),
                    node=node,
                    token=token,
                )
        return None

    def _preinstalled(self, pod: JSON, node: str, secret: str) -> AgentPod:
        path = f"/api/v1/namespaces/{self.namespace}/secrets/{secret}"
        try:
            data = self._kube.request("GET", path).get("data")
        except ApiException as error:
            raise api_error(
                error, doing=f"reading the agents' token secret {secret}"
            ) from error
        encoded = (data or {}).get("token", "")
        if not encoded:
            raise AgentPodError(
                f"Secret {self.namespace}/{secret} of the agent DaemonSet "
                "has no token.",
                hint="Create it as deploy/daemonset.yaml describes.",
            )
        return AgentPod(
            namespace=self.namespace,
            name=str(_meta(pod).get("name", "")),
            uid=str(_meta(pod).get("uid", "")),
            node=node,
            token=base64.b64decode(encoded).decode().strip(),
            preinstalled=True,
        )

    def create_pod(self, node: str) -> AgentPod:
        """Create an agent pod on `node`; `poll_ready` then tells when it is ready.

        Raises:
            AgentPodError: the API server rejected the pod (Pod Security, say).
            PermissionDenied: RBAC forbids creating it.
        """
        token = new_token()
        manifest = agent_pod_manifest(
            node=node,
            name=agent_pod_name(node),
            token_sha256=hash_token(token),
            settings=self._settings,
            user=self._kube.username(),
        )
        try:
            created = self._kube.request(
                "POST", f"/api/v1/namespaces/{self.namespace}/pods", body=manifest
            )
        except ApiException as error:
            raise self._creation_error(error) from error
        pod = AgentPod(
            namespace=self.namespace,
            name=str(_meta(created).get("name", "")),
            uid=str(_meta(created).get("uid", "")),
            node=node,
            token=token,
            created_here=True,
        )
        # The token is worth keeping as long as the pod can live.
        expires = _expires_at(manifest)
        assert expires is not None, "agent_pod_manifest stamps the expiry"
        self._tokens.put(pod.uid, token, expires=expires.timestamp())
        return pod

    def delete(self, pod: AgentPod) -> None:
        """Delete an agent pod; a pod that is already gone is fine.

        A failure is logged, not raised: it comes at the end of a session, and
        an agent pod left behind exits after its idle time all the same.
        """
        try:
            self._kube.request(
                "DELETE",
                _pod_path(pod.namespace, pod.name),
                query={"gracePeriodSeconds": 10},
            )
            logger.info("Deleted agent pod %s/%s.", pod.namespace, pod.name)
        except (ApiException, ClusterUnreachable) as error:
            if getattr(error, "status", 0) != 404:
                logger.warning(
                    "Agent pod %s/%s was not deleted (%s); it exits after its idle "
                    "time, and `kdebug-tui gc` removes it then.",
                    pod.namespace,
                    pod.name,
                    getattr(error, "reason", None) or error,
                )
        self._tokens.forget({pod.uid})

    def collect_garbage(self) -> list[str]:
        """Delete finished or expired agent pods of ours; return their names."""
        now = datetime.datetime.now(datetime.UTC)
        removed: list[str] = []
        for pod in self._list():
            if _is_finished(pod) or _is_expired(pod, now):
                name = str(_meta(pod).get("name", ""))
                uid = str(_meta(pod).get("uid", ""))
                agent = AgentPod(self.namespace, name, uid, "", token="")
                self.delete(agent)
                removed.append(name)
        return removed

    def _list(
        self, *, field_selector: str = "", label_selector: str = AGENT_SELECTOR
    ) -> list[JSON]:
        try:
            pods = self._kube.request(
                "GET",
                f"/api/v1/namespaces/{self.namespace}/pods",
                query={
                    "labelSelector": label_selector,
                    "fieldSelector": field_selector or None,
                },
            )
        except ApiException as error:
            raise api_error(
                error, doing=f"listing agent pods in {self.namespace}"
            ) from error
        return list(pods.get("items") or [])

    def _creation_error(self, error: ApiException) -> Exception:
        body = str(getattr(error, "body", "") or "")
        namespace = self.namespace
        if error.status == 403 and "PodSecurity" in body:
            return AgentPodError(
                f"Namespace {namespace} enforces a Pod Security level that forbids "
                "the privileged agent pod.",
                hint=POD_SECURITY_HINT.format(ns=namespace),
            )
        if error.status == 404:
            return missing_agent_namespace(namespace)
        converted = api_error(error, doing=f"creating an agent pod in {namespace}")
        if isinstance(converted, PermissionDenied):
            converted.hint = (
                f"Ask an administrator for permission to create pods in {namespace} "
                "(deploy/rbac.yaml has the role), or choose another agent "
                "namespace with --agent-namespace."
            )
        return converted

    def check(
        self, pod: AgentPod, *, reported: set[str], progress: ProgressReporter
    ) -> AgentPodState:
        """Read the pod once and tell how far it has come.

        Each stage is reported once through `progress` (`reported` remembers
        which were); callers look again until the agent answers or their own
        deadline passes.

        Raises:
            AgentPodError: the pod cannot come up (image pull, scheduling,
                crash) or it is gone; the message says why.
        """
        try:
            current = self._kube.request("GET", _pod_path(pod.namespace, pod.name))
        except ApiException as error:
            if error.status == 404:
                raise AgentPodError(
                    f"Agent pod {pod.name} was deleted while it started."
                ) from error
            raise api_error(error, doing="reading the agent pod") from error
        return self._check_progress(current, reported, progress)

    def describe(self, pod: AgentPod) -> str:
        """Return a short account of the pod's state, for timeout messages."""
        try:
            return _summary(
                self._kube.request("GET", _pod_path(pod.namespace, pod.name))
            )
        except ApiException as error:
            return f"unreadable: {error.reason}"
        except ClusterUnreachable:
            return "unreadable: the API server did not answer"

    def _check_progress(
        self, pod: JSON, reported: set[str], progress: ProgressReporter
    ) -> AgentPodState:
        def once(stage: str, message: str) -> None:
            if stage not in reported:
                reported.add(stage)
                progress(stage, message)

        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            scheduled = condition.get("type") == "PodScheduled"
            if scheduled and condition.get("status") == "True":
                node = (pod.get("spec") or {}).get("nodeName", "")
                once("agent-scheduled", f"Agent pod scheduled on {node}.")
            if scheduled and condition.get("reason") == "Unschedulable":
                raise AgentPodError(
                    "The agent pod cannot be scheduled: "
                    f"{condition.get('message', '')}.",
                    hint="Free resources on the node or uncordon it, or debug "
                    "a pod on another node.",
                )
        container = (status.get("containerStatuses") or [{}])[0]
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason") in IMAGE_PULL_FAILURES:
            raise AgentPodError(
                "The node cannot pull the agent image "
                f"{self._settings.agent_image}: "
                f"{waiting.get('message') or waiting['reason']}.",
                hint="Set agent_image to an image the node can pull, "
                "or import it into the node's runtime.",
            )
        if container.get("imageID"):
            once("agent-image", "Agent image present on the node.")
        if terminated:
            raise AgentPodError(
                f"The agent exited with code {terminated.get('exitCode')} "
                f"({terminated.get('reason')}): {self._log_tail(pod)}",
                hint="Read the agent's log in the message above. Usually the "
                "node's container runtime socket was not found: set "
                "runtime_socket to its path on the node.",
            )
        phase = status.get("phase")
        if phase in ("Failed", "Succeeded"):
            raise AgentPodError(
                f"The agent pod ended ({phase}: {status.get('reason') or ''} "
                f"{status.get('message') or ''}).".replace(" )", ")")
            )
        if _is_ready(pod):
            once("agent-started", "Agent started.")
            once("agent-ready", "Agent ready.")
            return AgentPodState.READY
        if "running" in state:
            once("agent-started", "Agent started.")
            return AgentPodState.STARTED
        return AgentPodState.PENDING

    def _log_tail(self, pod: JSON) -> str:
        meta = _meta(pod)
        path = _pod_path(str(meta.get("namespace", "")), str(meta.get("name", "")))
        try:
            text = self._kube.request_bytes(
                "GET", f"{path}/log", query={"tailLines": 8}
            ).decode(errors="replace")
        except (ApiException, ClusterUnreachable):
            return "its log could not be read"
        return " | ".join(line for line in text.splitlines() if line.strip())


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


def _meta(pod: JSON) -> JSON:
    return pod.get("metadata") or {}


def _is_ready(pod: JSON) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _is_finished(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _expires_at(pod: JSON) -> datetime.datetime | None:
    stamp = (_meta(pod).get("annotations") or {}).get(EXPIRES_ANNOTATION, "")
    try:
        return datetime.datetime.fromisoformat(stamp)
    except ValueError:
        return None


def _is_expired(pod: JSON, now: datetime.datetime) -> bool:
    expires = _expires_at(pod)
    return expires is not None and expires < now


def _summary(pod: JSON | None) -> str:
    if not pod:
        return "no status seen"
    status = pod.get("status") or {}
    phase = status.get("phase") or "unknown"
    container = (status.get("containerStatuses") or [{}])[0]
    waiting = (container.get("state") or {}).get("waiting")
    return f"phase {phase}" + (f", {waiting.get('reason')}" if waiting else "")
