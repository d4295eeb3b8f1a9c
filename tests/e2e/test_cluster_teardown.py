"""`scripts/cluster down` leaves nothing behind, and `up` brings the cluster back.

This runs after the other cluster tests in this directory (files run in name order)
and restores the cluster before it returns, so later tests still find it up.
"""

import os
import subprocess
from pathlib import Path

import pytest

from cluster import layout
from tests.fixtures.cluster import SCRIPT, UP_TIMEOUT, KubernetesCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(UP_TIMEOUT + 300)]


def own_ancestors() -> set[int]:
    """Return this process and its parents, whose command lines may name paths."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        status = Path(f"/proc/{pid}/status").read_text()
        pid = int(
            next(
                line for line in status.splitlines() if line.startswith("PPid:")
            ).split()[1]
        )
    return pids


def cluster_processes() -> list[str]:
    """Return the processes that name the cluster's paths or live in pod cgroups."""
    found, skip = [], own_ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cgroups = (entry / "cgroup").read_text()
        except OSError:
            continue
        if "/kdebug-cluster/" in command or ":/kubepods" in cgroups:
            found.append(f"{entry.name}: {command[:120]}")
    return found


def cluster_mounts() -> list[str]:
    """Return the mount points below the cluster's directories."""
    roots = (str(layout.STATE_DIR), str(layout.RUN_DIR))
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line.split()[4] for line in lines if line.split()[4].startswith(roots)]


def test_down_leaves_no_process_mount_or_network_device_and_up_restores_it(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """Nothing of the cluster survives `down`; `up` then brings it all back."""
    down = subprocess.run(
        [str(SCRIPT), "down"], capture_output=True, text=True, timeout=300, check=False
    )
    try:
        assert down.returncode == 0, down.stderr
        assert "nothing is left" in down.stdout
        assert cluster_processes() == []
        assert cluster_mounts() == []
        assert not Path(f"/sys/class/net/{layout.BRIDGE}").exists()
        rules = subprocess.run(
            ["iptables", "-w", "-S"], capture_output=True, text=True, check=True
        ).stdout
        assert layout.FORWARD_GUARD_CHAIN not in rules
        routes = subprocess.run(
            ["ip", "route", "show", "type", "blackhole"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert layout.SERVICE_CIDR not in routes
        assert not list(Path("/sys/fs/cgroup").glob("*/kubepods"))
        assert not layout.RUN_DIR.exists()
    finally:
        up = subprocess.run(
            [str(SCRIPT), "up"],
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT,
            check=False,
        )
    assert up.returncode == 0, up.stderr[-4000:]
    assert "The cluster is up" in up.stdout
