"""Running the real `kdebug-tui` command against the e2e cluster."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures.cluster import KubernetesCluster

KDEBUG = str(Path(sys.executable).parent / "kdebug-tui")
DEMO_NAMESPACE = "kdebug-demo"


def cli_environment(
    cluster: KubernetesCluster,
    home: Path,
    *,
    kubeconfig: Path | None = None,
    **settings: str,
) -> dict[str, str]:
    """Return the environment of a user of the e2e cluster, with a home of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KDEBUG_") and key != "KUBECONFIG"
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        KUBECONFIG=str(kubeconfig or cluster.user_kubeconfig),
        KDEBUG_IMAGE=cluster.images.tools,
        KDEBUG_RUNTIME_SOCKET=str(cluster.containerd_socket),
        KDEBUG_AGENT_NAMESPACE=cluster.agent_namespace,
    )
    env.update({f"KDEBUG_{key.upper()}": value for key, value in settings.items()})
    return env


def run_cli(
    env: dict[str, str], *args: str, stdin: str = "", timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `kdebug-tui ARGS` without a terminal and wait for it."""
    return subprocess.run(
        [KDEBUG, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def agent_pods(cluster: KubernetesCluster) -> list[dict[str, object]]:
    """Return the agent pods in the agent namespace (name, phase, readiness)."""
    result = subprocess.run(
        cluster.kubectl_command(
            "get",
            "pods",
            "-n",
            cluster.agent_namespace,
            "-l",
            "app.kubernetes.io/managed-by=kdebug-tui",
            "-o",
            "json",
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        {
            "name": item["metadata"]["name"],
            "phase": item["status"].get("phase"),
            "ready": any(
                condition.get("type") == "Ready" and condition.get("status") == "True"
                for condition in item["status"].get("conditions", [])
            ),
        }
        for item in json.loads(result.stdout)["items"]
    ]


def debug_containers(cluster: KubernetesCluster) -> list[str]:
    """Return the debug containers in the node's containerd."""
    result = subprocess.run(
        [
            "ctr",
            "-a",
            str(cluster.containerd_socket),
            "-n",
            "k8s.io",
            "containers",
            "ls",
            "-q",
            "labels.io.kdebug.managed==true",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def eventually(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Wait until `condition` holds, failing with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"After {timeout:.0f} s, still not true: {what}.")


def leftovers(cluster: KubernetesCluster) -> tuple[set[str], set[str]]:
    """Return the names of agent pods and the IDs of debug containers now."""
    pods = {str(pod["name"]) for pod in agent_pods(cluster)}
    return pods, set(debug_containers(cluster))


def nothing_left(
    cluster: KubernetesCluster,
    before: tuple[set[str], set[str]] = (set(), set()),
    *,
    timeout: float = 60,
) -> None:
    """Wait until no agent pod or debug container is left beyond `before`."""
    pods_before, containers_before = before
    eventually(
        lambda: not {str(p["name"]) for p in agent_pods(cluster)} - pods_before,
        timeout=timeout,
        what="no agent pod of the test is left",
    )
    eventually(
        lambda: not set(debug_containers(cluster)) - containers_before,
        timeout=timeout,
        what="no debug container of the test is left",
    )
