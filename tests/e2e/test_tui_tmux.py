"""The real `kdebug-tui` in a real terminal (tmux), against the real cluster.

A user's whole session, driven by keys: pick a pod, open a debug tab, run `ps`
and `stty size`, resize the window and see the shell follow, open a second tab
on another pod, close both, quit; nothing may be left in the cluster.
"""

import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_support import KDEBUG, cli_environment, eventually
from tests.fixtures.cluster import KubernetesCluster
from tests.tui.private_namespace import PrivateNamespace, private_namespace

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 120, 36
SCREEN_TIMEOUT = 120.0


class Tmux:
    """One tmux server of the test's own, with one window running kdebug-tui."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.target = "kdebug"
        self.status_file = socket.with_suffix(".status")

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
        """Open the window, running `command`; the pane stays when it exits.

        A shell runs the command and writes its exit status to a file: tmux
        marks a pane dead when its terminal closes, and on a busy machine it
        was seen to leave the ended process unreaped (a zombie) for over a
        minute, never learning how it ended.
        """
        status = shlex.quote(str(self.status_file))
        script = f"{shlex.join(command)}; echo $? > {status}"
        self.run(
            "new-session", "-d", "-s", self.target,
            "-x", str(WIDTH), "-y", str(HEIGHT), "sh", "-c", script,
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

        A command ended by a signal reports 128 plus the signal's number, as
        the shell says it.
        """
        if not self.status_file.exists():
            return None
        text = self.status_file.read_text().strip()
        return int(text) if text else None


@pytest.fixture
def namespace(kubernetes_cluster: KubernetesCluster) -> Iterator[PrivateNamespace]:
    """The test's own targets (`web`, `worker`) and agent pods."""
    yield from private_namespace(kubernetes_cluster, "tmux")


@pytest.fixture
def tmux(
    kubernetes_cluster: KubernetesCluster, namespace: PrivateNamespace, tmp_path: Path
) -> Iterator[Tmux]:
    """A tmux server for this test alone, killed at the end."""
    env = cli_environment(
        kubernetes_cluster,
        tmp_path,
        namespace=namespace.name,
        agent_namespace=namespace.name,
    )
    env["TERM"] = "xterm-256color"
    server = Tmux(tmp_path / f"tmux-{uuid.uuid4().hex[:6]}.sock", env)
    yield server
    subprocess.run(
        ["tmux", "-S", str(server.socket), "kill-server"],
        capture_output=True,
        check=False,
    )


def _start_and_debug_web(tmux: Tmux, namespace: PrivateNamespace) -> None:
    """Start kdebug-tui, pick the web pod with the filter and debug it."""
    tmux.start(KDEBUG)
    tmux.wait_for(rf"{namespace.name} ▸ pods \(2\)")
    tmux.type("/^web")
    tmux.keys("Enter")
    tmux.wait_for(r"pods \(1/2\)")
    tmux.type("d")
    tmux.wait_for(r"1 web/web · .*running")


def test_a_users_session_from_the_first_pod_to_quitting(
    tmux: Tmux, namespace: PrivateNamespace
) -> None:
    leader = "C-]"
    _start_and_debug_web(tmux, namespace)

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

    # Back to the browser, the other pod, a second tab. (The agent pod is in
    # the namespace too now.)
    tmux.keys(leader)
    tmux.wait_for(r"then…")
    tmux.type("b")
    tmux.wait_for(r"⌂ browser")
    tmux.type("/")
    tmux.keys("C-u")
    tmux.type("worker")
    tmux.keys("Enter")
    tmux.wait_for(r"pods \(1/3\)\s+/worker")
    tmux.type("d")
    tmux.wait_for(r"2 worker/worker · .*running")
    tmux.type("echo second-$((20+1))")
    tmux.keys("Enter")
    tmux.wait_for(r"second-21")
    assert len(namespace.debug_containers()) == 2
    assert len(namespace.agent_pods()) == 1

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
    tmux.wait_for(rf"{namespace.name} ▸ pods")

    # No session is left, so ctrl+c quits at once.
    tmux.keys("C-c")
    _wait_for_exit(tmux)
    assert tmux.exit_status() == 0, tmux.screen()
    namespace.wait_until_clean()


def _kdebug_pid(tmux: Tmux) -> int:
    """The PID of kdebug-tui, the child of the pane's shell."""
    shell = int(tmux.run("display-message", "-p", "-t", tmux.target, "#{pane_pid}"))
    for pid in Path(f"/proc/{shell}/task/{shell}/children").read_text().split():
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(argument.endswith(b"/kdebug-tui") for argument in arguments[:2]):
            return int(pid)
    pytest.fail("kdebug-tui is not running in the pane.")


def _wait_for_exit(tmux: Tmux) -> None:
    """Wait until kdebug-tui has ended."""
    eventually(
        lambda: tmux.exit_status() is not None, timeout=60, what="kdebug-tui exits"
    )


@pytest.mark.parametrize("signal_name", ["TERM", "HUP"])
def test_a_signal_ends_the_sessions_and_restores_the_terminal(
    tmux: Tmux, namespace: PrivateNamespace, signal_name: str
) -> None:
    """kill (or a closed terminal) ends kdebug-tui as quitting does."""
    _start_and_debug_web(tmux, namespace)
    assert len(namespace.debug_containers()) == 1

    subprocess.run(["kill", f"-{signal_name}", str(_kdebug_pid(tmux))], check=True)
    _wait_for_exit(tmux)

    # The status says which signal ended it (Python's default would have
    # died of the signal itself); the pane is back on the normal screen, with
    # the mouse released. (tmux reports no cursor for a dead pane.)
    number = {"TERM": 15, "HUP": 1}[signal_name]
    assert tmux.exit_status() == 128 + number, tmux.screen()
    modes = tmux.run(
        "display-message", "-p", "-t", tmux.target,
        "#{alternate_on}:#{mouse_any_flag}",
    ).strip()  # fmt: skip
    assert modes == "0:0"
    namespace.wait_until_clean()
