"""A namespace of the test's own on the e2e cluster: its targets and its agent pods.

The cluster is shared with every other e2e test (and, while developing, with
other people's runs), so "nothing is left" can only be checked for what a test
made. Here the test's targets and its agent pods live in a namespace of its own:
whatever agent pod or debug container names that namespace is the test's.
"""

import dataclasses
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

from kubernetes import client

from cluster import pki
from cluster.workloads import IDLE, LAUNCHER_ROLE, WEB_SERVER
from kdebug_tui.backend.kube import Kube
from tests.fixtures.cluster import KubernetesCluster

MANAGED_SELECTOR = "app.kubernetes.io/managed-by=kdebug-tui"
READY_SECONDS = 120.0


@dataclasses.dataclass(frozen=True)
class PrivateNamespace:
    """The namespace, with a `web` pod (busybox httpd) and a `worker` pod (idle)."""

    name: str
    cluster: KubernetesCluster
    admin: Kube

    def agent_pods(self) -> list[str]:
        """The agent pods in the namespace."""
        pods = self.admin.core.list_namespaced_pod(
            self.name, label_selector=MANAGED_SELECTOR
        )
        return [pod.metadata.name for pod in pods.items]

    def debug_containers(self) -> list[str]:
        """The debug containers whose target is in the namespace."""
        result = subprocess.run(
            [
                "ctr", "-a", str(self.cluster.containerd_socket), "-n", "k8s.io",
                "containers", "ls", "-q",
                # ctr's filter syntax needs the quotes around dashed words.
                f'labels."io.kdebug.target-namespace"=="{self.name}"',
            ],
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
        return result.stdout.split()

    def wait_until_clean(self, *, timeout: float = 60) -> None:
        """Wait until no agent pod and no debug container of the test is left."""
        deadline = time.monotonic() + timeout
        while self.agent_pods() or self.debug_containers():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Left behind after {timeout:.0f} s: agent pods "
                    f"{self.agent_pods()}, debug containers {self.debug_containers()}."
                )
            time.sleep(0.5)


def private_namespace(
    cluster: KubernetesCluster, purpose: str
) -> Iterator[PrivateNamespace]:
    """Make the namespace where the user may run agent pods; delete it after.

    After the test, every agent pod (running or finished) and every debug
    container of the namespace must be gone: a test that leaves one fails
    here, before the namespace's deletion would hide it.
    """
    admin = Kube.connect(kubeconfig=str(cluster.admin_kubeconfig))
    name = f"kdebug-tui-{purpose}-{uuid.uuid4().hex[:6]}"
    admin.core.create_namespace({"metadata": {"name": name}})
    try:
        _grant_agent_pods(admin, name, source=cluster.agent_namespace)
        for pod in ("web", "worker"):
            admin.core.create_namespaced_pod(name, _target(pod, cluster.images.shell))
        _wait_running(admin, name, ("web", "worker"))
        namespace = PrivateNamespace(name, cluster, admin)
        yield namespace
        namespace.wait_until_clean()
    finally:
        admin.core.delete_namespace(name)


def _grant_agent_pods(admin: Kube, namespace: str, *, source: str) -> None:
    # The launcher Role of deploy/rbac.yaml, as installed in `source`.
    rbac = client.RbacAuthorizationV1Api(admin.api_client)
    launcher = rbac.read_namespaced_role(LAUNCHER_ROLE, source)
    rbac.create_namespaced_role(
        namespace,
        {"metadata": {"name": LAUNCHER_ROLE}, "rules": launcher.to_dict()["rules"]},
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": f"{LAUNCHER_ROLE}-{pki.USER}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": LAUNCHER_ROLE,
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": pki.USER,
                }
            ],
        },
    )


def _target(name: str, image: str) -> dict[str, Any]:
    script = WEB_SERVER if name == "web" else IDLE
    return {
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "containers": [
                {
                    "name": name,
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                }
            ],
        },
    }


def _wait_running(admin: Kube, namespace: str, names: tuple[str, ...]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        phases = {
            name: admin.core.read_namespaced_pod(name, namespace).status.phase
            for name in names
        }
        if all(phase == "Running" for phase in phases.values()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"The targets did not start: {phases}.")
        time.sleep(0.5)
