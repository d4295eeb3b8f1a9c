"""A real `kdebug-agent` process for the tests, and a small session client.

The agent runs on the host (host root `/`) against the test containerd, on a
loopback port it picks itself; the client speaks protocol version 1 through the
same Sans-I/O module the product's client uses.
"""

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect

from kdebug_agent.protocol import (
    AUTHORIZATION_HEADER,
    PROTOCOL_HEADER,
    SESSION_PATH,
    SUBPROTOCOL,
    ClientSideSession,
    OutputReceived,
    ProgressReceived,
    SessionEnded,
    SessionRequest,
    Status,
    hash_token,
)

TOKEN = "test-token-0123456789"
START_TIMEOUT = 30.0
LISTENING = re.compile(r"listens on [\d.]+:(\d+)")


@dataclasses.dataclass
class AgentProcess:
    """A running agent and where to find its traces."""

    process: subprocess.Popen[bytes]
    port: int
    state_dir: Path
    audit_log: Path
    log: Path
    agent_id: str

    @property
    def url(self) -> str:
        """The session endpoint."""
        return f"ws://127.0.0.1:{self.port}{SESSION_PATH}"

    def log_text(self) -> str:
        """The agent's own log so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """Stop the agent with SIGTERM (or SIGKILL if it hangs); return its status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_agent(
    socket: Path,
    directory: Path,
    *,
    agent_id: str,
    extra: Sequence[str] = (),
    runtime: str = "containerd",
) -> AgentProcess:
    """Start `kdebug-agent` and wait until it listens.

    Raises:
        pytest.fail.Exception: it exited or did not listen in time.
    """
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"agent-{agent_id}.log"
    audit = directory / "audit.log"
    state = directory / "state"
    command = [
        str(Path(sys.executable).parent / "kdebug-agent"),
        "--host=127.0.0.1",
        "--port=0",
        "--host-root=/",
        f"--runtime={runtime}",
        f"--{runtime}-socket={socket}",
        f"--state-dir={state}",
        f"--audit-log={audit}",
        f"--agent-id={agent_id}",
        f"--token-sha256={hash_token(TOKEN)}",
        *extra,
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text(errors="replace"))
        if found:
            return AgentProcess(process, int(found[1]), state, audit, log, agent_id)
        if process.poll() is not None:
            pytest.fail(f"kdebug-agent exited at start-up:\n{log.read_text()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail(
        f"kdebug-agent did not listen within {START_TIMEOUT} s:\n{log.read_text()}"
    )


@contextlib.contextmanager
def running_agent(
    socket: Path, directory: Path, **options: object
) -> Iterator[AgentProcess]:
    """Start an agent for the block and stop it afterwards."""
    agent = start_agent(socket, directory, **options)  # type: ignore[arg-type]
    try:
        yield agent
    finally:
        agent.stop()


async def open_session(
    agent: AgentProcess,
    request: SessionRequest,
    *,
    token: str = TOKEN,
    version: str = "1",
) -> tuple[ClientConnection, ClientSideSession]:
    """Connect and send the session request."""
    websocket = await connect_agent(agent, token=token, version=version)
    protocol = ClientSideSession(request)
    await websocket.send(protocol.opening_message())
    return websocket, protocol


async def connect_agent(
    agent: AgentProcess, *, token: str = TOKEN, version: str = "1"
) -> ClientConnection:
    """Upgrade to a session connection without sending anything yet."""
    return await connect(
        agent.url,
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        additional_headers={
            AUTHORIZATION_HEADER: f"Bearer {token}",
            PROTOCOL_HEADER: version,
        },
        compression=None,
        # Big enough for the tests' oversized frames; the agent's limit is the
        # one under test.
        max_size=None,
    )


@dataclasses.dataclass
class Transcript:
    """Everything a session sent back."""

    output: bytes = b""
    stages: list[str] = dataclasses.field(default_factory=list)
    status: Status | None = None


async def collect(
    websocket: ClientConnection, protocol: ClientSideSession, *, until: bytes = b""
) -> Transcript:
    """Read events until the final status (or until `until` shows up)."""
    transcript = Transcript()
    async for message in websocket:
        for event in protocol.receive(message):
            if isinstance(event, OutputReceived):
                transcript.output += event.data
                if until and until in transcript.output:
                    return transcript
            elif isinstance(event, ProgressReceived):
                transcript.stages.append(event.progress.stage)
            elif isinstance(event, SessionEnded):
                transcript.status = event.status
                return transcript
    return transcript


async def run_session(
    agent: AgentProcess,
    request: SessionRequest,
    *,
    stdin: bytes = b"",
    timeout: float = 60,
) -> Transcript:
    """Run a session to its end, feeding `stdin` then closing it."""
    websocket, protocol = await open_session(agent, request)
    async with websocket:
        if stdin:
            await websocket.send(protocol.send_input(stdin))
        if not request.tty:
            await websocket.send(protocol.close_stdin())
        return await asyncio.wait_for(collect(websocket, protocol), timeout)


def alive(pid: int) -> bool:
    """Tell whether a process exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
