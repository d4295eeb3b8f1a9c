"""The real `kdebug-tui` in a real terminal (tmux), against the real cluster.

A user's whole session, driven by keys: pick a pod, open a debug tab, run `ps`
and `stty size`, resize the window and see the shell follow, open a second tab
on another pod, close both, quit; nothing may be left in the cluster.
"""

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_support import (
    DEMO_NAMESPACE,
    KDEBUG,
    agent_pods,
    cli_environment,
    debug_containers,
    eventually,
)
from tests.fixtures.cluster import KubernetesCluster

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 120, 36
SCREEN_TIMEOUT = 120.0
OTHER_NAMESPACE = "kdebug-demo-jobs"


class Tmux:
    """One tmux server of the test's own, with one window running kdebug-tui."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.target = "kdebug"

    def run(self, *args: str) -> str:
        """Run a tmux command against this server and return what it printed."""
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=30,
            check=True,
        )
        return result.stdout

    def start(self, *command: str) -> None:
        """Open the window, running `command`; the pane stays when it exits."""
        self.run(
            "new-session", "-d", "-s", self.target,
            "-x", str(WIDTH), "-y", str(HEIGHT), *command,
        )  # fmt: skip
        self.run("set-option", "-t", self.target, "remain-on-exit", "on")

    def type(self, text: str) -> None:
        """Type text literally."""
        self.run("send-keys", "-t", self.target, "-l", text)

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (Enter, Escape, C-])."""
        self.run("send-keys", "-t", self.target, *keys)

    def screen(self) -> str:
        """The characters on the pane."""
        return self.run("capture-pane", "-p", "-t", self.target)

    def wait_for(self, pattern: str, *, timeout: float = SCREEN_TIMEOUT) -> str:
        """Wait until the pane shows `pattern` (a regular expression)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        pytest.fail(f"The pane never showed {pattern!r}; it shows:\n{self.screen()}")

    def wait_until_gone(self, pattern: str, *, timeout: float = SCREEN_TIMEOUT) -> None:
        """Wait until the pane no longer shows `pattern`."""
        deadline = time.monotonic() + timeout
        while re.search(pattern, self.screen()):
            if time.monotonic() > deadline:
                pytest.fail(f"The pane still shows {pattern!r}:\n{self.screen()}")
            time.sleep(0.2)

    def resize(self, width: int, height: int) -> None:
        """Resize the window, as a user resizing their terminal."""
        self.run(
            "resize-window", "-t", self.target, "-x", str(width), "-y", str(height)
        )

    def exit_status(self) -> int | None:
        """The exit status of the pane's command, or None while it runs.

        A command killed by a signal reports minus the signal's number.
        """
        shown = self.run(
            "display-message", "-p", "-t", self.target,
            "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}",
        ).strip()  # fmt: skip
        dead, status, signal = shown.split(":")
        if dead != "1":
            return None
        return int(status) if status else -int(signal or 0)


@pytest.fixture
def tmux(kubernetes_cluster: KubernetesCluster, tmp_path: Path) -> Iterator[Tmux]:
    """A tmux server for this test alone, killed at the end."""
    env = cli_environment(kubernetes_cluster, tmp_path, namespace=DEMO_NAMESPACE)
    env["TERM"] = "xterm-256color"
    server = Tmux(tmp_path / f"tmux-{uuid.uuid4().hex[:6]}.sock", env)
    yield server
    subprocess.run(
        ["tmux", "-S", str(server.socket), "kill-server"],
        capture_output=True,
        check=False,
    )


def test_a_users_session_from_the_first_pod_to_quitting(
    tmux: Tmux, kubernetes_cluster: KubernetesCluster
) -> None:
    leader = "C-]"
    pods_before = {str(p["name"]) for p in agent_pods(kubernetes_cluster)}
    containers_before = set(debug_containers(kubernetes_cluster))
    tmux.start(KDEBUG)
    tmux.wait_for(rf"{DEMO_NAMESPACE} ▸ pods \(\d+\)")

    # Pick the web pod with the filter, and debug it with the defaults.
    tmux.type("/^web")
    tmux.keys("Enter")
    tmux.wait_for(r"pods \(1/\d+\)")
    tmux.type("d")
    tmux.wait_for(r"1 web/web · .*running")

    # ps shows the target's processes; stty size the tab's terminal size: the
    # window less the tab bar and the status line.
    tmux.type("ps -o pid,comm")
    tmux.keys("Enter")
    tmux.wait_for(r"httpd")
    tmux.type("stty size")
    tmux.keys("Enter")
    tmux.wait_for(rf"\b{HEIGHT - 2} {WIDTH}\b")

    # A smaller window: the shell follows.
    tmux.resize(100, 30)
    tmux.wait_for(r"1 web/web")
    tmux.keys("C-l")
    tmux.type("stty size")
    tmux.keys("Enter")
    tmux.wait_for(r"\b28 100\b")

    # Back to the browser, the pods of another namespace, a second tab.
    tmux.keys(leader)
    tmux.wait_for(r"then…")
    tmux.type("b")
    tmux.wait_for(r"⌂ browser")
    tmux.type(f":pods {OTHER_NAMESPACE}")
    tmux.keys("Enter")
    tmux.wait_for(rf"{OTHER_NAMESPACE} ▸ pods \(1\)")
    tmux.type("d")
    tmux.wait_for(r"2 worker/worker · .*running")
    tmux.type("echo second-$((20+1))")
    tmux.keys("Enter")
    tmux.wait_for(r"second-21")
    assert len(debug_containers(kubernetes_cluster)) >= 2

    # Close the second tab (a live shell: it asks), then the first.
    tmux.keys(leader)
    tmux.type("x")
    tmux.wait_for(r"Close tab 2\?")
    tmux.type("y")
    tmux.wait_until_gone(r"2 worker/worker")
    tmux.wait_for(r"1 web/web · .*running")
    tmux.keys(leader)
    tmux.type("x")
    tmux.wait_for(r"Close tab 1\?")
    tmux.type("y")
    tmux.wait_until_gone(r"1 web/web")
    tmux.wait_for(rf"{OTHER_NAMESPACE} ▸ pods")

    # No session is left, so ctrl+c quits at once.
    tmux.keys("C-c")
    eventually(
        lambda: tmux.exit_status() is not None, timeout=60, what="kdebug-tui exits"
    )
    assert tmux.exit_status() == 0, tmux.screen()
    eventually(
        lambda: {str(p["name"]) for p in agent_pods(kubernetes_cluster)} <= pods_before,
        timeout=60,
        what="no agent pod of this session left",
    )
    eventually(
        lambda: set(debug_containers(kubernetes_cluster)) <= containers_before,
        timeout=60,
        what="no debug container of this session left",
    )
