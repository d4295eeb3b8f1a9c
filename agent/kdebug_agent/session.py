"""One debug session: prepare the debug container, relay it, clean up.

The session reads client frames through the Sans-I/O `AgentSideSession`, talks
to the runtime only through the `ContainerRuntime` interface, and guarantees one
thing above all: whatever happens (the process exits, the client vanishes, a
frame is malformed, the agent is told to stop), the debug container is removed.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from kdebug_agent.audit import AuditLog
from kdebug_agent.errors import AgentError, RuntimeUnavailable
from kdebug_agent.protocol import (
    CONTAINER_LABEL,
    NAMESPACE_LABEL,
    POD_LABEL,
    AgentSideSession,
    Channel,
    FailureReason,
    InputReceived,
    Progress,
    ProtocolError,
    ResizeRequested,
    SessionRequest,
    Status,
    StdinClosed,
)
from kdebug_agent.runtimes.base import (
    AGENT_LABEL,
    MANAGED_LABEL,
    SESSION_LABEL,
    TARGET_LABEL,
    ContainerRuntime,
    DebugContainer,
    DebugSpec,
)

logger = logging.getLogger(__name__)

# How long to wait for output still in flight after the process has exited.
OUTPUT_DRAIN_TIMEOUT = 5.0
# How long the client has to send its session request after the upgrade.
REQUEST_TIMEOUT = 10.0
# While output streams in small pieces (`yes`, a log), it gathers this long
# before the next read, so it travels in a few large messages instead of
# thousands of small ones: each message costs the agent and the client more
# than its bytes do. Output after a pause, such as a key's echo, goes at once.
GATHER_TIME = 0.002
# A read this large means the output comes fast enough to fill messages alone.
GATHER_BELOW = 16384
# When the target's main process ends, the kernel kills the rest of its pid
# namespace, the debug process too; the runtime may learn of the target's end
# a moment after the debug process's. A process killed by SIGKILL (exit code
# 137) waits this long for the target's state to settle.
TARGET_SETTLE_TIME = 1.0
KILLED_EXIT_CODE = 128 + 9
TARGET_GONE = (FailureReason.TARGET_NOT_RUNNING, FailureReason.TARGET_NOT_FOUND)
REQUEST_TIMEOUT_MESSAGE = f"No session request arrived within {REQUEST_TIMEOUT:.0f} s."


class SessionLogger(logging.LoggerAdapter[logging.Logger]):
    """Stamps the session id and the target on every line."""

    def process(
        self, msg: str, kwargs: MutableMapping[str, Any]
    ) -> tuple[str, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return f"[{extra['session']} {extra['target']}] {msg}", kwargs


class Session:
    """A debug session from the first client message to the final cleanup."""

    def __init__(
        self,
        connection: ServerConnection,
        runtimes: dict[str, ContainerRuntime],
        *,
        agent_id: str,
        grace: float,
        audit: AuditLog,
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self._connection = connection
        self._runtimes = runtimes
        self._agent_id = agent_id
        self._grace = grace
        self._audit = audit
        self._protocol = AgentSideSession()
        self._container: DebugContainer | None = None
        self._target: tuple[ContainerRuntime, str] | None = None
        self._client_gone = asyncio.Event()
        self._client_ended = False
        self._client_misbehaved = False
        self._finished = False
        self._log = SessionLogger(logger, {"session": self.id, "target": "-"})

    async def run(self) -> None:
        """Serve the session; returns once everything it created is removed."""
        try:
            request = await self._receive_request()
        except ProtocolError as error:
            self._log.warning("The client sent a malformed session request: %s", error)
            await self._finish(Status.failed(FailureReason.BAD_REQUEST, str(error)))
            return
        except TimeoutError:
            self._log.warning("The client sent no session request; it is refused.")
            await self._finish(
                Status.failed(FailureReason.BAD_REQUEST, REQUEST_TIMEOUT_MESSAGE)
            )
            return
        except ConnectionClosed:
            return
        self._log.extra = {"session": self.id, "target": _describe(request)}
        self._audit.session_started(self.id, request, peer=self._peer())
        outcome = "internal error"
        try:
            outcome = await self._serve(request)
        finally:
            await self._remove_container()
            self._audit.session_ended(self.id, outcome=outcome)

    @property
    def finished(self) -> bool:
        """Whether the session is over for its client (told, or disconnected)."""
        return self._finished or self._connection.state is not State.OPEN

    async def announce_shutdown(self) -> None:
        """Tell the client the agent is stopping; the caller then cancels `run`."""
        await self._finish(
            Status.failed(FailureReason.AGENT_SHUTDOWN, "The agent is shutting down.")
        )

    async def _receive_request(self) -> SessionRequest:
        message = await asyncio.wait_for(self._connection.recv(), REQUEST_TIMEOUT)
        return self._protocol.receive_request(message)

    async def _serve(self, request: SessionRequest) -> str:
        try:
            container = await self._prepare(request)
        except AgentError as error:
            self._log.info("The session could not start: %s", error)
            await self._finish(Status.failed(error.reason, str(error)))
            return f"failed: {error.reason}"
        self._container = container
        return await self._relay(container)

    async def _prepare(self, request: SessionRequest) -> DebugContainer:
        runtime = self._runtimes.get(request.runtime)
        if runtime is None:
            available = ", ".join(sorted(self._runtimes)) or "none"
            raise _unavailable(request.runtime, available)
        await self._progress("target", "Looking up the target container.")
        target = await runtime.find_target(request.container_id)
        self._target = (runtime, request.container_id)
        await runtime.ensure_image(
            request.image,
            policy=request.pull_policy,
            auth=request.registry_auth,
            progress=self._progress,
        )
        await self._progress("create", "Creating the debug container.")
        labels = {
            **request.labels,
            MANAGED_LABEL: "true",
            SESSION_LABEL: self.id,
            TARGET_LABEL: request.container_id,
            AGENT_LABEL: self._agent_id,
        }
        spec = DebugSpec(
            session_id=self.id,
            target=target,
            image=request.image,
            command=request.command,
            tty=request.tty,
            size=request.size,
            namespaces=request.namespaces,
            privileged=request.privileged,
            labels=labels,
        )
        container = await runtime.create_debug_container(spec, progress=self._progress)
        self._container = container
        await self._progress("start", "Starting the debug process.")
        await container.start()
        self._log.info("The debug container %s is running.", container.id)
        return container

    async def _relay(self, container: DebugContainer) -> str:
        output = asyncio.create_task(self._pump_output(container))
        errors = asyncio.create_task(self._pump_stderr(container))
        client = asyncio.create_task(self._pump_input(container))
        exited = asyncio.create_task(container.wait())
        try:
            await asyncio.wait({exited, client}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done() and self._client_ended:
                # A clean close is the user closing the tab: no grace time.
                self._log.info("The client ended the session.")
                return "ended by the client"
            if not exited.done() and self._client_misbehaved:
                # Checked before the grace time: a client that sent garbage is
                # not coming back, even if sending output has failed since.
                return "failed: BadRequest"
            if not exited.done() and self._client_gone.is_set():
                # The client vanished: keep the process for the grace time, so a
                # flaky network costs the user nothing if the process ends anyway.
                self._log.info(
                    "The client disconnected; the debug container is kept %.0f s.",
                    self._grace,
                )
                await asyncio.wait({exited}, timeout=self._grace)
                if not exited.done():
                    return "client disconnected"
            if not exited.done():
                return await self._input_failed(client)
            exit_code = exited.result()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(asyncio.gather(output, errors)),
                    OUTPUT_DRAIN_TIMEOUT,
                )
            if exit_code != 0 and await self._target_stopped(exit_code):
                self._log.info(
                    "The target stopped; the debug process ended with code %d.",
                    exit_code,
                )
                await self._finish(Status.target_stopped(exit_code))
                return f"target stopped, exit {exit_code}"
            await self._finish(Status.exited(exit_code))
            self._log.info("The debug process exited with code %d.", exit_code)
            return f"exit {exit_code}"
        finally:
            for task in (output, errors, client, exited):
                task.cancel()
            await asyncio.gather(output, errors, client, exited, return_exceptions=True)

    async def _target_stopped(self, exit_code: int) -> bool:
        """Tell whether the target is no longer running, after `exit_code`."""
        if self._target is None:
            return False
        runtime, container_id = self._target
        loop = asyncio.get_running_loop()
        settle = TARGET_SETTLE_TIME if exit_code == KILLED_EXIT_CODE else 0.0
        deadline = loop.time() + settle
        while True:
            try:
                await runtime.find_target(container_id)
            except AgentError as error:
                return error.reason in TARGET_GONE
            except Exception:
                # Only the status's wording depends on it: the exit code goes
                # back either way.
                self._log.warning(
                    "Checking whether the target still runs failed.", exc_info=True
                )
                return False
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def _pump_output(self, container: DebugContainer) -> None:
        await self._pump(container.read, Channel.STDOUT)

    async def _pump_stderr(self, container: DebugContainer) -> None:
        await self._pump(container.read_stderr, Channel.STDERR)

    async def _pump(
        self, read: Callable[[], Awaitable[bytes]], channel: Channel
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            data = await read()
            if not data:
                return
            # Output that was ready (or nearly) when asked for is a stream: the
            # next read waits a moment, for more of it to be ready.
            streaming = loop.time() - asked < GATHER_TIME and len(data) < GATHER_BELOW
            await self._send_output(data, channel)
            if streaming:
                await asyncio.sleep(GATHER_TIME)

    async def _send_output(self, data: bytes, channel: Channel) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            self._log.debug("Relaying %d bytes on %s.", len(data), channel.name)
        if self._client_gone.is_set():
            # Output keeps being read so the process never blocks on a full pipe.
            return
        try:
            await self._connection.send(self._protocol.output(data, channel=channel))
        except ConnectionClosed:
            self._client_gone.set()

    async def _pump_input(self, container: DebugContainer) -> None:
        try:
            async for message in self._connection:
                for event in self._protocol.receive(message):
                    if isinstance(event, InputReceived):
                        await container.write(event.data)
                    elif isinstance(event, ResizeRequested):
                        await container.resize(event.size)
                    elif isinstance(event, StdinClosed):
                        await container.close_stdin()
        except ProtocolError as error:
            self._log.warning("The client sent a malformed frame: %s", error)
            self._client_misbehaved = True
            await self._finish(Status.failed(FailureReason.BAD_REQUEST, str(error)))
            return
        except ConnectionClosed as error:
            if error.sent is not None and error.sent.code == CloseCode.MESSAGE_TOO_BIG:
                # websockets failed the connection itself, so no status can go.
                self._log.warning(
                    "The client sent a message too big to receive; the connection "
                    "is closed: %s",
                    error.sent.reason,
                )
                self._client_misbehaved = True
                return
            # Dropped without a closing handshake: the grace time applies.
            self._client_gone.set()
            return
        self._client_ended = True
        self._client_gone.set()

    async def _input_failed(self, client: "asyncio.Task[None]") -> str:
        failure = client.exception()
        if failure is None:
            # The input pump ended on a protocol error; it already reported it.
            return "failed: BadRequest"
        # Whatever broke, the client must still learn that the session is over.
        self._log.error("Relaying the client's input failed.", exc_info=failure)
        await self._finish(
            Status.failed(
                FailureReason.INTERNAL, f"The agent could not relay input: {failure}"
            )
        )
        return "internal error"

    async def _progress(self, stage: str, message: str) -> None:
        if self._client_gone.is_set():
            return
        with contextlib.suppress(ConnectionClosed):
            await self._connection.send(
                self._protocol.progress(Progress(stage=stage, message=message))
            )

    async def _finish(self, status: Status) -> None:
        if self._finished:
            return
        self._finished = True
        with contextlib.suppress(ConnectionClosed):
            await self._connection.send(self._protocol.finish(status))
            await self._connection.close()

    async def _remove_container(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            await container.remove()
        except Exception:
            self._log.exception(
                "Removing the debug container %s failed; the next agent on this "
                "node will remove it at start-up.",
                container.id,
            )
        else:
            self._log.info("The debug container %s is removed.", container.id)

    def _peer(self) -> str:
        address = self._connection.remote_address
        return f"{address[0]}:{address[1]}" if address else "unknown"


def _describe(request: SessionRequest) -> str:
    labels = request.labels
    names = [labels.get(k, "") for k in (NAMESPACE_LABEL, POD_LABEL, CONTAINER_LABEL)]
    if all(names):
        return "/".join(names)
    return request.target[:40]


def _unavailable(wanted: str, available: str) -> AgentError:
    return RuntimeUnavailable(
        f"The target runs on {wanted}, but this agent has no {wanted} runtime "
        f"(available: {available})."
    )
