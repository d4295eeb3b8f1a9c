"""The containerd backend: debug containers through containerd's own gRPC API.

Targets and debug containers both live in containerd namespace `k8s.io`, where
the kubelet's containers are and where the CRI plugin keeps pulled images, so a
debug image pulled once is unpacked once. A debug container is put together the
way `ctr run` does it: a lease, a snapshot on the image's layers, a container
record with an OCI spec of our own, FIFOs for its terminal, a task.

The debug container shares the target's pid, network and IPC namespaces (UTS on
request, and the user namespace whenever the target has one of its own) and has
a mount namespace of its own, rooted in the debug image. When it shares the
target's network, the target's `/etc/resolv.conf` and `/etc/hosts` are copied
into it, so that names resolve as they do in the target.

**The target's root filesystem** is reachable inside the debug container at
`/target`, and the environment variable `KDEBUG_TARGET_ROOT` holds that path.
`/target` is a symbolic link, written into the debug container's own writable
layer before it starts, to `/proc/<pid>/root`, where `<pid>` is the target's
main process as the shared pid namespace numbers it (1 in a pod of its own,
something else in a pod that shares one pid namespace among its containers).
The kernel resolves it to the target's root, mounts included, for as long as
the target runs. What follows for the user: `/target` exists only when the
debug container joins the target's pid namespace (the default); reading through
it needs the same privileges as reading another process's root (root, and in an
unprivileged debug container no capabilities the target has and it lacks); and
it works only with the overlayfs and native snapshotters, the ones kubelets use.
"""

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import grpc
import grpc.aio
from google.protobuf import empty_pb2

from kdebug_agent.errors import (
    ImageNotPresent,
    ImagePullFailed,
    TargetNotFound,
    TargetNotRunning,
)
from kdebug_agent.protocol import PullPolicy, RegistryAuth
from kdebug_agent.runtimes.base import (
    AGENT_LABEL,
    MANAGED_LABEL,
    ContainerRuntime,
    DebugContainer,
    DebugSpec,
    ProgressCallback,
    Target,
)
from kdebug_agent.runtimes.containerd_api import (
    containers_pb2,
    cri_images_pb2,
    images_pb2,
    leases_pb2,
    snapshots_pb2,
    task_types_pb2,
    tasks_pb2,
)
from kdebug_agent.runtimes.containerd_builder import (
    TARGET_ROOT,
    TARGET_ROOT_ENV,
    DebugContainerBuilder,
    new_container_id,
)
from kdebug_agent.runtimes.containerd_client import (
    KNOWN_SOCKETS,
    ContainerdClient,
    connect,
    is_not_found,
    runtime_error,
    translated_errors,
)
from kdebug_agent.runtimes.containerd_container import (
    CALL_TIMEOUT,
    ContainerdDebugContainer,
    DebugPlan,
    remove_quietly,
)
from kdebug_agent.runtimes.containerd_images import (
    ImageConfig,
    ImageError,
    normalize_reference,
    read_image_config,
)

__all__ = [
    "KNOWN_SOCKETS",
    "TARGET_ROOT",
    "TARGET_ROOT_ENV",
    "ContainerdDebugContainer",
    "ContainerdRuntime",
]

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "k8s.io"
DEFAULT_FIFO_DIR = "/run/kdebug-agent/fifo"
DEFAULT_SNAPSHOTTER = "overlayfs"

# The CRI plugin labels the containers it makes with the pod's names.
POD_NAME_LABELS = (
    "io.kubernetes.pod.namespace",
    "io.kubernetes.pod.name",
    "io.kubernetes.container.name",
)
SANDBOX_ANNOTATION = "io.kubernetes.cri.sandbox-id"
PULL_TIMEOUT = 600.0
"""Seconds a server-side pull may take."""


class ContainerdRuntime(ContainerRuntime):
    """Debug containers on a node whose containers run under containerd."""

    name = "containerd"

    def __init__(
        self,
        *,
        socket: str | None = None,
        host_root: Path = Path("/"),
        namespace: str = DEFAULT_NAMESPACE,
        fifo_dir: str | os.PathLike[str] = DEFAULT_FIFO_DIR,
        snapshotter: str = DEFAULT_SNAPSHOTTER,
    ) -> None:
        """Configure the backend; nothing is contacted before the first call.

        Args:
            socket: host path of containerd's socket (a `unix://` prefix is
                allowed), tried before the known paths (`KNOWN_SOCKETS`);
                `None` tries only the known paths.
            host_root: where the agent sees the host's filesystem: `/` on the
                host, `/host` in the agent pod. Paths handed to containerd and
                runc are host paths; the agent opens them under this prefix.
            namespace: the containerd namespace of targets and debug containers.
            fifo_dir: host path of the directory for the terminals' FIFOs; the
                shim opens them by this path, so it must be the same on both
                sides of the agent pod's mount.
            snapshotter: the snapshotter the CRI plugin unpacks images into.
        """
        configured = (socket.removeprefix("unix://"),) if socket else ()
        self._candidates = configured + KNOWN_SOCKETS
        self._host_root = host_root
        self._namespace = namespace
        self._fifo_dir = PurePosixPath(os.fspath(fifo_dir))
        self._snapshotter = snapshotter
        self._client: ContainerdClient | None = None
        self._connecting = asyncio.Lock()

    @property
    def socket(self) -> str | None:
        """The host path of the socket that answered, once connected."""
        return self._client.socket if self._client else None

    async def version(self) -> str:
        """Return containerd's name and version, connecting first if needed.

        Raises:
            RuntimeUnavailable: no socket answers; the message names each path
                tried and why it failed.
        """
        client = await self._connected()
        with translated_errors("report its version"):
            response = await client.versions.Version(
                empty_pb2.Empty(), timeout=CALL_TIMEOUT
            )
        return f"containerd {response.version}"

    async def find_target(self, container_id: str) -> Target:
        """Look up a target container by its containerd ID and check it runs.

        Raises:
            TargetNotFound: no container in the namespace has this ID.
            TargetNotRunning: the container has no task, or its task is not
                running; the message names its state.
        """
        client = await self._connected()
        container = await self._target_container(client, container_id)
        process = await self._target_process(client, container_id)
        if process.status != task_types_pb2.RUNNING:
            state = task_types_pb2.Status.Name(process.status).lower()
            raise TargetNotRunning(
                f"The target container {container_id} is {state}, not running."
            )
        pid = int(process.pid)
        return Target(
            container_id=container_id,
            pid=pid,
            name=_display_name(container.labels, container_id),
            has_user_namespace=self._has_own_user_namespace(container_id, pid),
            sandbox_id=_sandbox_id(container.spec.value),
        )

    async def ensure_image(
        self,
        image: str,
        *,
        policy: PullPolicy,
        auth: RegistryAuth | None,
        progress: ProgressCallback,
    ) -> None:
        """Make sure the image is present and unpacked, pulling it server-side.

        Pulls go through the CRI image service on containerd's socket, so the
        image lands in the kubelet's cache, fetched with containerd's own
        registry settings (mirrors, hosts.toml).

        Raises:
            ImageNotPresent: the image is absent and the policy is Never.
            ImagePullFailed: the pull failed; the message has the registry's words.
        """
        client = await self._connected()
        name = _normalized(image)
        if policy != PullPolicy.ALWAYS:
            if await self._image_ready(client, name):
                await progress("image", f"The image {name} is present on the node.")
                return
            if policy == PullPolicy.NEVER:
                raise ImageNotPresent(
                    f"The image {name} is not present on this node and the pull "
                    "policy is Never."
                )
        await progress("image", f"Pulling the image {name}.")
        await self._pull(client, name, auth)
        await progress("image", f"Pulled the image {name}.")

    async def create_debug_container(
        self, spec: DebugSpec, *, progress: ProgressCallback | None = None
    ) -> DebugContainer:
        """Create the debug container and its task, attached to this agent.

        The terminal already has `spec.size` when this returns. Whatever was
        made is removed again if a step fails.

        Args:
            spec: what the container should be.
            progress: told, at stage `create`, how the container differs from
                the usual: a user namespace joined, no `/target`.

        Raises:
            ImageNotPresent: the image is not (or no longer) on the node.
            TargetNotRunning: the target exited meanwhile.
            RuntimeFailure: containerd or runc refused the container.
        """
        client = await self._connected()
        image_name = _normalized(spec.image)
        config = await self._image_config(client, image_name)
        plan = self._plan(new_container_id(spec.session_id))
        builder = DebugContainerBuilder(client, plan, host_root=self._host_root)
        try:
            container = await builder.build(spec, image_name=image_name, config=config)
        except BaseException:
            await remove_quietly(client, plan, host_root=self._host_root)
            raise
        logger.info(
            "Created the debug container %s for the target %s.",
            plan.container_id,
            spec.target.name or spec.target.container_id,
        )
        try:
            await _tell(progress, builder.notices)
        except BaseException:
            await container.remove()
            raise
        return container

    async def remove_orphans(self, *, owner_alive: Callable[[str], bool]) -> list[str]:
        """Remove the debug containers, and half-made ones, of dead agents.

        Args:
            owner_alive: tells, for the value of a container's `AGENT_LABEL`,
                whether that agent still runs; objects of live agents stay.
                Objects without the label have no owner and are removed.

        Returns:
            The IDs of the debug containers (or half-made ones) removed.
        """
        client = await self._connected()
        removed: list[str] = []
        for container_id, owner in sorted((await self._managed(client)).items()):
            if owner and owner_alive(owner):
                continue
            logger.info(
                "Removing the debug container %s: its agent %s is gone.",
                container_id,
                owner or "(unknown)",
            )
            plan = self._plan(container_id)
            if await remove_quietly(client, plan, host_root=self._host_root):
                removed.append(container_id)
        return removed

    async def close(self) -> None:
        """Close the connection to containerd."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _connected(self) -> ContainerdClient:
        async with self._connecting:
            if self._client is None:
                self._client = await connect(
                    self._candidates,
                    host_root=self._host_root,
                    namespace=self._namespace,
                )
            return self._client

    def _plan(self, container_id: str) -> DebugPlan:
        return DebugPlan(
            container_id=container_id,
            fifo_dir=self._fifo_dir,
            snapshotter=self._snapshotter,
        )

    async def _target_container(
        self, client: ContainerdClient, container_id: str
    ) -> Any:
        request = containers_pb2.GetContainerRequest(id=container_id)
        try:
            response = await client.containers.Get(
                request, metadata=client.metadata(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            # containerd rejects malformed IDs as invalid: no such container either.
            if error.code() in (
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.INVALID_ARGUMENT,
            ):
                raise TargetNotFound(
                    f"No container {container_id} exists in containerd namespace "
                    f"{client.namespace} on this node."
                ) from error
            raise runtime_error(error, "look up the target container") from error
        return response.container

    async def _target_process(self, client: ContainerdClient, container_id: str) -> Any:
        request = tasks_pb2.GetRequest(container_id=container_id)
        try:
            response = await client.tasks.Get(
                request, metadata=client.metadata(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            if is_not_found(error):
                raise TargetNotRunning(
                    f"The target container {container_id} has no task: it was "
                    "never started or its task has been deleted."
                ) from error
            raise runtime_error(error, "look up the target's task") from error
        return response.process

    def _has_own_user_namespace(self, container_id: str, pid: int) -> bool:
        proc = self._host_root / "proc"
        try:
            target = os.readlink(proc / str(pid) / "ns" / "user")
        except FileNotFoundError as error:
            raise TargetNotRunning(
                f"The target container {container_id} has just exited."
            ) from error
        # "self" in the host's procfs is the agent as the host numbers it.
        return target != os.readlink(proc / "self" / "ns" / "user")

    async def _image_ready(self, client: ContainerdClient, name: str) -> bool:
        try:
            config = await self._image_config(client, name)
        except ImageNotPresent as error:
            logger.info("%s", error)
            return False
        request = snapshots_pb2.StatSnapshotRequest(
            snapshotter=self._snapshotter, key=config.chain_id
        )
        try:
            await client.snapshots.Stat(
                request, metadata=client.metadata(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            if is_not_found(error):
                logger.info("The image %s is present but not unpacked.", name)
                return False
            raise runtime_error(error, f"check that {name} is unpacked") from error
        return True

    async def _image_config(self, client: ContainerdClient, name: str) -> ImageConfig:
        request = images_pb2.GetImageRequest(name=name)
        try:
            response = await client.images.Get(
                request, metadata=client.metadata(), timeout=CALL_TIMEOUT
            )
            target = response.image.target
            return await read_image_config(
                target.media_type, target.digest, read=client.read_blob
            )
        except grpc.aio.AioRpcError as error:
            if is_not_found(error):
                raise ImageNotPresent(
                    f"The image {name} is not present on this node."
                ) from error
            raise runtime_error(error, f"read the image {name}") from error
        except ImageError as error:
            raise ImageNotPresent(f"The image {name} is unusable: {error}") from error

    async def _pull(
        self, client: ContainerdClient, name: str, auth: RegistryAuth | None
    ) -> None:
        request = cri_images_pb2.PullImageRequest(
            image=cri_images_pb2.ImageSpec(image=name), auth=_auth_config(auth)
        )
        try:
            await client.cri_images.PullImage(
                request, metadata=client.metadata(), timeout=PULL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            raise ImagePullFailed(_pull_failure(name, error)) from error
        logger.info("Pulled the image %s through the CRI image service.", name)

    async def _managed(self, client: ContainerdClient) -> dict[str, str]:
        """Return the IDs of our containers and leases, each with its owner."""
        selector = f'labels."{MANAGED_LABEL}"'
        with translated_errors("list the debug containers"):
            containers = await client.containers.List(
                containers_pb2.ListContainersRequest(filters=[selector]),
                metadata=client.metadata(),
                timeout=CALL_TIMEOUT,
            )
            leases = await client.leases.List(
                leases_pb2.ListRequest(filters=[selector]),
                metadata=client.metadata(),
                timeout=CALL_TIMEOUT,
            )
        owners = {
            lease.id: lease.labels.get(AGENT_LABEL, "") for lease in leases.leases
        }
        for container in containers.containers:
            owners[container.id] = container.labels.get(AGENT_LABEL, "")
        return owners


async def _tell(progress: ProgressCallback | None, notices: list[str]) -> None:
    if progress is None:
        return
    for notice in notices:
        await progress("create", notice)


def _normalized(image: str) -> str:
    try:
        return normalize_reference(image)
    except ValueError as error:
        raise ImageNotPresent(str(error)) from error


def _display_name(labels: Mapping[str, str], container_id: str) -> str:
    names = [labels.get(key, "") for key in POD_NAME_LABELS]
    return "/".join(names) if all(names) else container_id


def _sandbox_id(spec_json: bytes) -> str:
    try:
        annotations = json.loads(spec_json).get("annotations") or {}
    except (ValueError, AttributeError):
        return ""
    return str(annotations.get(SANDBOX_ANNOTATION, ""))


def _auth_config(auth: RegistryAuth | None) -> Any:
    if auth is None:
        return None
    # The server address is left out: containerd 1.6's CRI plugin parses it as
    # a URL and refuses a bare "host:port" (as a pull secret's key has it), and
    # the credentials were already chosen for this image's registry.
    return cri_images_pb2.AuthConfig(
        username=auth.username,
        password=auth.password,
        identity_token=auth.identity_token,
    )


def _pull_failure(name: str, error: grpc.aio.AioRpcError) -> str:
    if error.code() == grpc.StatusCode.UNIMPLEMENTED:
        return (
            f"The image {name} cannot be pulled: containerd's CRI plugin, "
            "through which the agent pulls, is disabled on this node."
        )
    return f"Pulling the image {name} failed: {error.details()}"
