"""What the cluster needs from the machine: Debian packages and kernel settings.

Packages come from Debian through apt, with a policy-rc.d in place during the
install so that Debian does not start etcd or containerd as system services; the
cluster runs its own instances with its own paths. kubelet rewrites a few kernel
settings when it starts (panic on oops among them), so their earlier values are
recorded before the first start and put back by `down`, which also removes the two
directories that kubelet and containerd create at fixed places.
"""

import json
import logging
import os
import shutil
from pathlib import Path

from cluster import layout
from cluster.commands import run
from cluster.errors import ClusterError

logger = logging.getLogger(__name__)

PACKAGES = (
    "containerd",
    "runc",
    "etcd-server",
    "containernetworking-plugins",
    "iptables",
    "iproute2",
    "conntrack",
    "busybox-static",
    "debootstrap",
    # cluster.images compiles the pause and no-shell programs statically.
    "gcc",
    "libc6-dev",
    "util-linux",
    "mount",
)
"""Debian packages the cluster and its image builds use."""

KUBELET_SYSCTLS = (
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
"""Kernel settings kubelet overwrites at start when protectKernelDefaults is off."""

FIXED_PATHS = (Path("/var/lib/kubelet"), Path("/var/lib/cni"))
"""Paths used whatever the configuration: kubelet's device-plugin socket lives
under the first (kubelet v1.34 hard-codes it), libcni caches results under the
second (containerd 1.6 does not let its cache directory be set)."""

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
POLICY_DENY_ALL = "#!/bin/sh\n# Written by kdebug-tui's cluster script.\nexit 101\n"


def check_machine() -> None:
    """Refuse to go on where the cluster cannot run, saying why.

    Raises:
        ClusterError: Not root, or no cgroup v1 memory controller mounted.
    """
    if os.geteuid() != 0:
        raise ClusterError("The cluster needs root: run the command as root.")
    if (
        not Path("/sys/fs/cgroup/memory").is_dir()
        and not Path("/sys/fs/cgroup/cgroup.controllers").exists()
    ):
        raise ClusterError("No cgroup hierarchy is mounted under /sys/fs/cgroup.")
    if not Path("/dev/kmsg").exists():
        raise ClusterError("/dev/kmsg is missing; kubelet's OOM watcher needs it.")


def install_packages() -> None:
    """Install the Debian packages that are missing, starting no service."""
    missing = [name for name in PACKAGES if not _installed(name)]
    if not missing:
        logger.info("The Debian packages the cluster needs are installed.")
        return

    logger.info("Installing Debian packages: %s.", ", ".join(missing))
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    wrote_policy = not POLICY_RC_D.exists()
    if wrote_policy:
        POLICY_RC_D.write_text(POLICY_DENY_ALL)
        POLICY_RC_D.chmod(0o755)
    try:
        run(["apt-get", "update", "-q"], env=environment, timeout=900)
        run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            env=environment,
            timeout=1800,
        )
    finally:
        if wrote_policy:
            POLICY_RC_D.unlink()


def record_host_state() -> None:
    """Remember the kernel settings kubelet will change and the fixed paths it
    and containerd will create, once per boot."""
    if layout.HOST_STATE_FILE.exists():
        return
    state = {
        "sysctls": {name: _read_sysctl(name) for name in KUBELET_SYSCTLS},
        "created": [str(path) for path in FIXED_PATHS if not path.exists()],
    }
    layout.HOST_STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    layout.HOST_STATE_FILE.write_text(json.dumps(state, indent=2))


def restore_host_state() -> None:
    """Put back the recorded kernel settings and remove the fixed paths that did
    not exist before the cluster first started."""
    try:
        state = json.loads(layout.HOST_STATE_FILE.read_text())
    except FileNotFoundError:
        return

    for name, value in state["sysctls"].items():
        if _read_sysctl(name) != value:
            logger.info("Restoring the kernel setting %s to %s.", name, value)
            _sysctl_path(name).write_text(f"{value}\n")
    for created in map(Path, state.get("created", [])):
        if created.exists():
            logger.info("Removing %s, which the cluster created.", created)
            shutil.rmtree(created)
    layout.HOST_STATE_FILE.unlink()


def _installed(package: str) -> bool:
    result = run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", package], check=False
    )
    return result.stdout.strip() == "installed"


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _read_sysctl(name: str) -> str:
    return _sysctl_path(name).read_text().strip()
