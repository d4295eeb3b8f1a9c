"""`scripts/cluster down` leaves nothing behind, and `up` brings the cluster back.

The fixture runs this test after every other one. It brings the cluster back up
afterwards when the fixture means to leave it running; under CI it leaves it down.
"""

import subprocess
from pathlib import Path

import pytest

from cluster import layout
from cluster.teardown import is_cluster_process
from tests.fixtures.cluster import SCRIPT, UP_TIMEOUT, KubernetesCluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster_teardown,
    pytest.mark.timeout(UP_TIMEOUT + 300),
]


def cluster_processes() -> list[str]:
    """Return the cluster's daemons and shims, and processes in pod cgroups."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_cluster_process(int(entry.name)):
            found.append(entry.name)
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
    cluster = kubernetes_cluster
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
        # Bring the cluster back even when a check failed, for the next run.
        up = _bring_up() if cluster.keep_running else None
    if up is not None:
        assert up.returncode == 0, up.stderr[-4000:]
        assert "The cluster is up" in up.stdout


def _bring_up() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "up"],
        capture_output=True,
        text=True,
        timeout=UP_TIMEOUT,
        check=False,
    )
