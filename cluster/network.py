"""The pod network: one bridge on this machine and nothing that leads off it.

Pods attach to the `kdebug0` bridge through the CNI bridge plugin. The bridge is
created here, with the pod gateway address, rather than by the plugin: the plugin
would switch on IP forwarding for the whole machine when asked to be the gateway.
Pods get no default route and no masquerading, an iptables chain drops whatever
would be forwarded between the bridge and any other interface, and the service
range is routed into a black hole, so cluster traffic cannot leave the machine.
"""

import json
import logging
from pathlib import Path

from cluster import layout
from cluster.commands import run

logger = logging.getLogger(__name__)

CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_RESULT_CACHE = Path("/var/lib/cni/results")
"""Where libcni inside containerd caches each attachment's result."""


def conflist() -> dict[str, object]:
    """Return the CNI network configuration of the cluster."""
    return {
        # Debian's plugins 1.1.1 and containerd 1.6's libcni know 1.0.0, not 1.1.0.
        "cniVersion": "1.0.0",
        "name": layout.CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": layout.BRIDGE,
                "isGateway": False,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [
                        [{"subnet": layout.POD_CIDR, "gateway": layout.POD_GATEWAY}]
                    ],
                    "routes": [],
                    "dataDir": str(layout.CNI_DATA_DIR / "networks"),
                },
            }
        ],
    }


def write_cni_config() -> None:
    """Write the CNI configuration where the cluster's containerd looks for it."""
    layout.CNI_CONF_DIR.mkdir(parents=True, exist_ok=True)
    path = layout.CNI_CONF_DIR / f"10-{layout.CNI_NETWORK}.conflist"
    path.write_text(json.dumps(conflist(), indent=2) + "\n")


def set_up() -> None:
    """Create the bridge, the forwarding guard and the service black hole."""
    if not Path(f"/sys/class/net/{layout.BRIDGE}").exists():
        logger.info("Creating the pod bridge %s.", layout.BRIDGE)
        run(["ip", "link", "add", "name", layout.BRIDGE, "type", "bridge"])
    prefix = layout.POD_CIDR.split("/")[1]
    gateway = f"{layout.POD_GATEWAY}/{prefix}"
    addresses = run(["ip", "-o", "-4", "addr", "show", "dev", layout.BRIDGE]).stdout
    if gateway not in addresses:
        run(["ip", "addr", "add", gateway, "dev", layout.BRIDGE])
    run(["ip", "link", "set", layout.BRIDGE, "up"])

    _set_up_guard()
    run(["ip", "route", "replace", "blackhole", layout.SERVICE_CIDR])


def tear_down() -> None:
    """Remove the bridge with every pod interface on it, the guard and the route."""
    for interface in bridge_ports():
        run(["ip", "link", "delete", interface], check=False)
    if Path(f"/sys/class/net/{layout.BRIDGE}").exists():
        logger.info("Deleting the pod bridge %s.", layout.BRIDGE)
        run(["ip", "link", "delete", layout.BRIDGE])

    run(["ip", "route", "delete", "blackhole", layout.SERVICE_CIDR], check=False)

    chain = layout.FORWARD_GUARD_CHAIN
    while (
        run(["iptables", "-w", "-D", "FORWARD", "-j", chain], check=False).returncode
        == 0
    ):
        pass
    if guard_exists():
        run(["iptables", "-w", "-F", chain])
        run(["iptables", "-w", "-X", chain])

    for cached in CNI_RESULT_CACHE.glob(f"{layout.CNI_NETWORK}-*"):
        cached.unlink()


def bridge_ports() -> list[str]:
    """Return the host-side interfaces attached to the pod bridge."""
    ports = Path(f"/sys/class/net/{layout.BRIDGE}/brif")
    return sorted(path.name for path in ports.iterdir()) if ports.is_dir() else []


def bridge_exists() -> bool:
    """Tell whether the pod bridge is present."""
    return Path(f"/sys/class/net/{layout.BRIDGE}").exists()


def guard_exists() -> bool:
    """Tell whether the forwarding guard chain is present."""
    result = run(
        ["iptables", "-w", "-n", "-L", layout.FORWARD_GUARD_CHAIN], check=False
    )
    return result.returncode == 0


def blackhole_route_exists() -> bool:
    """Tell whether the service range's black-hole route is present."""
    result = run(["ip", "route", "show", "type", "blackhole", layout.SERVICE_CIDR])
    return bool(result.stdout.strip())


def _set_up_guard() -> None:
    chain = layout.FORWARD_GUARD_CHAIN
    bridge = layout.BRIDGE
    if not guard_exists():
        run(["iptables", "-w", "-N", chain])
    run(["iptables", "-w", "-F", chain])
    # Pod to pod on the bridge is allowed; anything between the bridge and any
    # other interface is dropped, whatever the machine's forwarding setting.
    run(["iptables", "-w", "-A", chain, "-i", bridge, "-o", bridge, "-j", "RETURN"])
    run(["iptables", "-w", "-A", chain, "-i", bridge, "-j", "DROP"])
    run(["iptables", "-w", "-A", chain, "-o", bridge, "-j", "DROP"])
    jump = ["FORWARD", "-j", chain]
    if run(["iptables", "-w", "-C", *jump], check=False).returncode != 0:
        run(["iptables", "-w", "-I", *jump[:1], "1", *jump[1:]])
