"""Agents pre-installed by deploy/daemonset.yaml: used, never created or deleted."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.cli_support import DEMO_NAMESPACE, cli_environment, run_cli
from tests.fixtures.cluster import KubernetesCluster

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "kdebug-system"


def kubectl(cluster: KubernetesCluster, *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        cluster.kubectl_command(*args),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def daemonset(kubernetes_cluster: KubernetesCluster) -> Iterator[str]:
    """Install the DaemonSet as its header says, with this cluster's socket."""
    cluster = kubernetes_cluster
    kubectl(cluster, "create", "namespace", NAMESPACE)
    try:
        kubectl(
            cluster,
            "label",
            "namespace",
            NAMESPACE,
            "pod-security.kubernetes.io/enforce=privileged",
        )
        kubectl(
            cluster,
            "-n",
            NAMESPACE,
            "create",
            "secret",
            "generic",
            "kdebug-agent-token",
            "--from-literal=token=pre-installed-token",
        )
        manifest = yaml.safe_load((REPO / "deploy" / "daemonset.yaml").read_text())
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        container["image"] = cluster.images.agent
        container["env"].append(
            {
                "name": "KDEBUG_AGENT_CONTAINERD_SOCKET",
                "value": str(cluster.containerd_socket),
            }
        )
        kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump(manifest))
        kubectl(
            cluster,
            "-n",
            NAMESPACE,
            "rollout",
            "status",
            "daemonset/kdebug-agent",
            "--timeout=120s",
        )
        yield kubectl(
            cluster,
            "-n",
            NAMESPACE,
            "get",
            "pods",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        )
    finally:
        kubectl(cluster, "delete", "namespace", NAMESPACE, "--wait=false")


def test_sessions_use_the_preinstalled_agent_and_leave_it_running(
    kubernetes_cluster: KubernetesCluster, daemonset: str, tmp_path: Path
) -> None:
    env = cli_environment(
        kubernetes_cluster,
        tmp_path,
        kubeconfig=kubernetes_cluster.admin_kubeconfig,
        agent_namespace=NAMESPACE,
    )
    for round in range(2):
        result = run_cli(
            env,
            "-v",
            "debug",
            "-n",
            DEMO_NAMESPACE,
            "web",
            "--",
            "echo",
            f"round-{round}",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"round-{round}\n"
        assert f"Reusing agent pod {daemonset}" in result.stderr
    pods = kubectl(kubernetes_cluster, "-n", NAMESPACE, "get", "pods", "-o", "name")
    assert pods.split() == [f"pod/{daemonset}"]
