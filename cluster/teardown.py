"""Taking the cluster down completely, and telling what, if anything, is left.

Containers go first, through the cluster's containerd while it still runs (killing
every process of each container, not only its first), then the daemons by their
recorded PIDs, then mounts, the pod network, kubelet's cgroups and the cluster's
directories. Pod network namespaces are simply unmounted: with every container
gone nothing holds them, and the interfaces in them disappear with them.
"""

import logging
import os
import shutil
from pathlib import Path

from cluster import host, layout, network
from cluster.commands import run
from cluster.mounts import mounts_below, unmount_below
from cluster.processes import daemon_pid, recorded_daemons, stop_daemon, stop_process

logger = logging.getLogger(__name__)

STOP_ORDER = (
    "kubelet",
    "containerd",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
)
"""Daemons in the order they are stopped: the node before the control plane."""

CLUSTER_PROGRAMS = frozenset(
    {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "containerd",
        "containerd-shim-runc-v2",
        "kubelet",
    }
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"
MOUNT_PREFIXES = (layout.RUN_DIR, layout.STATE_DIR)


def tear_down(*, purge: bool = False) -> list[str]:
    """Stop the cluster and remove what it created.

    Args:
        purge: Also remove the certificates, kubeconfigs and logs, which are kept
            otherwise so that kubeconfigs handed out stay valid across `up`.

    Returns:
        What is still left afterwards (see `leftovers`); empty on success.
    """
    shims = _recorded_shim_pids()
    stop_daemon("kubelet")
    if daemon_pid("containerd") is not None:
        _delete_containers()
    _kill_pod_processes()
    stop_daemon("containerd")
    for pid in shims:
        # The PID was recorded by containerd; make sure it is still that shim.
        if is_cluster_process(pid):
            stop_process(pid, timeout=5)
    for name in STOP_ORDER[2:]:
        # The API server waits ten seconds for watchers that are already gone;
        # its state lives in etcd, which is stopped gracefully after it.
        stop_daemon(name, timeout=3 if name == "kube-apiserver" else 20)
    for name in recorded_daemons():
        stop_daemon(name)

    unmount_below(*MOUNT_PREFIXES)
    network.tear_down()
    _remove_kubepods_cgroups()
    host.restore_host_state()

    for directory in (layout.RUN_DIR, layout.DATA_DIR, layout.CONFIG_DIR):
        _remove_tree(directory)
    if purge:
        _remove_tree(layout.STATE_DIR)
        _remove_tree(layout.LOG_DIR)
    return leftovers()


def leftovers() -> list[str]:
    """Return a description of each process, mount, device or rule left behind."""
    found: list[str] = []
    for pid in _pids():
        if is_cluster_process(pid):
            found.append(f"process {pid}: {_cmdline(pid)[:200]}")
    found += [f"mount {point}" for point in mounts_below(*MOUNT_PREFIXES)]
    if network.bridge_exists():
        found.append(f"network device {layout.BRIDGE}")
    if network.guard_exists():
        found.append(f"iptables chain {layout.FORWARD_GUARD_CHAIN}")
    if network.blackhole_route_exists():
        found.append(f"route blackhole {layout.SERVICE_CIDR}")
    found += [f"cgroup {path}" for path in _kubepods_cgroups()]
    if layout.RUN_DIR.exists() or layout.DATA_DIR.exists():
        found.append(f"directory {layout.RUN_DIR} or {layout.DATA_DIR}")
    return found


def is_cluster_process(pid: int) -> bool:
    """Tell whether a process is part of the cluster.

    That is one of the cluster's programs started with the cluster's paths (a
    kubectl or a shell that merely names a kubeconfig is not), or any process in
    a pod's cgroup.
    """
    if _in_kubepods(pid):
        return True
    try:
        program = Path(os.readlink(f"/proc/{pid}/exe")).name
    except OSError:
        return False
    return program in CLUSTER_PROGRAMS and any(
        str(root) in _cmdline(pid) for root in (layout.STATE_DIR, layout.RUN_DIR)
    )


def _delete_containers() -> None:
    address = ["ctr", "--address", str(layout.CONTAINERD_SOCKET)]
    namespaces = run([*address, "namespaces", "ls", "-q"], check=False).stdout.split()
    for namespace in namespaces:
        ctr = [*address, "--namespace", namespace]
        tasks = run([*ctr, "tasks", "ls", "-q"], check=False).stdout.split()
        if tasks:
            logger.info(
                "Killing %d containers in containerd namespace %s.",
                len(tasks),
                namespace,
            )
        for task in tasks:
            run(
                [*ctr, "tasks", "kill", "--all", "--signal", "SIGKILL", task],
                check=False,
            )
        for task in tasks:
            run([*ctr, "tasks", "delete", "--force", task], check=False)
        containers = run([*ctr, "containers", "ls", "-q"], check=False).stdout.split()
        for container in containers:
            run([*ctr, "containers", "delete", container], check=False)


def _kill_pod_processes() -> None:
    # Anything still in a pod cgroup belongs to a container of this cluster
    # whose runtime could not be asked to stop it.
    for pid in _pids():
        if _in_kubepods(pid):
            logger.info("Killing PID %d, left in a pod cgroup.", pid)
            stop_process(pid, timeout=2)


def _recorded_shim_pids() -> list[int]:
    tasks = layout.CONTAINERD_STATE / "io.containerd.runtime.v2.task"
    pids = []
    for pid_file in tasks.glob("*/*/shim.pid"):
        try:
            pids.append(int(pid_file.read_text().strip()))
        except (OSError, ValueError):
            continue
    return pids


def _kubepods_cgroups() -> list[Path]:
    return sorted(path for path in CGROUP_ROOT.glob(f"*/{KUBEPODS}") if path.is_dir())


def _remove_kubepods_cgroups() -> None:
    for top in _kubepods_cgroups():
        for directory, _, _ in os.walk(top, topdown=False):
            try:
                os.rmdir(directory)
            except OSError as error:
                logger.info("Removing cgroup %s failed: %s.", directory, error)


def _remove_tree(path: Path) -> None:
    if path.exists():
        logger.info("Removing %s.", path)
        shutil.rmtree(path)


def _pids() -> list[int]:
    own = os.getpid()
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and int(entry.name) != own
    ]


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _in_kubepods(pid: int) -> bool:
    try:
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False
    return f":/{KUBEPODS}" in cgroups
