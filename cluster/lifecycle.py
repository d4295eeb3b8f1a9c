"""Bringing the whole cluster up, reporting on it, and taking it down.

`up` is safe to repeat: a cluster whose daemons all run is reused as it is (images
and samples are only checked and completed), and a cluster found half alive, after
a crash or a reboot, is cleared first and started afresh. Image builds run in a
thread while the control plane starts, since neither waits for the other.
"""

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cluster import components, host, image_set, layout, network, pki, teardown
from cluster.commands import run, wait_until
from cluster.components import Component
from cluster.errors import ClusterError
from cluster.image_set import ClusterImages
from cluster.kubectl import binaries_dir, build_binaries, get_json, kubectl
from cluster.processes import daemon_pid, log_file, start_daemon, tail
from cluster.workloads import (
    CRASH_LOOP_POD,
    SAMPLE_LABEL,
    SAMPLE_LABEL_VALUE,
    SAMPLE_NAMESPACES,
    as_list,
    sample_manifests,
    user_rbac_manifests,
)

logger = logging.getLogger(__name__)

DAEMONS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
)
NODE_READY_TIMEOUT = 120
PODS_TIMEOUT = 180


@dataclass(frozen=True)
class UpReport:
    """What `up` did."""

    reused: bool
    """The cluster was already running and was only checked."""
    images: ClusterImages
    seconds: float


def up() -> UpReport:
    """Bring the cluster up, or make sure the running one is complete.

    Raises:
        ClusterError: A step failed; the message says which and why.
    """
    started = time.monotonic()
    host.check_machine()
    host.install_packages()
    logger.info("Building the Kubernetes binaries unless they are cached.")
    binaries = build_binaries()
    logger.info("Kubernetes binaries: %s.", binaries)
    node_ip = node_address()

    running = [name for name in DAEMONS if daemon_pid(name) is not None]
    reused = len(running) == len(DAEMONS) and _healthy(binaries, node_ip)
    if reused:
        logger.info("The cluster is already running; checking images and samples.")
    elif running or layout.RUN_DIR.exists() or layout.DATA_DIR.exists():
        logger.info("Found a partly running or stale cluster; clearing it first.")
        _report_leftovers(teardown.tear_down())

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="images") as pool:
        images_built = pool.submit(image_set.build_all)
        if not reused:
            _start_control_plane(binaries, node_ip, images_built)
        images = images_built.result()
        image_set.import_all(images)
        if not reused:
            _start_node(binaries, node_ip)

    _wait_for_node()
    _apply_users_rbac()
    _deploy_samples(images.names)
    seconds = time.monotonic() - started
    return UpReport(reused=reused, images=images.names, seconds=seconds)


def down(*, purge: bool = False) -> list[str]:
    """Take the cluster down; return what is left behind (empty when clean)."""
    host.check_machine()
    found = teardown.tear_down(purge=purge)
    _report_leftovers(found)
    return found


def status() -> dict[str, Any]:
    """Return the state of each daemon and of the node, and the useful paths."""
    daemons = {name: daemon_pid(name) for name in DAEMONS}
    node = "unknown"
    if daemons["kube-apiserver"] is not None:
        try:
            node = _node_condition() or "Ready"
        except ClusterError as error:
            node = f"unknown ({error})"
    return {
        "daemons": daemons,
        "node": node,
        "admin_kubeconfig": str(layout.ADMIN_KUBECONFIG),
        "user_kubeconfig": str(layout.USER_KUBECONFIG),
        "user_no_portforward_kubeconfig": str(layout.USER_NO_PORTFORWARD_KUBECONFIG),
        "containerd_socket": str(layout.CONTAINERD_SOCKET),
        "containerd_root": str(layout.CONTAINERD_ROOT),
        "containerd_state": str(layout.CONTAINERD_STATE),
        "logs": str(layout.LOG_DIR),
        "binaries": str(binaries_dir()),
    }


def node_address() -> str:
    """Return this machine's address that the node registers and serves on.

    It is the first global IPv4 address of the interface that holds the default
    route, else of any interface; kubelet and the API server refuse loopback.

    Raises:
        ClusterError: The machine has no global IPv4 address.
    """
    default = run(["ip", "-4", "-o", "route", "show", "default"]).stdout.split()
    device = default[default.index("dev") + 1] if "dev" in default else None
    argv = ["ip", "-4", "-o", "addr", "show", "scope", "global"]
    if device is not None:
        argv += ["dev", device]
    for line in run(argv).stdout.splitlines():
        fields = line.split()
        if fields[1] != layout.BRIDGE and "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    raise ClusterError(
        "This machine has no global IPv4 address; kubelet and the API server "
        "need a non-loopback address to register the node."
    )


def _start_control_plane(
    binaries: Path, node_ip: str, images_built: "Future[image_set.BuiltImages]"
) -> None:
    for directory in (layout.RUN_DIR, layout.DATA_DIR, layout.LOG_DIR):
        directory.mkdir(parents=True, exist_ok=True)
    host.record_host_state()
    pki.ensure_pki(node_ip)
    network.set_up()
    network.write_cni_config()
    components.write_configs(
        node_ip=node_ip, sandbox_image=image_set.image_names().pause
    )
    for component in components.control_plane(binaries, node_ip):
        _start(component)
    _start(components.containerd())
    if not images_built.done():
        logger.info("Waiting for the image builds to finish.")


def _start_node(binaries: Path, node_ip: str) -> None:
    _start(components.kubelet(binaries, node_ip))


def _start(component: Component) -> None:
    started = time.monotonic()
    start_daemon(component.name, component.argv)

    def healthy() -> str | None:
        if daemon_pid(component.name) is None:
            raise ClusterError(
                f"{component.name} exited while starting; the end of "
                f"{log_file(component.name)}:\n{tail(log_file(component.name))}"
            )
        return component.health()

    try:
        wait_until(
            healthy,
            what=f"{component.name} to answer",
            timeout=component.startup_timeout,
        )
    except ClusterError as error:
        raise ClusterError(
            f"{error}\nThe end of {log_file(component.name)}:\n"
            f"{tail(log_file(component.name))}"
        ) from error
    logger.info("%s is up after %.1f s.", component.name, time.monotonic() - started)


def _healthy(binaries: Path, node_ip: str) -> bool:
    checks = components.control_plane(binaries, node_ip) + [
        components.containerd(),
        components.kubelet(binaries, node_ip),
    ]
    problems = [problem for check in checks if (problem := check.health())]
    for problem in problems:
        logger.info("Health check failed: %s.", problem)
    return not problems


def _wait_for_node() -> None:
    logger.info("Waiting for node %s to be Ready.", layout.NODE_NAME)
    started = time.monotonic()
    wait_until(
        _node_condition,
        what=f"node {layout.NODE_NAME} to be Ready",
        timeout=NODE_READY_TIMEOUT,
        interval=1,
    )
    logger.info(
        "Node %s is Ready after %.1f s.", layout.NODE_NAME, time.monotonic() - started
    )


def _node_condition() -> str | None:
    try:
        node = get_json("node", layout.NODE_NAME)
    except ClusterError as error:
        return str(error)
    for condition in node["status"].get("conditions", []):
        if condition["type"] == "Ready":
            if condition["status"] == "True":
                return None
            return f"Ready is {condition['status']}: {condition.get('message', '')}"
    return "the node reports no Ready condition yet"


def _apply_users_rbac() -> None:
    logger.info("Applying deploy/rbac.yaml and binding the test users to it.")
    kubectl("apply", "-f", "-", input_text=as_list(user_rbac_manifests()))


def _deploy_samples(images: ClusterImages) -> None:
    manifests = sample_manifests(
        shell_image=images.shell, no_shell_image=images.no_shell
    )
    namespaces = [m for m in manifests if m["kind"] == "Namespace"]
    pods = [m for m in manifests if m["kind"] == "Pod"]
    kubectl("apply", "-f", "-", input_text=as_list(namespaces))

    # Pods are refused until the service-account controller made the default
    # account and the root CA publisher the CA bundle in their namespace.
    def accounts_ready() -> str | None:
        wanted = {*SAMPLE_NAMESPACES, layout.AGENT_NAMESPACE}
        accounts = get_json(
            "serviceaccounts", "-A", "--field-selector=metadata.name=default"
        )
        bundles = get_json(
            "configmaps", "-A", "--field-selector=metadata.name=kube-root-ca.crt"
        )
        for kind, listing in (
            ("service account default", accounts),
            ("configmap kube-root-ca.crt", bundles),
        ):
            missing = wanted - {
                item["metadata"]["namespace"] for item in listing["items"]
            }
            if missing:
                return f"{kind} is missing in {', '.join(sorted(missing))}"
        return None

    wait_until(accounts_ready, what="the default service accounts", timeout=60)
    logger.info("Deploying the sample pods.")
    kubectl("apply", "-f", "-", input_text=as_list(pods))

    started = time.monotonic()
    wait_until(
        _samples_problem,
        what="the sample pods to run",
        timeout=PODS_TIMEOUT,
        interval=1,
    )
    logger.info("The sample pods run (%.1f s).", time.monotonic() - started)


def _samples_problem() -> str | None:
    pods = get_json("pods", "-A", "-l", f"{SAMPLE_LABEL}={SAMPLE_LABEL_VALUE}")["items"]
    if not pods:
        return "no sample pod exists yet"
    for pod in pods:
        name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        status = pod.get("status", {})
        statuses = status.get("containerStatuses", []) + status.get(
            "initContainerStatuses", []
        )
        if pod["metadata"]["name"] == CRASH_LOOP_POD:
            if not any(s.get("restartCount", 0) >= 1 for s in statuses):
                return f"{name} has not crashed and restarted yet"
            continue
        if status.get("phase") != "Running":
            return f"{name} is {status.get('phase', 'not scheduled')}"
        for container in statuses:
            if "running" not in container.get("state", {}):
                state = container.get("state")
                return f"{name} container {container['name']} is not running: {state}"
    return None


def _report_leftovers(found: list[str]) -> None:
    for item in found:
        logger.warning("Left behind after teardown: %s.", item)
