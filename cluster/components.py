"""The cluster's daemons: their configuration files, command lines and health checks.

Everything runs as root on this machine with the cluster's own paths and ports
(`cluster.layout`): etcd on loopback, the control plane with client certificates
from `cluster.pki`, a containerd of its own, and kubelet. The settings that matter
on this kind of machine are explained where they are set.
"""

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from cluster import layout
from cluster.commands import run
from cluster.pki import certificate_path, key_path


@dataclass(frozen=True)
class Component:
    """One daemon of the cluster."""

    name: str
    argv: list[str]
    health: Callable[[], str | None]
    """Returns None when the daemon answers as healthy, else what is wrong."""
    startup_timeout: float = 60


def control_plane(binaries: Path, node_ip: str) -> list[Component]:
    """Return etcd, the API server, the controller manager and the scheduler.

    Args:
        binaries: The directory holding the Kubernetes binaries.
        node_ip: The address the API server advertises to the cluster.
    """
    pki = layout.PKI_DIR
    kubeconfigs = layout.KUBECONFIG_DIR
    etcd_url = f"http://127.0.0.1:{layout.ETCD_CLIENT_PORT}"
    peer_url = f"http://127.0.0.1:{layout.ETCD_PEER_PORT}"
    etcd = Component(
        "etcd",
        [
            "/usr/bin/etcd",
            "--name=kdebug",
            f"--data-dir={layout.ETCD_DATA_DIR}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=kdebug={peer_url}",
            # etcd 3.4.23 lacks the requested progress notifications the API
            # server's watch cache uses to catch up (etcd 3.4.31 or later has
            # them), so the cache of a resource that seldom changes lags behind
            # etcd, and a watch or list from a newer resource version fails
            # after 3 s with "Too large resource version". Periodic progress
            # notifications keep every cache within a second of etcd. Not
            # needed once the cluster runs etcd 3.4.31+ or 3.5.13+.
            "--experimental-watch-progress-notify-interval=1s",
            "--logger=zap",
            "--log-outputs=stderr",
        ],
        lambda: _http_check(f"{etcd_url}/health", expect='"health":"true"'),
    )
    apiserver = Component(
        "kube-apiserver",
        [
            str(binaries / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            f"--advertise-address={node_ip}",
            f"--secure-port={layout.API_PORT}",
            f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
            f"--tls-cert-file={certificate_path('apiserver')}",
            f"--tls-private-key-file={key_path('apiserver')}",
            f"--client-ca-file={certificate_path('ca')}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={key_path('sa')}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            # Agent pods are privileged and the tests run hostPID pods.
            "--allow-privileged=true",
            f"--kubelet-client-certificate={certificate_path('apiserver-kubelet-client')}",
            f"--kubelet-client-key={key_path('apiserver-kubelet-client')}",
            f"--kubelet-certificate-authority={certificate_path('ca')}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--profiling=false",
        ],
        _api_server_ready,
        startup_timeout=120,
    )
    manager_kubeconfig = kubeconfigs / "controller-manager.kubeconfig"
    controller_manager = Component(
        "kube-controller-manager",
        [
            str(binaries / "kube-controller-manager"),
            f"--kubeconfig={manager_kubeconfig}",
            f"--authentication-kubeconfig={manager_kubeconfig}",
            f"--authorization-kubeconfig={manager_kubeconfig}",
            f"--service-account-private-key-file={key_path('sa')}",
            # Publishes kube-root-ca.crt, which every projected token volume needs.
            f"--root-ca-file={certificate_path('ca')}",
            f"--cluster-signing-cert-file={certificate_path('ca')}",
            f"--cluster-signing-key-file={key_path('ca')}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={layout.SERVICE_CIDR}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.CONTROLLER_MANAGER_PORT}",
            "--profiling=false",
        ],
        lambda: _http_check(
            f"https://127.0.0.1:{layout.CONTROLLER_MANAGER_PORT}/healthz", expect="ok"
        ),
    )
    scheduler = Component(
        "kube-scheduler",
        [
            str(binaries / "kube-scheduler"),
            f"--config={layout.CONFIG_DIR / 'scheduler.yaml'}",
            f"--authentication-kubeconfig={kubeconfigs / 'scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={kubeconfigs / 'scheduler.kubeconfig'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.SCHEDULER_PORT}",
            "--profiling=false",
        ],
        lambda: _http_check(
            f"https://127.0.0.1:{layout.SCHEDULER_PORT}/healthz", expect="ok"
        ),
    )
    return [etcd, apiserver, controller_manager, scheduler]


def containerd() -> Component:
    """Return the cluster's own containerd."""
    return Component(
        "containerd",
        ["/usr/bin/containerd", f"--config={layout.CONFIG_DIR / 'containerd.toml'}"],
        _containerd_answers,
    )


def kubelet(binaries: Path, node_ip: str) -> Component:
    """Return the node's kubelet."""
    return Component(
        "kubelet",
        [
            str(binaries / "kubelet"),
            f"--config={layout.CONFIG_DIR / 'kubelet.yaml'}",
            f"--kubeconfig={layout.KUBECONFIG_DIR / 'kubelet.kubeconfig'}",
            f"--hostname-override={layout.NODE_NAME}",
            # The host name resolves to 127.0.0.1 here, which kubelet refuses.
            f"--node-ip={node_ip}",
            f"--root-dir={layout.KUBELET_ROOT}",
            f"--cert-dir={layout.KUBELET_ROOT / 'pki'}",
        ],
        lambda: _http_check(
            f"http://127.0.0.1:{layout.KUBELET_HEALTHZ_PORT}/healthz", expect="ok"
        ),
    )


def write_configs(*, node_ip: str, sandbox_image: str) -> None:
    """Write the containerd, kubelet and scheduler configuration files.

    Args:
        node_ip: The address kubelet serves on.
        sandbox_image: Full name of the locally imported pause image.
    """
    layout.CONFIG_DIR.mkdir(parents=True, exist_ok=True)
    (layout.CONFIG_DIR / "containerd.toml").write_text(containerd_config(sandbox_image))
    (layout.CONFIG_DIR / "kubelet.yaml").write_text(
        yaml.safe_dump(kubelet_config(node_ip), sort_keys=False)
    )
    scheduler_config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {
            "kubeconfig": str(layout.KUBECONFIG_DIR / "scheduler.kubeconfig")
        },
        "leaderElection": {"leaderElect": False},
    }
    (layout.CONFIG_DIR / "scheduler.yaml").write_text(
        yaml.safe_dump(scheduler_config, sort_keys=False)
    )


def containerd_config(sandbox_image: str) -> str:
    """Return containerd's configuration (version 2 TOML)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    runc = f"{cri}.containerd.runtimes.runc"
    return f"""\
# Written by kdebug-tui's cluster script; rewritten on every `up`.
version = 2
root = {_toml(layout.CONTAINERD_ROOT)}
state = {_toml(layout.CONTAINERD_STATE)}
oom_score = 0

[grpc]
  address = {_toml(layout.CONTAINERD_SOCKET)}

[plugins."io.containerd.internal.v1.opt"]
  path = {_toml(layout.CONTAINERD_ROOT / "opt")}

[{cri}]
  sandbox_image = {_toml(sandbox_image)}
  # This machine lacks CAP_SYS_RESOURCE: a negative oom_score_adj (the pause
  # container's -998) fails unless it is clamped to containerd's own score.
  restrict_oom_score_adj = true
  # Keeps pod network namespaces under the state directory, not /run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{runc}]
  runtime_type = "io.containerd.runc.v2"

[{runc}.options]
  SystemdCgroup = false
  Root = {_toml(layout.RUNC_ROOT)}

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = {_toml(layout.CNI_CONF_DIR)}
  max_conf_num = 1
"""


def kubelet_config(node_ip: str) -> dict[str, object]:
    """Return kubelet's KubeletConfiguration."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node_ip,
        "port": layout.KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": layout.KUBELET_HEALTHZ_PORT,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(certificate_path("ca"))},
        },
        "authorization": {"mode": "Webhook"},
        "tlsCertFile": str(certificate_path("kubelet-server")),
        "tlsPrivateKeyFile": str(key_path("kubelet-server")),
        "containerRuntimeEndpoint": f"unix://{layout.CONTAINERD_SOCKET}",
        # containerd 1.6 cannot report its cgroup driver (CRI RuntimeConfig), so
        # kubelet falls back to this; there is no systemd here.
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": True,
        # Harmless on 1.34; from 1.35 on, kubelet refuses cgroup v1 without it.
        "failCgroupV1": False,
        "failSwapOn": False,
        # Negative scores need CAP_SYS_RESOURCE, which this machine does not grant.
        "oomScoreAdj": 0,
        # Pods inherit no name servers: nothing they could reach is outside.
        "resolvConf": "",
        "podLogsDir": str(layout.POD_LOG_DIR),
        "makeIPTablesUtilChains": False,
        "serializeImagePulls": False,
        "runtimeRequestTimeout": "2m",
        # Small CI disks must not evict the sample pods, and image garbage
        # collection must not delete the imported images, which cannot be pulled.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
    }


def _toml(value: object) -> str:
    # A JSON string is a valid TOML basic string.
    return json.dumps(str(value))


def _http_check(
    url: str, *, expect: str, context: ssl.SSLContext | None = None
) -> str | None:
    if context is None and url.startswith("https:"):
        # The controller manager and scheduler serve self-signed certificates;
        # this check only asks whether they are up.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            body = response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return f"{url} did not answer: {error}"
    return None if expect in body else f"{url} answered {body[:200]!r}"


def _api_server_ready() -> str | None:
    context = ssl.create_default_context(cafile=str(certificate_path("ca")))
    context.load_cert_chain(certificate_path("admin"), key_path("admin"))
    return _http_check(f"{layout.API_SERVER_URL}/readyz", expect="ok", context=context)


def _containerd_answers() -> str | None:
    result = run(
        ["ctr", "--address", layout.CONTAINERD_SOCKET, "version"],
        check=False,
        timeout=10,
    )
    return None if result.returncode == 0 else result.stderr.strip()[-300:]
