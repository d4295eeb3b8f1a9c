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

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kdebug_agent.protocol import hash_token
from kdebug_tui import __version__
from kdebug_tui.backend.errors import (
    AgentPodError,
    ClusterUnreachable,
    PermissionDenied,
)
from kdebug_tui.backend.kube import Kube, api_error
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.tokens import TokenStore, new_token
from kdebug_tui.backend.unreachable import unreachable

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
) -> client.V1Pod:
    """Build the agent pod for a node."""
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
    container = client.V1Container(
        name="agent",
        image=settings.agent_image,
        image_pull_policy=settings.agent_pull_policy,
        command=["kdebug-agent"],
        env=[client.V1EnvVar(name=k, value=v) for k, v in env.items()],
        ports=[client.V1ContainerPort(container_port=AGENT_PORT, name="agent")],
        security_context=client.V1SecurityContext(privileged=True),
        readiness_probe=client.V1Probe(
            http_get=client.V1HTTPGetAction(path="/healthz", port=AGENT_PORT),
            period_seconds=1,
            failure_threshold=3,
        ),
        resources=client.V1ResourceRequirements(
            requests={"cpu": "10m", "memory": "64Mi"}, limits={"memory": "1Gi"}
        ),
        volume_mounts=[client.V1VolumeMount(name="host", mount_path="/host")],
    )
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={
                NAME_LABEL: "kdebug-agent",
                MANAGED_BY_LABEL: "kdebug-tui",
                NODE_LABEL: node_label_value(node),
            },
            annotations={
                EXPIRES_ANNOTATION: expires.isoformat(timespec="seconds"),
                CREATED_BY_ANNOTATION: user[:250],
                "kdebug-tui.io/client-version": __version__,
            },
        ),
        spec=client.V1PodSpec(
            node_name=node,
            restart_policy="Never",
            active_deadline_seconds=settings.agent_lifetime,
            automount_service_account_token=False,
            enable_service_links=False,
            termination_grace_period_seconds=10,
            tolerations=[client.V1Toleration(operator="Exists")],
            containers=[container],
            volumes=[
                client.V1Volume(
                    name="host",
                    host_path=client.V1HostPathVolumeSource(path="/", type="Directory"),
                )
            ],
        ),
    )


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
            and pod.metadata.deletion_timestamp is None
            and not _is_expired(pod, now)
        ]
        for pod in pods:
            secret = (pod.metadata.labels or {}).get(TOKEN_SECRET_LABEL)
            if secret:
                return self._preinstalled(pod, node, secret)
        for pod in pods:
            labels = pod.metadata.labels or {}
            if labels.get(MANAGED_BY_LABEL) != "kdebug-tui":
                continue
            if pod.spec.containers[0].image != self._settings.agent_image:
                continue
            token = self._tokens.get(pod.metadata.uid)
            if token:
                return AgentPod(
                    namespace=self.namespace,
                    name=pod.metadata.name,
                    uid=pod.metadata.uid,
                    node=node,
                    token=token,
                )
        return None

    def _preinstalled(self, pod: Any, node: str, secret: str) -> AgentPod:
        try:
            data = self._kube.core.read_namespaced_secret(secret, self.namespace).data
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
            name=pod.metadata.name,
            uid=pod.metadata.uid,
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
            created = self._kube.core.create_namespaced_pod(self.namespace, manifest)
        except ApiException as error:
            raise self._creation_error(error) from error
        pod = AgentPod(
            namespace=self.namespace,
            name=created.metadata.name,
            uid=created.metadata.uid,
            node=node,
            token=token,
            created_here=True,
        )
        self._tokens.put(pod.uid, token)
        return pod

    def delete(self, pod: AgentPod) -> None:
        """Delete an agent pod; a pod that is already gone is fine.

        A failure is logged, not raised: it comes at the end of a session, and
        an agent pod left behind exits after its idle time all the same.
        """
        try:
            self._kube.core.delete_namespaced_pod(
                pod.name, pod.namespace, grace_period_seconds=10
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
                name = pod.metadata.name
                agent = AgentPod(self.namespace, name, pod.metadata.uid, "", token="")
                self.delete(agent)
                removed.append(name)
        return removed

    def _list(
        self, *, field_selector: str = "", label_selector: str = AGENT_SELECTOR
    ) -> list[Any]:
        try:
            pods = self._kube.core.list_namespaced_pod(
                self.namespace,
                label_selector=label_selector,
                field_selector=field_selector or None,
            )
        except ApiException as error:
            raise api_error(
                error, doing=f"listing agent pods in {self.namespace}"
            ) from error
        return list(pods.items)

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
            return AgentPodError(
                f"The agent namespace {namespace} does not exist.",
                hint="Create it or choose another one with --agent-namespace.",
            )
        converted = api_error(error, doing=f"creating an agent pod in {namespace}")
        if isinstance(converted, PermissionDenied):
            converted.hint = (
                f"Ask an administrator for permission to create pods in {namespace} "
                "(deploy/rbac.yaml has the role), or choose another agent "
                "namespace with --agent-namespace."
            )
        return converted

    def poll_started(
        self,
        pod: AgentPod,
        *,
        reported: set[str],
        progress: ProgressReporter,
        timeout: int = 2,
    ) -> AgentPodState:
        """Watch the pod for up to `timeout` seconds, until its agent runs.

        Each stage is reported once through `progress` (`reported` remembers
        which were); callers loop until the agent runs or their own deadline
        passes.

        Raises:
            AgentPodError: the pod cannot come up (image pull, scheduling,
                crash); the message says why.
        """
        stream = watch.Watch()
        try:
            for event in stream.stream(
                self._kube.core.list_namespaced_pod,
                pod.namespace,
                field_selector=f"metadata.name={pod.name}",
                timeout_seconds=timeout,
                _request_timeout=timeout + 5,
            ):
                if event["type"] == "DELETED":
                    raise AgentPodError(
                        f"Agent pod {pod.name} was deleted while it started."
                    )
                state = self._check_progress(event["object"], reported, progress)
                if state is not AgentPodState.PENDING:
                    return state
        except ApiException as error:
            raise api_error(error, doing="watching the agent pod") from error
        except HTTPError as error:
            # The watch's stream broke while it was read.
            raise unreachable(
                self._kube.server, error, context=self._kube.context
            ) from error
        finally:
            stream.stop()
        return AgentPodState.PENDING

    def check(
        self, pod: AgentPod, *, reported: set[str], progress: ProgressReporter
    ) -> AgentPodState:
        """Read the pod once and tell how far it has come, as `poll_started`.

        Raises:
            AgentPodError: the pod cannot come up, or it is gone.
        """
        try:
            current = self._kube.core.read_namespaced_pod(pod.name, pod.namespace)
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
                self._kube.core.read_namespaced_pod(pod.name, pod.namespace)
            )
        except ApiException as error:
            return f"unreadable: {error.reason}"
        except ClusterUnreachable:
            return "unreadable: the API server did not answer"

    def _check_progress(
        self, pod: Any, reported: set[str], progress: ProgressReporter
    ) -> AgentPodState:
        def once(stage: str, message: str) -> None:
            if stage not in reported:
                reported.add(stage)
                progress(stage, message)

        for condition in pod.status.conditions or []:
            if condition.type == "PodScheduled" and condition.status == "True":
                once("agent-scheduled", f"Agent pod scheduled on {pod.spec.node_name}.")
            if condition.type == "PodScheduled" and condition.reason == "Unschedulable":
                raise AgentPodError(
                    f"The agent pod cannot be scheduled: {condition.message}.",
                    hint="Free resources on the node or uncordon it, or debug "
                    "a pod on another node.",
                )
        status = (pod.status.container_statuses or [None])[0]
        if status is not None and status.state is not None:
            waiting, terminated = status.state.waiting, status.state.terminated
            if waiting is not None and waiting.reason in IMAGE_PULL_FAILURES:
                raise AgentPodError(
                    "The node cannot pull the agent image "
                    f"{self._settings.agent_image}: "
                    f"{waiting.message or waiting.reason}.",
                    hint="Set agent_image to an image the node can pull, "
                    "or import it into the node's runtime.",
                )
            if status.image_id:
                once("agent-image", "Agent image present on the node.")
            if terminated is not None:
                raise AgentPodError(
                    f"The agent exited with code {terminated.exit_code} "
                    f"({terminated.reason}): {self._log_tail(pod)}",
                    hint="Read the agent's log in the message above. Usually the "
                    "node's container runtime socket was not found: set "
                    "runtime_socket to its path on the node.",
                )
        if pod.status.phase in ("Failed", "Succeeded"):
            raise AgentPodError(
                f"The agent pod ended ({pod.status.phase}: {pod.status.reason or ''} "
                f"{pod.status.message or ''}).".replace(" )", ")")
            )
        if _is_ready(pod):
            once("agent-started", "Agent started.")
            once("agent-ready", "Agent ready.")
            return AgentPodState.READY
        if status is not None and status.state is not None and status.state.running:
            once("agent-started", "Agent started.")
            return AgentPodState.STARTED
        return AgentPodState.PENDING

    def _log_tail(self, pod: Any) -> str:
        try:
            text = self._kube.core.read_namespaced_pod_log(
                pod.metadata.name, pod.metadata.namespace, tail_lines=8
            )
        except (ApiException, ClusterUnreachable):
            return "its log could not be read"
        return " | ".join(line for line in str(text).splitlines() if line.strip())


def _is_ready(pod: Any) -> bool:
    if pod.status is None or pod.status.phase != "Running":
        return False
    return any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
    )


def _is_finished(pod: Any) -> bool:
    return pod.status is not None and pod.status.phase in ("Succeeded", "Failed")


def _is_expired(pod: Any, now: datetime.datetime) -> bool:
    stamp = (pod.metadata.annotations or {}).get(EXPIRES_ANNOTATION, "")
    try:
        return datetime.datetime.fromisoformat(stamp) < now
    except ValueError:
        return False


def _summary(pod: Any) -> str:
    if pod is None:
        return "no status seen"
    phase = pod.status.phase if pod.status else "unknown"
    status = ((pod.status.container_statuses or [None])[0]) if pod.status else None
    waiting = status.state.waiting if status and status.state else None
    return f"phase {phase}" + (f", {waiting.reason}" if waiting else "")
