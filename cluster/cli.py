"""`scripts/cluster up|down|status|kubeconfig`: the single-node test cluster by hand.

Progress goes to standard error, one sentence a line with the seconds since the
start; what a caller may want to capture (paths) goes to standard output.
"""

import argparse
import fcntl
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from cluster import layout, lifecycle
from cluster.errors import ClusterError

LOCK_FILE = layout.CACHE_DIR / "cluster.lock"
"""Held by `up` and `down`; it lives in the cache, which `down` leaves alone."""

KUBECONFIGS = {
    "admin": layout.ADMIN_KUBECONFIG,
    "user": layout.USER_KUBECONFIG,
    "user-no-portforward": layout.USER_NO_PORTFORWARD_KUBECONFIG,
}


class ElapsedFormatter(logging.Formatter):
    """Prefixes each line with the seconds since the command started."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def format(self, record: logging.LogRecord) -> str:
        elapsed = time.monotonic() - self.started
        return f"[{elapsed:6.1f}s] {record.getMessage()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one cluster command and return the exit status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ElapsedFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])

    try:
        if arguments.command in ("up", "down"):
            with _exclusive():
                if arguments.command == "up":
                    return _up()
                return _down(purge=arguments.purge)
        if arguments.command == "status":
            return _status(as_json=arguments.json)
        print(KUBECONFIGS[arguments.user])
        return 0
    except ClusterError as error:
        print(f"cluster {arguments.command} failed: {error}", file=sys.stderr)
        return 1


@contextmanager
def _exclusive() -> Iterator[None]:
    # Two `up`s, or an `up` and a `down`, at once would trip over each other.
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logging.getLogger(__name__).info(
                "Another scripts/cluster up or down is running; waiting for it."
            )
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _up() -> int:
    report = lifecycle.up()
    how = "was already running and is complete" if report.reused else "is up"
    images = report.images
    print(
        f"The cluster {how} ({report.seconds:.1f} s).\n"
        f"Admin kubeconfig: {layout.ADMIN_KUBECONFIG}\n"
        f"User kubeconfig: {layout.USER_KUBECONFIG}\n"
        f"User kubeconfig without port-forward: "
        f"{layout.USER_NO_PORTFORWARD_KUBECONFIG}\n"
        f"containerd socket: {layout.CONTAINERD_SOCKET}\n"
        f"Images: agent {images.agent}, tools {images.tools}, "
        f"shell target {images.shell}, no-shell target {images.no_shell}, "
        f"pause {images.pause}\n"
        f"Try: KUBECONFIG={layout.ADMIN_KUBECONFIG} kubectl get pods -A"
    )
    return 0


def _down(*, purge: bool) -> int:
    started = time.monotonic()
    left = lifecycle.down(purge=purge)
    if left:
        print(
            f"The cluster is down but {len(left)} things are left behind "
            "(listed above).",
            file=sys.stderr,
        )
        return 1
    print(
        f"The cluster is down and nothing is left ({time.monotonic() - started:.1f} s)."
    )
    return 0


def _status(*, as_json: bool) -> int:
    state = lifecycle.status()
    running = all(pid is not None for pid in state["daemons"].values())
    ready = state["node"] == "Ready"
    if as_json:
        print(json.dumps(state, indent=2))
    else:
        for name, pid in state["daemons"].items():
            print(f"{name:32} {'running, PID ' + str(pid) if pid else 'stopped'}")
        print(f"{'node ' + layout.NODE_NAME:32} {state['node']}")
        for key, value in state.items():
            if key not in ("daemons", "node"):
                print(f"{key.replace('_', ' '):32} {value}")
    return 0 if running and ready else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="Run the single-node Kubernetes cluster of the demo and e2e tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up", help="start the cluster, or complete the running one, and deploy samples"
    )
    down = commands.add_parser("down", help="stop the cluster and remove what it made")
    down.add_argument(
        "--purge",
        action="store_true",
        help="also remove the certificates, kubeconfigs and logs",
    )
    status = commands.add_parser("status", help="show daemons, node and paths")
    status.add_argument("--json", action="store_true", help="print JSON")
    kubeconfig = commands.add_parser("kubeconfig", help="print a kubeconfig's path")
    kubeconfig.add_argument(
        "user", nargs="?", default="admin", choices=sorted(KUBECONFIGS)
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
