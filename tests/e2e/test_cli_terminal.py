"""The headless CLI in a real terminal (tmux): raw mode, keys, size, escape."""

import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli_support import (
    DEMO_NAMESPACE,
    KDEBUG,
    cli_environment,
    leftovers,
    nothing_left,
)
from tests.fixtures.cluster import KubernetesCluster

pytestmark = pytest.mark.e2e


class Tmux:
    """A tmux session with a plain shell, driven like a person would."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "120",
                "-y",
                "40",
                f"env -i {exports} TERM=xterm-256color PS1='outer$ ' sh",
            ],
            check=True,
        )

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        pytest.fail(f"{text!r} never showed up; the screen:\n{self.screen()}")

    def resize(self, width: int, height: int) -> None:
        subprocess.run(
            [
                "tmux",
                "resize-window",
                "-t",
                self.name,
                "-x",
                str(width),
                "-y",
                str(height),
            ],
            check=True,
        )

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False)


@pytest.fixture
def terminal(kubernetes_cluster: KubernetesCluster, tmp_path: Path) -> Iterator[Tmux]:
    before = leftovers(kubernetes_cluster)
    env = cli_environment(kubernetes_cluster, tmp_path)
    tmux = Tmux(f"kdebug-cli-{tmp_path.name[-12:]}", env)
    try:
        yield tmux
    finally:
        tmux.close()
    nothing_left(kubernetes_cluster, before)


def start_shell(terminal: Tmux) -> None:
    terminal.type(f"{KDEBUG} debug -n {DEMO_NAMESPACE} web -- sh; echo rc=$?")
    terminal.send("Enter")
    terminal.wait_for("/ #", timeout=120)


class TestInteractiveSession:
    def test_the_size_is_sent_at_start_and_follows_the_window(
        self, terminal: Tmux
    ) -> None:
        start_shell(terminal)
        terminal.type("stty size\r")
        terminal.wait_for("40 120")
        terminal.resize(100, 30)
        time.sleep(0.5)
        terminal.type("clear; stty size\r")
        terminal.wait_for("30 100")
        terminal.type("exit 5\r")
        terminal.wait_for("rc=5")

    def test_ctrl_c_and_ctrl_p_reach_the_shell(self, terminal: Tmux) -> None:
        start_shell(terminal)
        terminal.type("sleep 100\r")
        time.sleep(1)
        terminal.send("C-c")
        terminal.type("echo alive-$((40+2))\r")
        terminal.wait_for("alive-42", timeout=10)
        terminal.type("cat -v\r")
        time.sleep(0.5)
        terminal.send("C-p")
        terminal.type("x\r")
        terminal.wait_for("^Px", timeout=10)
        terminal.send("C-d")
        # Ctrl-Z reaches the shell's job control: it stops a foreground job.
        terminal.type("sleep 100\r")
        time.sleep(0.5)
        terminal.send("C-z")
        terminal.wait_for("Stopped", timeout=10)
        terminal.type("fg\r")
        time.sleep(0.5)
        terminal.send("C-c")
        terminal.type("jobs; echo no-jobs\r")
        terminal.wait_for("no-jobs", timeout=10)
        terminal.type("exit\r")
        terminal.wait_for("rc=0")

    def test_enter_tilde_dot_ends_the_session_and_restores_the_terminal(
        self, terminal: Tmux
    ) -> None:
        start_shell(terminal)
        terminal.type("\r~.")
        screen = terminal.wait_for("rc=255")
        assert "Traceback" not in screen
        # The outer shell's terminal is back in cooked mode with echo.
        terminal.type(
            "stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | sort | tr '\\n' ,\r"
        )
        terminal.wait_for("echo,icanon,")

    def test_log_lines_start_at_the_left_edge_while_the_terminal_is_raw(
        self, terminal: Tmux
    ) -> None:
        terminal.type(f"{KDEBUG} -v debug -n {DEMO_NAMESPACE} web -- sh; echo rc=$?")
        terminal.send("Enter")
        terminal.wait_for("/ #", timeout=120)
        terminal.type("exit\r")
        screen = terminal.wait_for("rc=0")
        lines = screen.splitlines()
        assert any(line.startswith("INFO kdebug_tui") for line in lines), screen
        # A line feed without a carriage return starts the next line where the
        # last one ended: the lines after it begin with blanks.
        assert [line for line in lines if line[:1] == " " and line.strip()] == []

    def test_enter_tilde_dot_typed_slowly_at_a_prompt_ends_the_session(
        self, terminal: Tmux
    ) -> None:
        start_shell(terminal)
        # BusyBox's fresh prompt asks the terminal for the cursor position, and
        # the answer comes in between Enter and the tilde.
        terminal.type("echo ready\r")
        terminal.wait_for("ready\n/ #")
        time.sleep(0.5)
        terminal.type("~")
        time.sleep(0.3)
        terminal.type(".")
        screen = terminal.wait_for("rc=255")
        assert "~." not in screen
