"""Putting one containerd debug container together, the way `ctr run` does.

Order matters: a lease first, so the garbage collector leaves the new snapshot
alone; the snapshot on the image's layers, into whose writable directory the
agent writes the `/target` link, the target's name resolution files and any
missing mount points; the container record with our OCI spec; the FIFOs,
opened before the task exists because the shim blocks until they are; the task;
and the terminal's size, set before the process is started.
"""

import datetime
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc.aio
from google.protobuf import any_pb2

from kdebug_agent.errors import ImageNotPresent, RuntimeFailure, TargetNotRunning
from kdebug_agent.runtimes.base import (
    AGENT_LABEL,
    MANAGED_LABEL,
    SESSION_LABEL,
    TARGET_LABEL,
    DebugSpec,
    Target,
)
from kdebug_agent.runtimes.containerd_api import (
    containers_pb2,
    leases_pb2,
    snapshots_pb2,
    tasks_pb2,
)
from kdebug_agent.runtimes.containerd_client import (
    ContainerdClient,
    is_not_found,
    runtime_error,
    translated_errors,
)
from kdebug_agent.runtimes.containerd_container import (
    CALL_TIMEOUT,
    ContainerdDebugContainer,
    DebugPlan,
)
from kdebug_agent.runtimes.containerd_images import (
    DEFAULT_PATH,
    ImageConfig,
    ImageError,
    resolve_user,
)
from kdebug_agent.runtimes.containerd_io import FifoPipes
from kdebug_agent.runtimes.containerd_spec import (
    SPEC_TYPE_URL,
    DebugProcess,
    IdMapping,
    SharedNamespaces,
    build_spec,
    capabilities_from_mask,
)

logger = logging.getLogger(__name__)

TARGET_ROOT = "/target"
"""Where the target's root filesystem is reachable inside the debug container."""
TARGET_ROOT_ENV = "KDEBUG_TARGET_ROOT"
"""The environment variable that holds `TARGET_ROOT` in the debug container."""

RUNC_RUNTIME = "io.containerd.runc.v2"
# A lease outlives a crashed agent by a day at most; the next agent on the node
# removes it sooner, by its labels.
LEASE_EXPIRY = datetime.timedelta(hours=24)
GC_EXPIRE_LABEL = "containerd.io/gc.expire"
# Files of the target copied into the debug container, so that name resolution
# in the shared network namespace behaves as it does in the target.
TARGET_FILES = ("/etc/resolv.conf", "/etc/hosts")
HOSTNAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9.]{0,62})")
"""A hostname the debug container may take from the target (64 bytes at most)."""
# The directories the spec mounts file systems on (see containerd_spec).
MOUNT_POINT_DIRECTORIES = ("/proc", "/dev", "/sys", "/run")

NO_PID_NAMESPACE_NOTICE = (
    f"The debug container does not share the target's processes, so the target's "
    f"files are not at {TARGET_ROOT}."
)
NO_LINK_NOTICE = (
    f"This node's snapshotter is not one the agent can prepare, so the target's "
    f"files are not at {TARGET_ROOT}."
)
USER_NAMESPACE_NOTICE = (
    "The target runs in a user namespace of its own; the debug container joins it, "
    "so its root is the target's root and not the node's."
)

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9]+")


def new_container_id(session_id: str) -> str:
    """Return a fresh containerd ID for a session's debug container."""
    readable = _ID_UNSAFE.sub("", session_id)[:32]
    suffix = secrets.token_hex(4)
    return f"kdebug-{readable}-{suffix}" if readable else f"kdebug-{suffix}"


class DebugContainerBuilder:
    """Makes one debug container, step by step, under one lease."""

    def __init__(
        self, client: ContainerdClient, plan: DebugPlan, *, host_root: Path
    ) -> None:
        self._client = client
        self._plan = plan
        self._host_root = host_root
        self.notices: list[str] = []
        """Sentences for the user about how the container differs from the usual."""

    async def build(
        self, spec: DebugSpec, *, image_name: str, config: ImageConfig
    ) -> ContainerdDebugContainer:
        """Create the container and its task; the caller removes it on failure.

        Raises:
            ImageNotPresent: the image's layers are not unpacked.
            TargetNotRunning: the target exited meanwhile.
            RuntimeFailure: containerd or runc refused a step.
        """
        labels = {
            **spec.labels,
            MANAGED_LABEL: "true",
            SESSION_LABEL: spec.session_id,
            TARGET_LABEL: spec.target.container_id,
        }
        await self._create_lease(labels)
        mounts = await self._prepare_snapshot(config.chain_id)
        layers = layer_directories(mounts, host_root=self._host_root)
        try:
            oci_spec = self._prepare_files_and_spec(spec, config, layers)
        except OSError as error:
            raise RuntimeFailure(
                "The agent could not prepare the debug container's files: "
                f"{error.strerror} ({error.filename})."
            ) from error
        await self._create_container(image_name, oci_spec, labels)
        pipes = self._open_pipes(tty=spec.tty)
        try:
            await self._create_task(mounts, pipes, tty=spec.tty)
        except BaseException:
            pipes.close()
            raise
        container = ContainerdDebugContainer(
            self._client, self._plan, pipes=pipes, host_root=self._host_root
        )
        if spec.tty and spec.size is not None:
            await container.resize(spec.size)
        return container

    def _prepare_files_and_spec(
        self, spec: DebugSpec, config: ImageConfig, layers: list[Path]
    ) -> dict[str, Any]:
        if layers:
            make_mount_points(layers)
            if "net" in spec.namespaces:
                self._copy_target_files(spec.target, layers[0])
        return build_spec(
            self._debug_process(spec, config, layers),
            cgroups_path=f"/{self._client.namespace}/{self._plan.container_id}",
            namespaces=self._shared_namespaces(spec),
            hostname=self._target_hostname(spec.target),
        )

    def _target_hostname(self, target: Target) -> str:
        # A UTS namespace of its own would bear the node's name, and `hostname`
        # in a pod's debug shell would name the node: the kubelet writes the
        # pod's hostname into each of its containers' /etc/hostname.
        path = self._host_root / "proc" / str(target.pid) / "root" / "etc/hostname"
        try:
            if path.is_symlink():
                return ""
            name = path.read_text(encoding="ascii", errors="strict").strip()
        except (OSError, ValueError):
            return ""
        return name if HOSTNAME.fullmatch(name) else ""

    async def _create_lease(self, labels: Mapping[str, str]) -> None:
        expiry = datetime.datetime.now(datetime.UTC) + LEASE_EXPIRY
        # The lease carries our labels so that orphans can be found by them.
        lease_labels = {
            key: labels[key] for key in (MANAGED_LABEL, AGENT_LABEL) if key in labels
        }
        lease_labels[GC_EXPIRE_LABEL] = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        request = leases_pb2.CreateRequest(id=self._plan.lease_id, labels=lease_labels)
        with translated_errors("create a lease for the debug container"):
            await self._client.leases.Create(
                request, metadata=self._client.metadata(), timeout=CALL_TIMEOUT
            )

    async def _prepare_snapshot(self, parent: str) -> list[Any]:
        request = snapshots_pb2.PrepareSnapshotRequest(
            snapshotter=self._plan.snapshotter,
            key=self._plan.snapshot_key,
            parent=parent,
            labels={MANAGED_LABEL: "true"},
        )
        try:
            response = await self._client.snapshots.Prepare(
                request,
                metadata=self._client.metadata(lease=self._plan.lease_id),
                timeout=CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as error:
            if is_not_found(error):
                raise ImageNotPresent(
                    "The debug image's layers are not unpacked on this node: "
                    f"{error.details()}"
                ) from error
            doing = "prepare the debug container's snapshot"
            raise runtime_error(error, doing) from error
        return list(response.mounts)

    def _debug_process(
        self, spec: DebugSpec, config: ImageConfig, layers: list[Path]
    ) -> DebugProcess:
        try:
            uid, gid = resolve_user(config.user, layers=layers)
        except ImageError as error:
            raise RuntimeFailure(str(error)) from error
        env = process_environment(config.env, tty=spec.tty)
        if "pid" not in spec.namespaces:
            self.notices.append(NO_PID_NAMESPACE_NOTICE)
        elif self._link_target_root(spec.target, layers):
            env.append(f"{TARGET_ROOT_ENV}={TARGET_ROOT}")
        args = spec.command or (config.entrypoint + config.cmd)
        if not args:
            raise RuntimeFailure("No command was given and the debug image has none.")
        return DebugProcess(
            args=args,
            env=env,
            cwd=config.working_dir or "/",
            uid=uid,
            gid=gid,
            tty=spec.tty,
            privileged=spec.privileged,
            capabilities=current_capabilities(),
        )

    def _link_target_root(self, target: Target, layers: list[Path]) -> bool:
        if not layers:
            logger.warning(
                "The snapshot's mounts are of a kind the agent cannot write."
            )
            self.notices.append(NO_LINK_NOTICE)
            return False
        link = layers[0] / TARGET_ROOT.lstrip("/")
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        elif link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f"/proc/{namespace_pid(self._host_root, target)}/root")
        return True

    def _shared_namespaces(self, spec: DebugSpec) -> SharedNamespaces:
        pid = spec.target.pid
        wanted = [name for name in spec.namespaces if name != "user"]
        if spec.target.has_user_namespace:
            wanted.append("user")
            self.notices.append(USER_NAMESPACE_NOTICE)
        paths = {name: f"/proc/{pid}/ns/{name}" for name in wanted}
        if "user" not in paths:
            return SharedNamespaces(paths=paths)
        proc = self._host_root / "proc" / str(pid)
        return SharedNamespaces(
            paths=paths,
            uid_mappings=read_id_mappings(proc / "uid_map"),
            gid_mappings=read_id_mappings(proc / "gid_map"),
        )

    def _copy_target_files(self, target: Target, upper: Path) -> None:
        # The debug container shares the target's network, so it should resolve
        # names as the target does. The files are copied, not bind-mounted: in a
        # pod they are mounts in the target's mount namespace, and the kernel
        # refuses to bind a mount of another mount namespace (EINVAL).
        root = self._host_root / "proc" / str(target.pid) / "root"
        for path in TARGET_FILES:
            source = root / path.lstrip("/")
            # An absolute link would be followed in the agent's root, not the
            # target's, and so copy the wrong file.
            if source.is_symlink():
                continue
            try:
                content = source.read_bytes()
            except OSError as error:
                logger.info("The target's %s is not readable: %s.", path, error)
                continue
            copy = upper / path.lstrip("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            if copy.is_symlink():
                copy.unlink()
            copy.write_bytes(content)

    async def _create_container(
        self, image_name: str, oci_spec: dict[str, Any], labels: Mapping[str, str]
    ) -> None:
        container = containers_pb2.Container(
            id=self._plan.container_id,
            labels=labels,
            image=image_name,
            runtime=containers_pb2.Container.Runtime(name=RUNC_RUNTIME),
            spec=any_pb2.Any(
                type_url=SPEC_TYPE_URL, value=json.dumps(oci_spec).encode()
            ),
            snapshotter=self._plan.snapshotter,
            snapshot_key=self._plan.snapshot_key,
        )
        with translated_errors("create the debug container"):
            await self._client.containers.Create(
                containers_pb2.CreateContainerRequest(container=container),
                metadata=self._client.metadata(lease=self._plan.lease_id),
                timeout=CALL_TIMEOUT,
            )

    def _open_pipes(self, *, tty: bool) -> FifoPipes:
        try:
            return FifoPipes(
                self._plan.fifo_path, host_root=self._host_root, stderr=not tty
            )
        except OSError as error:
            raise RuntimeFailure(
                f"The agent could not make the FIFOs of the debug terminal under "
                f"{self._plan.fifo_path}: {error.strerror}."
            ) from error

    async def _create_task(
        self, mounts: list[Any], pipes: FifoPipes, *, tty: bool
    ) -> None:
        request = tasks_pb2.CreateTaskRequest(
            container_id=self._plan.container_id,
            rootfs=mounts,
            stdin=pipes.stdin_path,
            stdout=pipes.stdout_path,
            stderr=pipes.stderr_path,
            terminal=tty,
        )
        with translated_errors("create the debug container's task"):
            await self._client.tasks.Create(
                request, metadata=self._client.metadata(), timeout=CALL_TIMEOUT
            )


def layer_directories(mounts: list[Any], *, host_root: Path) -> list[Path]:
    """Return the directories of a snapshot's layers, writable one first.

    Only the overlay and bind mounts of the overlayfs and native snapshotters
    are understood; for any other mount the list is empty.
    """
    if len(mounts) != 1:
        return []
    mount = mounts[0]
    options = {}
    for option in mount.options:
        key, _, value = str(option).partition("=")
        options[key] = value
    if mount.type == "bind":
        directories = [str(mount.source)]
    elif mount.type == "overlay" and "upperdir" in options:
        directories = [options["upperdir"], *options.get("lowerdir", "").split(":")]
    else:
        return []
    return [host_root / d.lstrip("/") for d in directories if d]


def make_mount_points(layers: list[Path]) -> None:
    """Create the spec's mount point directories the image lacks, in its upper layer.

    runc creates missing mount points itself, but as the container's root: in a
    user namespace of the target's, that root cannot write to an image owned by
    the host's root. Made here, by the agent, they need no such write.

    Args:
        layers: the layer directories, the writable one first.
    """
    for path in MOUNT_POINT_DIRECTORIES:
        relative = path.lstrip("/")
        if not any(os.path.lexists(layer / relative) for layer in layers):
            (layers[0] / relative).mkdir(mode=0o755)


def process_environment(image_env: tuple[str, ...], *, tty: bool) -> list[str]:
    """Return the debug process's environment: the image's, plus PATH and TERM."""
    env = list(image_env)
    names = {entry.partition("=")[0] for entry in env}
    if "PATH" not in names:
        env.append(f"PATH={DEFAULT_PATH}")
    if tty and "TERM" not in names:
        env.append("TERM=xterm")
    return env


def current_capabilities() -> tuple[str, ...]:
    """Return the capabilities the agent has, the most a debug container can get.

    runc cannot grant a capability its caller lacks, and nodes do not always
    have all of them (this project's CI VM lacks CAP_SYS_RESOURCE), so
    "privileged" means every capability the agent itself holds.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return capabilities_from_mask(int(line.split()[1], 16))
    return ()


def namespace_pid(host_root: Path, target: Target) -> int:
    """Return the target's pid as its own pid namespace numbers it.

    Raises:
        TargetNotRunning: the target's process has exited.
    """
    status = host_root / "proc" / str(target.pid) / "status"
    try:
        lines = status.read_text().splitlines()
    except FileNotFoundError as error:
        raise TargetNotRunning(
            f"The target container {target.container_id} has just exited."
        ) from error
    for line in lines:
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    # Kernels before 4.1 have no NSpid line; a container's main process is 1.
    return 1


def read_id_mappings(path: Path) -> list[IdMapping]:
    """Read a `/proc/<pid>/uid_map` or `gid_map` file."""
    mappings = []
    for line in path.read_text().splitlines():
        inside, outside, size = (int(field) for field in line.split())
        mappings.append(IdMapping(container_id=inside, host_id=outside, size=size))
    return mappings
