"""Key to echo through our relay and CLI against `kubectl exec`, on the real cluster.

The design's target: a key press comes back on screen, at the median, no more
than 5 ms later through kdebug-tui than through `kubectl exec` of the same
shell. Both sides run the same program on a terminal, ``stty raw -echo; exec
cat``, which echoes each byte itself as a shell's line editor does:

- relay: a ``DebugSession`` opened by ``SessionManager.open`` (port-forward
  to the agent pod, WebSocket, the agent, containerd's FIFOs, the debug
  container's terminal); one byte goes out with ``DebugSession.send`` and the
  clock stops when it comes back from ``DebugSession.receive``, in this
  process: the relay alone, without a client program's terminal I/O;
- cli: the real ``kdebug-tui debug`` on a pseudo-terminal of our own, reusing
  the relay's agent pod; one byte is written to its terminal and the clock
  stops when it writes the byte back, as a user would see it;
- kubectl_exec: ``kubectl exec -i -t`` into the target container, driven the
  same way through a pseudo-terminal of our own.

The cli and kubectl_exec series compare like with like (a client program on a
terminal each); the relay series shows what the client program adds. All
three stay open together and take turns, one key each, so a busy moment on
this shared machine weighs on all. The benchmark makes its own target pod in
namespace ``kdebug-bench-echo`` and deletes it at the end; the client deletes
its agent pod when the session ends. Prints p50 and p99 of each.

Run: ``.venv/bin/python bench/echo_latency.py [--samples 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from harness import (
    TARGET_CONTAINER,
    create_target,
    delete_agent_pods,
    delete_namespace,
    ensure_cluster,
    figure,
    latencies,
    load_average,
    machine,
    note,
)

from cluster import layout
from cluster.image_set import image_names
from cluster.kubectl import binaries_dir
from kdebug_agent.protocol import OutputReceived, SessionEnded, TerminalSize
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.session import DebugSession, LaunchOptions, SessionManager
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.tokens import TokenStore

NAMESPACE = "kdebug-bench-echo"
POD = "target"
ECHO_PROGRAM = ("sh", "-c", "stty raw -echo; exec cat")
KEYS = b"abcdefghijklmnopqrstuvwxyz"
KEY_TIMEOUT = 10.0
READY_TIMEOUT = 60.0
KDEBUG = str(Path(sys.executable).parent / "kdebug-tui")
PAUSE = 0.02
"""Seconds between two key presses, about a fast typist's pace."""


class Echoer:
    """Something that sends one byte and waits until it comes back."""

    name = ""

    async def send(self, data: bytes) -> None:
        """Send bytes as keys."""
        raise NotImplementedError

    async def read(self) -> bytes:
        """Return the next output."""
        raise NotImplementedError

    async def wait_for(self, key: bytes, timeout: float = KEY_TIMEOUT) -> None:
        """Read until `key` shows up in the output."""
        async with asyncio.timeout(timeout):
            while key not in await self.read():
                pass

    async def press(self, key: bytes) -> float:
        """Seconds from sending `key` to seeing it echoed."""
        started = time.perf_counter()
        await self.send(key)
        await self.wait_for(key)
        return time.perf_counter() - started

    async def until_echoing(self) -> None:
        """Press a key until the program echoes it, then drop earlier output."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            await self.send(b"!")
            with contextlib.suppress(TimeoutError):
                await self.wait_for(b"!", timeout=1.0)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} never echoed a key.")
        await asyncio.sleep(0.5)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                while True:
                    await self.read()


class RelayEchoer(Echoer):
    """Our relay: a debug session of the product's backend."""

    name = "kdebug-tui"

    def __init__(self, session: DebugSession) -> None:
        self.session = session

    async def send(self, data: bytes) -> None:
        """Send with `DebugSession.send`, as the TUI and the CLI do."""
        await self.session.send(data)

    async def read(self) -> bytes:
        """Return the next output event's bytes."""
        while True:
            event = await self.session.receive()
            if isinstance(event, OutputReceived):
                return event.data
            if isinstance(event, SessionEnded):
                raise RuntimeError(f"The debug session ended: {event.status}")


class TerminalEchoer(Echoer):
    """A client program on a pseudo-terminal of our own, as in a user's terminal.

    The clock stops when the program writes the key back to its terminal,
    which is when a user would see it.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.output: asyncio.Queue[bytes] = asyncio.Queue()
        os.set_blocking(self.master, False)
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
        self.output.put_nowait(data)

    async def send(self, data: bytes) -> None:
        """Write the key to the program's terminal."""
        os.write(self.master, data)

    async def read(self) -> bytes:
        """Return what the program wrote next."""
        data = await self.output.get()
        if not data:
            raise RuntimeError(f"{self.name} ended ({self.process.poll()}).")
        return data

    def close(self) -> None:
        """Stop the program (this benchmark's own child) and close the terminal.

        SIGTERM lets `kdebug-tui debug` end its session as on a hang-up.
        """
        asyncio.get_running_loop().remove_reader(self.master)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        os.close(self.master)


def kubectl_exec() -> TerminalEchoer:
    """`kubectl exec -i -t` into the target container."""
    command = [
        str(binaries_dir() / "kubectl"),
        f"--kubeconfig={layout.ADMIN_KUBECONFIG}",
        "exec",
        "-i",
        "-t",
        "-n",
        NAMESPACE,
        POD,
        "-c",
        TARGET_CONTAINER,
        "--",
        *ECHO_PROGRAM,
    ]
    return TerminalEchoer("kubectl exec", command, dict(os.environ))


def kdebug_debug(settings: Settings, state: Path) -> TerminalEchoer:
    """The real `kdebug-tui debug` on a terminal, as a user runs it.

    Its state directory is the one of the benchmark's own session manager, so
    it reuses that manager's agent pod (as a second client of the same user
    would) instead of starting another.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KDEBUG_")}
    env.update(
        KUBECONFIG=settings.kubeconfig,
        XDG_STATE_HOME=str(state),
        XDG_CONFIG_HOME=str(state / "config"),
        KDEBUG_IMAGE=settings.image,
        KDEBUG_AGENT_IMAGE=settings.agent_image,
        KDEBUG_RUNTIME_SOCKET=settings.runtime_socket,
    )
    command = [KDEBUG, "debug", "-n", NAMESPACE, "-c", TARGET_CONTAINER, POD]
    return TerminalEchoer("kdebug-tui debug", [*command, "--", *ECHO_PROGRAM], env)


async def measure(
    settings: Settings, samples: int, *, agent_pods: set[str], scratch: Path
) -> None:
    """Open all three, then press each key on each in turn."""
    kube = await asyncio.to_thread(Kube.connect, kubeconfig=settings.kubeconfig)
    # A token store of its own (the one `kdebug-tui debug` finds under
    # XDG_STATE_HOME=scratch): the benchmark must neither reuse nor delete
    # agent pods of other clients on this shared cluster.
    tokens = TokenStore(scratch / "kdebug-tui" / "agents.json")
    manager = SessionManager(kube, settings, tokens=tokens)
    options = LaunchOptions.from_settings(
        settings, command=ECHO_PROGRAM, size=TerminalSize(width=80, height=24)
    )
    session = await manager.open(
        namespace=NAMESPACE,
        pod=POD,
        container=TARGET_CONTAINER,
        options=options,
        progress=lambda stage, message: None,
    )
    agent_pods.add(session.agent.name)
    echoers: dict[str, Echoer] = {"relay": RelayEchoer(session)}
    try:
        echoers["cli"] = kdebug_debug(settings, scratch)
        echoers["kubectl_exec"] = kubectl_exec()
        for echoer in echoers.values():
            await echoer.until_echoing()
        note(f"All echo; pressing {samples} keys on each, in turn.")
        times: dict[str, list[float]] = {name: [] for name in echoers}
        for number in range(samples):
            key = KEYS[number % len(KEYS) : number % len(KEYS) + 1]
            for name, echoer in echoers.items():
                times[name].append(await echoer.press(key))
                await asyncio.sleep(PAUSE)
        for name, values in times.items():
            latencies(name, values)
        reference = statistics.median(times["kubectl_exec"])
        for name in ("relay", "cli"):
            difference = statistics.median(times[name]) - reference
            figure(f"{name}_minus_kubectl_exec_p50", difference * 1000, "ms")
    finally:
        for echoer in echoers.values():
            if isinstance(echoer, TerminalEchoer):
                echoer.close()
        await session.close()


def main() -> None:
    """Set up the target, measure, and remove what the benchmark made."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=300)
    options = parser.parse_args()
    machine()
    load_average("load_average_start")
    ensure_cluster()
    images = image_names()
    settings = Settings(
        kubeconfig=str(layout.USER_KUBECONFIG),
        image=images.tools,
        agent_image=images.agent,
        runtime_socket=str(layout.CONTAINERD_SOCKET),
        agent_namespace=layout.AGENT_NAMESPACE,
    )
    agent_pods: set[str] = set()
    create_target(NAMESPACE, POD)
    try:
        with tempfile.TemporaryDirectory(prefix="kdebug-bench-") as scratch:
            asyncio.run(
                measure(
                    settings,
                    options.samples,
                    agent_pods=agent_pods,
                    scratch=Path(scratch),
                )
            )
    finally:
        delete_agent_pods(agent_pods, settings.agent_namespace)
        delete_namespace(NAMESPACE)
    load_average("load_average_end")


if __name__ == "__main__":
    main()
