"""The OCI runtime spec of a debug container, built without containerd's Go client.

containerd stores the spec as JSON and hands it to runc unchanged, so the agent
writes the same minimal spec containerd's default would be, then replaces the
namespaces it shares with the target by the target's `/proc/<pid>/ns/*` paths.
The mount namespace is always new: the debug image is the root filesystem.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
"""The type URL containerd's clients store a JSON-encoded spec under."""

OCI_VERSION = "1.0.2-dev"

# Our namespace names (as in the session request) mapped to the spec's names.
NAMESPACE_TYPES = {
    "pid": "pid",
    "net": "network",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
}

# The capabilities a container gets by default, as containerd and Docker give.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Capability names by bit number, as in linux/capability.h.
CAPABILITY_NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK "
    "IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN "
    "SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE "
    "AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND "
    "AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE"
).split()

MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


@dataclasses.dataclass(frozen=True, slots=True)
class IdMapping:
    """One line of a user namespace's uid_map or gid_map."""

    container_id: int
    host_id: int
    size: int

    def to_spec(self) -> dict[str, int]:
        """Return the mapping as the runtime spec writes it."""
        return {
            "containerID": self.container_id,
            "hostID": self.host_id,
            "size": self.size,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class DebugProcess:
    """The debug process: what runs, as whom, with which privileges."""

    args: Sequence[str]
    env: Sequence[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    tty: bool = True
    privileged: bool = False
    capabilities: Sequence[str] = DEFAULT_CAPABILITIES
    """Used when privileged: every capability the node's runtime may grant."""


@dataclasses.dataclass(frozen=True, slots=True)
class SharedNamespaces:
    """The target's namespaces the debug container joins, by host path."""

    paths: Mapping[str, str]
    """Our namespace name (`pid`, `net`, `ipc`, `uts`, `user`) to a host path."""
    uid_mappings: Sequence[IdMapping] = ()
    gid_mappings: Sequence[IdMapping] = ()
    """The joined user namespace's mappings; runc needs them to find root."""


def build_spec(
    process: DebugProcess,
    *,
    cgroups_path: str,
    namespaces: SharedNamespaces,
    hostname: str = "",
) -> dict[str, Any]:
    """Return the OCI runtime spec of a debug container as a JSON-ready dict.

    Args:
        process: the debug process.
        cgroups_path: the container's cgroup, e.g. `/k8s.io/<id>`.
        namespaces: the target's namespaces to join; the others are new.
        hostname: the name of a new UTS namespace; without one it keeps the
            node's name.
    """
    linux: dict[str, Any] = {
        "namespaces": _namespaces(namespaces),
        "cgroupsPath": cgroups_path,
        "resources": {"devices": [{"allow": process.privileged, "access": "rwm"}]},
    }
    if not process.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    if "user" in namespaces.paths:
        linux["uidMappings"] = [m.to_spec() for m in namespaces.uid_mappings]
        linux["gidMappings"] = [m.to_spec() for m in namespaces.gid_mappings]
    spec = {
        "ociVersion": OCI_VERSION,
        "process": _process(process),
        "root": {"path": "rootfs", "readonly": False},
        "mounts": _mounts(writable_sysfs=process.privileged),
        "linux": linux,
    }
    if hostname and "uts" not in namespaces.paths:
        spec["hostname"] = hostname
    return spec


def capabilities_from_mask(mask: int) -> tuple[str, ...]:
    """Return the names of the capabilities set in a `CapEff`-style bit mask."""
    return tuple(
        f"CAP_{name}" for bit, name in enumerate(CAPABILITY_NAMES) if mask >> bit & 1
    )


def _process(process: DebugProcess) -> dict[str, Any]:
    capabilities = list(
        process.capabilities if process.privileged else DEFAULT_CAPABILITIES
    )
    return {
        "terminal": process.tty,
        "user": {"uid": process.uid, "gid": process.gid},
        "args": list(process.args),
        "env": list(process.env),
        "cwd": process.cwd or "/",
        "capabilities": {
            "bounding": capabilities,
            "effective": capabilities,
            "permitted": capabilities,
        },
        "noNewPrivileges": False,
    }


def _namespaces(shared: SharedNamespaces) -> list[dict[str, str]]:
    # The mount namespace is always new so that the debug image is the root.
    entries = [{"type": "mount"}]
    for name in ("pid", "net", "ipc", "uts", "user"):
        entry = {"type": NAMESPACE_TYPES[name]}
        if name in shared.paths:
            entry["path"] = shared.paths[name]
        elif name == "user":
            continue
        entries.append(entry)
    return entries


def _mounts(*, writable_sysfs: bool) -> list[dict[str, Any]]:
    sysfs = ["nosuid", "noexec", "nodev", "rw" if writable_sysfs else "ro"]
    return [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755"]),
        _mount(
            "/dev/pts",
            "devpts",
            "devpts",
            ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        ),
        _mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777"]),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount("/sys", "sysfs", "sysfs", sysfs),
        _mount("/run", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755"]),
    ]


def _mount(
    destination: str, kind: str, source: str, options: list[str]
) -> dict[str, Any]:
    return {
        "destination": destination,
        "type": kind,
        "source": source,
        "options": options,
    }
