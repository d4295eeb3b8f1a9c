"""Where the test cluster keeps its files and which addresses and ports it uses.

Every path, port and address range of the single-node cluster is fixed here so that
the bring-up, the teardown, the test fixtures and the agent's tests agree on them.
All paths are the cluster's own: it coexists with any other containerd or kubelet on
the machine, and removing these paths removes the cluster. Cluster traffic stays on
this machine: the pod and service ranges are reachable only through the cluster's
own bridge, pods get no default route, and the bridge has no masquerading.
"""

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
"""The checkout this module belongs to; the agent image is built from it."""

CACHE_DIR = Path(os.environ.get("KDEBUG_CACHE", "/var/cache/kdebug-tui"))
"""Build caches that outlive the cluster: binaries, base root filesystems, images."""

STATE_DIR = Path("/var/lib/kdebug-cluster")
PKI_DIR = STATE_DIR / "pki"
KUBECONFIG_DIR = STATE_DIR / "kubeconfig"
CONFIG_DIR = STATE_DIR / "config"
DATA_DIR = STATE_DIR / "data"
ETCD_DATA_DIR = DATA_DIR / "etcd"
CONTAINERD_ROOT = DATA_DIR / "containerd"
KUBELET_ROOT = DATA_DIR / "kubelet"
POD_LOG_DIR = DATA_DIR / "pod-logs"
CNI_DATA_DIR = DATA_DIR / "cni"
CNI_CONF_DIR = CONFIG_DIR / "cni"

RUN_DIR = Path("/run/kdebug-cluster")
PID_DIR = RUN_DIR / "pids"
CONTAINERD_STATE = RUN_DIR / "containerd"
CONTAINERD_SOCKET = CONTAINERD_STATE / "containerd.sock"
RUNC_ROOT = RUN_DIR / "runc"
HOST_STATE_FILE = RUN_DIR / "host-state.json"
LOG_DIR = Path("/var/log/kdebug-cluster")

ADMIN_KUBECONFIG = KUBECONFIG_DIR / "admin.kubeconfig"
USER_KUBECONFIG = KUBECONFIG_DIR / "user.kubeconfig"
USER_NO_PORTFORWARD_KUBECONFIG = KUBECONFIG_DIR / "user-no-portforward.kubeconfig"

NODE_NAME = "kdebug-node"
BRIDGE = "kdebug0"
CNI_NETWORK = "kdebug-cluster"
POD_CIDR = "10.244.0.0/24"
POD_GATEWAY = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
FORWARD_GUARD_CHAIN = "KDEBUG-CLUSTER-GUARD"
"""An iptables chain that drops anything forwarded from the pod bridge elsewhere."""

API_PORT = 6443
ETCD_CLIENT_PORT = 12379
ETCD_PEER_PORT = 12380
KUBELET_PORT = 10250
KUBELET_HEALTHZ_PORT = 10248
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259

API_SERVER_URL = f"https://127.0.0.1:{API_PORT}"
AGENT_NAMESPACE = "default"
"""Where the client creates agent pods by default, so where the users' Role lives."""
