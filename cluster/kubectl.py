"""The Kubernetes binaries of the cluster and a thin way to call kubectl."""

import json
import re
from pathlib import Path
from typing import Any

from cluster import layout
from cluster.commands import run
from cluster.errors import ClusterError

BUILD_SCRIPT = layout.REPO_DIR / "cluster" / "build-k8s.sh"
GO_MOD = layout.REPO_DIR / "cluster" / "k8sbin" / "go.mod"


def kubernetes_version() -> str:
    """Return the Kubernetes release pinned by the wrapper module."""
    match = re.search(r"^require k8s\.io/kubernetes (\S+)", GO_MOD.read_text(), re.M)
    if match is None:
        raise ClusterError(f"{GO_MOD} does not require k8s.io/kubernetes.")
    return match[1]


def binaries_dir() -> Path:
    """Return where build-k8s.sh puts the binaries, built or not."""
    return layout.CACHE_DIR / "kubernetes" / kubernetes_version() / "bin"


def build_binaries() -> Path:
    """Build the Kubernetes binaries unless the cache has them; return their dir."""
    result = run(["bash", BUILD_SCRIPT], timeout=3 * 3600)
    return Path(result.stdout.strip().splitlines()[-1])


def kubectl(
    *args: str,
    kubeconfig: Path = layout.ADMIN_KUBECONFIG,
    input_text: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> str:
    """Run kubectl against the cluster and return its standard output."""
    result = run(
        [binaries_dir() / "kubectl", f"--kubeconfig={kubeconfig}", *args],
        input_text=input_text,
        check=check,
        timeout=timeout,
    )
    return result.stdout


def get_json(*args: str, kubeconfig: Path = layout.ADMIN_KUBECONFIG) -> Any:
    """Run `kubectl get ... -o json` and return the parsed document."""
    return json.loads(kubectl("get", *args, "-o", "json", kubeconfig=kubeconfig))
