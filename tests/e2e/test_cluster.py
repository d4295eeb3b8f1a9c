"""The e2e cluster is a real, usable Kubernetes node.

These tests check what the rest of the e2e suite relies on: the node and the sample
workloads, kubectl's exec, port-forward and debug through the API server and
kubelet, a privileged host-PID pod that reaches containerd's socket (what an agent
pod is), the agent image, and the users' least-privilege RBAC.
"""

import json
import os
import pty
import re
import select
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cluster import layout
from cluster.workloads import DEMO_NAMESPACE, OTHER_NAMESPACE, WEB_PORT, WEB_SERVER
from tests.fixtures.cluster import KubernetesCluster

pytestmark = pytest.mark.e2e

POD_TIMEOUT = 90


def kubectl(
    cluster: KubernetesCluster,
    *args: str,
    kubeconfig: Path | None = None,
    check: bool = True,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run kubectl against the cluster and return what it printed."""
    result = subprocess.run(
        cluster.kubectl_command(*args, kubeconfig=kubeconfig),
        capture_output=True,
        text=True,
        timeout=120,
        input=input_text,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def get_pod(cluster: KubernetesCluster, namespace: str, name: str) -> Any:
    """Return a pod as a parsed document."""
    output = kubectl(cluster, "-n", namespace, "get", "pod", name, "-o", "json").stdout
    return json.loads(output)


def wait_for_phase(
    cluster: KubernetesCluster,
    namespace: str,
    name: str,
    phases: set[str],
    *,
    kubeconfig: Path | None = None,
) -> Any:
    """Wait until a pod reaches one of the phases and return it."""
    deadline = time.monotonic() + POD_TIMEOUT
    while True:
        output = kubectl(
            cluster,
            "-n",
            namespace,
            "get",
            "pod",
            name,
            "-o",
            "json",
            kubeconfig=kubeconfig,
        ).stdout
        pod = json.loads(output)
        if pod.get("status", {}).get("phase") in phases:
            return pod
        assert time.monotonic() < deadline, f"pod {name} stuck: {pod.get('status')}"
        time.sleep(0.5)


@contextmanager
def pod(
    cluster: KubernetesCluster,
    manifest: dict[str, Any],
    *,
    kubeconfig: Path | None = None,
) -> Iterator[str]:
    """Create a pod for the duration of a test and yield its name."""
    kubectl(
        cluster,
        "create",
        "-f",
        "-",
        kubeconfig=kubeconfig,
        input_text=json.dumps(manifest),
    )
    try:
        yield manifest["metadata"]["name"]
    finally:
        kubectl(
            cluster,
            "-n",
            manifest["metadata"]["namespace"],
            "delete",
            "pod",
            manifest["metadata"]["name"],
            "--wait=false",
            kubeconfig=kubeconfig,
            check=False,
        )


def pod_manifest(
    namespace: str, image: str, command: list[str], **spec: Any
) -> dict[str, Any]:
    """Return a one-container pod that runs a command once."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"e2e-{uuid.uuid4().hex[:8]}", "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    **spec.pop("container", {}),
                }
            ],
            **spec,
        },
    }


@contextmanager
def port_forward(
    cluster: KubernetesCluster,
    namespace: str,
    name: str,
    port: int,
    *,
    kubeconfig: Path | None = None,
) -> Iterator[int]:
    """Run `kubectl port-forward` to a pod and yield the local port."""
    process = subprocess.Popen(
        cluster.kubectl_command(
            "-n",
            namespace,
            "port-forward",
            f"pod/{name}",
            f":{port}",
            kubeconfig=kubeconfig,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+) ->", line)
        assert match, f"kubectl port-forward said: {line}"
        yield int(match[1])
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(port: int) -> str:
    """Return the body of an HTTP GET on a local port."""
    url = f"http://127.0.0.1:{port}/"
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_the_node_is_ready_and_the_sample_workloads_run(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """The node is Ready and every sample pod is in the state it was made for."""
    cluster = kubernetes_cluster
    node = json.loads(
        kubectl(cluster, "get", "node", cluster.node_name, "-o", "json").stdout
    )
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"

    def running(namespace: str, name: str) -> dict[str, bool]:
        status = get_pod(cluster, namespace, name)["status"]
        containers = status.get("containerStatuses", []) + status.get(
            "initContainerStatuses", []
        )
        return {c["name"]: "running" in c["state"] for c in containers}

    assert running(DEMO_NAMESPACE, "web") == {"web": True}
    assert running(DEMO_NAMESPACE, "multi") == {
        "app": True,
        "sidecar": True,
        "metrics": True,
    }
    # The native sidecar is an init container that keeps running beside the app.
    assert running(DEMO_NAMESPACE, "native-sidecar") == {"app": True, "proxy": True}
    assert running(DEMO_NAMESPACE, "no-shell") == {"static": True}
    assert running(OTHER_NAMESPACE, "worker") == {"worker": True}
    crashing = get_pod(cluster, DEMO_NAMESPACE, "crash-loop")["status"]
    assert crashing["containerStatuses"][0]["restartCount"] >= 1


def test_the_no_shell_sample_has_no_shell(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """Exec of a shell into the no-shell pod fails: there is nothing to run."""
    result = kubectl(
        kubernetes_cluster,
        "-n",
        DEMO_NAMESPACE,
        "exec",
        "no-shell",
        "--",
        "sh",
        "-c",
        "true",
        check=False,
    )
    assert result.returncode != 0
    assert "no such file" in result.stderr.lower() or "not found" in result.stderr


def test_kubectl_exec_runs_a_command_in_a_sample_container(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """Exec reaches the chosen container of a pod with several containers."""
    result = kubectl(
        kubernetes_cluster,
        "-n",
        DEMO_NAMESPACE,
        "exec",
        "multi",
        "-c",
        "sidecar",
        "--",
        "sh",
        "-c",
        "echo hello from $HOSTNAME",
    )
    assert result.stdout.strip() == "hello from multi"


def test_kubectl_port_forward_reaches_the_web_sample(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """Port-forward through the API server reaches the pod's HTTP server."""
    with port_forward(kubernetes_cluster, DEMO_NAMESPACE, "web", WEB_PORT) as port:
        assert fetch(port).strip() == "hello from kdebug-demo/web"


def test_pods_have_no_route_off_the_machine(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """A pod reaches its own subnet only, and the bridge is fenced off."""
    routes = kubectl(
        kubernetes_cluster,
        "-n",
        DEMO_NAMESPACE,
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "ip -4 route; ip -6 route",
    ).stdout
    assert "default" not in routes
    ipv4 = [line.split()[0] for line in routes.splitlines() if "." in line.split()[0]]
    assert ipv4 == [layout.POD_CIDR]

    rules = subprocess.run(
        ["iptables", "-w", "-S", layout.FORWARD_GUARD_CHAIN],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"-A {layout.FORWARD_GUARD_CHAIN} -i {layout.BRIDGE} -j DROP" in rules
    assert f"-A {layout.FORWARD_GUARD_CHAIN} -o {layout.BRIDGE} -j DROP" in rules


def test_kubectl_debug_shares_the_process_namespace_of_the_target(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """An ephemeral debug container with the tools image sees the target's httpd.

    The target is a pod of the test's own: an ephemeral container stays in its
    pod for good, and the demo's pods must look to later tests as they started.
    """
    cluster = kubernetes_cluster
    manifest = pod_manifest(
        cluster.agent_namespace, cluster.images.shell, ["sh", "-c", WEB_SERVER]
    )
    with pod(cluster, manifest) as name:
        wait_for_phase(cluster, cluster.agent_namespace, name, {"Running"})
        transcript = _debug_with_kubectl(cluster, name)
    assert re.search(rb"^1\r?$", transcript, re.M), transcript.decode()


def _debug_with_kubectl(cluster: KubernetesCluster, name: str) -> bytes:
    """Count the target's httpd processes from a `kubectl debug` shell."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        cluster.kubectl_command(
            "-n",
            cluster.agent_namespace,
            "debug",
            "-it",
            name,
            f"--image={cluster.images.tools}",
            "--image-pull-policy=Never",
            "--profile=general",
            "--target=main",
            "--",
            "sh",
        ),
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
    )
    os.close(secondary)
    transcript = b""

    def read_until(pattern: bytes, timeout: float) -> None:
        nonlocal transcript
        deadline = time.monotonic() + timeout
        while pattern not in transcript:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {pattern!r} in {transcript.decode()!r}"
            ready, _, _ = select.select([primary], [], [], remaining)
            if ready:
                try:
                    transcript += os.read(primary, 65536)
                except OSError:
                    break

    try:
        # kubectl waits for the ephemeral container, then attaches to its shell.
        read_until(b"/ # ", 90)
        os.write(primary, b"ps -o pid,comm | grep -c httpd; echo marker-$((6*7))\n")
        read_until(b"marker-42", 30)
        os.write(primary, b"exit\n")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(primary)
    return transcript


def test_a_privileged_host_pid_pod_reaches_the_containerd_socket(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """A pod shaped like an agent pod runs and sees the host and the runtime."""
    cluster = kubernetes_cluster
    socket = "/run/containerd/containerd.sock"
    manifest = pod_manifest(
        cluster.agent_namespace,
        cluster.images.tools,
        ["sh", "-c", f"test -S {socket} && ps -o comm | grep -x kubelet"],
        hostPID=True,
        container={
            "securityContext": {"privileged": True},
            "volumeMounts": [{"name": "runtime", "mountPath": socket}],
        },
        volumes=[
            {
                "name": "runtime",
                "hostPath": {"path": str(cluster.containerd_socket), "type": "Socket"},
            }
        ],
    )
    with pod(cluster, manifest) as name:
        finished = wait_for_phase(
            cluster, cluster.agent_namespace, name, {"Succeeded", "Failed"}
        )
        logs = kubectl(cluster, "-n", cluster.agent_namespace, "logs", name).stdout
    assert finished["status"]["phase"] == "Succeeded", logs
    assert logs.strip() == "kubelet"


def test_the_agent_image_runs_python_with_the_agent_installed(
    kubernetes_cluster: KubernetesCluster,
) -> None:
    """The agent image imports kdebug_agent and has its console script."""
    cluster = kubernetes_cluster
    script = (
        "command -v kdebug-agent && python3 -c "
        "'import kdebug_agent; print(kdebug_agent.__version__)'"
    )
    manifest = pod_manifest(
        cluster.agent_namespace, cluster.images.agent, ["sh", "-c", script]
    )
    with pod(cluster, manifest) as name:
        finished = wait_for_phase(
            cluster, cluster.agent_namespace, name, {"Succeeded", "Failed"}
        )
        logs = kubectl(cluster, "-n", cluster.agent_namespace, "logs", name).stdout
    assert finished["status"]["phase"] == "Succeeded", logs
    assert logs.split() == ["/usr/local/bin/kdebug-agent", "0.1.0"]


class TestUsersRbac:
    """The test users have deploy/rbac.yaml's rights and no more."""

    def can_i(self, cluster: KubernetesCluster, kubeconfig: Path, *args: str) -> str:
        result = kubectl(
            cluster, "auth", "can-i", *args, kubeconfig=kubeconfig, check=False
        )
        return result.stdout.strip()

    def test_the_user_may_browse_everywhere_but_create_pods_only_for_agents(
        self, kubernetes_cluster: KubernetesCluster
    ) -> None:
        """Reading is cluster-wide; pod creation only in the agent namespace."""
        cluster = kubernetes_cluster
        user = cluster.user_kubeconfig
        assert self.can_i(cluster, user, "list", "pods", "--all-namespaces") == "yes"
        assert self.can_i(cluster, user, "watch", "namespaces") == "yes"
        assert (
            self.can_i(cluster, user, "list", "events", "-n", DEMO_NAMESPACE) == "yes"
        )
        assert (
            self.can_i(cluster, user, "get", "secrets", "-n", DEMO_NAMESPACE) == "yes"
        )
        assert (
            self.can_i(cluster, user, "list", "secrets", "-n", DEMO_NAMESPACE) == "no"
        )
        assert self.can_i(cluster, user, "create", "pods", "-n", "default") == "yes"
        assert self.can_i(cluster, user, "create", "pods", "-n", DEMO_NAMESPACE) == "no"
        assert (
            self.can_i(
                cluster, user, "create", "pods", "--subresource=exec", "-n", "default"
            )
            == "no"
        )

    def test_the_user_may_run_and_port_forward_to_a_pod_in_the_agent_namespace(
        self, kubernetes_cluster: KubernetesCluster
    ) -> None:
        """The user's own credentials create, reach and delete an agent-like pod."""
        cluster = kubernetes_cluster
        user = cluster.user_kubeconfig
        manifest = pod_manifest(
            cluster.agent_namespace,
            cluster.images.shell,
            ["sh", "-c", "echo forwarded > /tmp/i && httpd -f -p 8081 -h /tmp"],
        )
        manifest["spec"]["restartPolicy"] = "Always"
        with pod(cluster, manifest, kubeconfig=user) as name:
            wait_for_phase(
                cluster, cluster.agent_namespace, name, {"Running"}, kubeconfig=user
            )
            with port_forward(
                cluster, cluster.agent_namespace, name, 8081, kubeconfig=user
            ) as port:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/i", timeout=10
                ) as response:
                    assert response.read() == b"forwarded\n"

    def test_the_restricted_user_may_not_port_forward(
        self, kubernetes_cluster: KubernetesCluster
    ) -> None:
        """Without pods/portforward the API server refuses the forward."""
        cluster = kubernetes_cluster
        restricted = cluster.user_no_portforward_kubeconfig
        assert (
            self.can_i(
                cluster,
                restricted,
                "create",
                "pods",
                "--subresource=portforward",
                "-n",
                "default",
            )
            == "no"
        )
        assert (
            self.can_i(cluster, restricted, "create", "pods", "-n", "default") == "yes"
        )
        manifest = pod_manifest(
            cluster.agent_namespace, cluster.images.shell, ["sh", "-c", "sleep 300"]
        )
        with pod(cluster, manifest) as name:
            wait_for_phase(cluster, cluster.agent_namespace, name, {"Running"})
            result = subprocess.run(
                cluster.kubectl_command(
                    "-n",
                    cluster.agent_namespace,
                    "port-forward",
                    f"pod/{name}",
                    ":8081",
                    kubeconfig=restricted,
                ),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        assert result.returncode != 0
        assert "forbidden" in result.stderr.lower(), result.stderr
