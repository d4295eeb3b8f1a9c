"""The agent's HTTP and WebSocket server.

Plain requests answer `/healthz` and `/version`; `/v1/sessions` upgrades to a
WebSocket once the bearer token and the protocol version check out, and each
such connection becomes one `Session`. The server exits by itself once it has
had no session for its idle time.
"""

import asyncio
import contextlib
import http
import json
import logging
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from kdebug_agent import __version__
from kdebug_agent.audit import AuditLog
from kdebug_agent.config import AgentSettings
from kdebug_agent.errors import RuntimeUnavailable
from kdebug_agent.owners import OwnerLock
from kdebug_agent.protocol import (
    AUTHORIZATION_HEADER,
    MAX_FRAME_SIZE,
    PROTOCOL_HEADER,
    SESSION_PATH,
    SUBPROTOCOL,
    SUPPORTED_VERSIONS,
    UnsupportedProtocolVersion,
    WireLogger,
    check_protocol_version,
    token_matches,
)
from kdebug_agent.runtimes.base import ContainerRuntime
from kdebug_agent.session import Session

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT = 3.0
# Messages up to this size reach the session, which refuses those over
# MAX_FRAME_SIZE with a status; bigger ones make websockets fail the connection
# (close code 1009) before they are buffered, and no status can follow.
CONNECTION_MESSAGE_LIMIT = 4 * MAX_FRAME_SIZE
# How often a running agent looks for debug containers of agents that died,
# besides at start-up and when a session starts: a reused agent may run for
# hours while a killed neighbour's containers wait for a clean-up.
ORPHAN_SWEEP_INTERVAL = 60.0


class ConnectionLogger(WireLogger):
    """Moves the websockets library's INFO lines to DEBUG, without secrets.

    The library logs every plain request and every closed connection at INFO;
    the readiness probe alone makes two such lines a second, which would bury
    the agent's own session lines. Its warnings and errors keep their level.
    Its DEBUG lines leave out the token and the terminal's data.
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log as the wrapped logger does, with INFO demoted to DEBUG."""
        if level == logging.INFO:
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)


class AgentServer:
    """Serves debug sessions for the runtimes it was given."""

    def __init__(
        self,
        settings: AgentSettings,
        runtimes: dict[str, ContainerRuntime],
        *,
        audit: AuditLog,
        owner_lock: OwnerLock,
    ) -> None:
        self.settings = settings
        self._runtimes = runtimes
        self._audit = audit
        self._owner_lock = owner_lock
        self._sessions: dict[Session, asyncio.Task[None]] = {}
        self._idle_since = time.monotonic()
        self._server: Server | None = None
        self._stopped = asyncio.Event()
        self._sweep: asyncio.Task[None] | None = None
        self._sweep_wanted = False
        self._last_sweep = time.monotonic()

    @property
    def port(self) -> int:
        """The port the server listens on (useful when asked for port 0)."""
        assert self._server is not None, "the server is not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    async def start(self) -> None:
        """Remove orphans of dead agents, then listen."""
        await self._remove_orphans()
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            process_request=self._process_request,
            logger=ConnectionLogger(logging.getLogger("websockets.server")),
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            compression=None,
            max_size=CONNECTION_MESSAGE_LIMIT,
            ping_interval=20,
            ping_timeout=20,
        )
        logger.info(
            "The agent %s listens on %s:%d with runtimes %s.",
            self.settings.agent_id,
            self.settings.host,
            self.port,
            ", ".join(sorted(self._runtimes)),
        )

    async def run_until_idle(self) -> None:
        """Serve until stopped or idle for `settings.idle_timeout` seconds."""
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=1.0)
            if time.monotonic() - self._last_sweep >= ORPHAN_SWEEP_INTERVAL:
                self._sweep_orphans_soon()
            idle = time.monotonic() - self._idle_since
            idle_timeout = self.settings.idle_timeout
            if idle_timeout > 0 and not self._sessions and idle >= idle_timeout:
                logger.info(
                    "No session for %.0f s; the agent exits.",
                    self.settings.idle_timeout,
                )
                break
        await self.shutdown()

    def stop(self) -> None:
        """Ask `run_until_idle` to shut down."""
        self._stopped.set()

    async def shutdown(self) -> None:
        """Stop listening, end every session and remove its container."""
        if self._server is not None:
            self._server.close(close_connections=False)
        for session, task in list(self._sessions.items()):
            # A finished session is only removing its container: let it.
            if not session.finished:
                await session.announce_shutdown()
                task.cancel()
        await asyncio.gather(*self._sessions.values(), return_exceptions=True)
        if self._sweep is not None:
            self._sweep.cancel()
            await asyncio.gather(self._sweep, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        for runtime in self._runtimes.values():
            await runtime.close()

    async def _remove_orphans(self) -> None:
        self._last_sweep = time.monotonic()
        for name, runtime in self._runtimes.items():
            removed = await runtime.remove_orphans(
                owner_alive=self._owner_lock.owner_alive
            )
            if removed:
                logger.info(
                    "Removed %d debug containers left on %s by agents that died: %s.",
                    len(removed),
                    name,
                    ", ".join(removed),
                )

    def _sweep_orphans_soon(self) -> None:
        """Look for orphans in the background, once more if a sweep is running."""
        self._sweep_wanted = True
        if self._sweep is None or self._sweep.done():
            self._sweep = asyncio.create_task(self._sweep_orphans())

    async def _sweep_orphans(self) -> None:
        # A request that arrives during a sweep may follow an agent's death
        # that the sweep's listing missed, so it gets a sweep of its own.
        while self._sweep_wanted:
            self._sweep_wanted = False
            try:
                await self._remove_orphans()
            except Exception:
                logger.exception(
                    "Looking for debug containers of dead agents failed; "
                    "the next sweep tries again."
                )

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        path = request.path.partition("?")[0]
        if path == "/healthz":
            return await self._health(connection)
        if path == "/version":
            return _json_response(connection, http.HTTPStatus.OK, self._version())
        if path != SESSION_PATH:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found.\n")
        return self._check_session_request(connection, request.headers)

    def _check_session_request(
        self, connection: ServerConnection, headers: Headers
    ) -> Response | None:
        scheme, _, token = headers.get(AUTHORIZATION_HEADER, "").partition(" ")
        if scheme.lower() != "bearer" or not token_matches(
            token.strip(), self.settings.token_sha256
        ):
            logger.warning(
                "Refused a session from %s: missing or wrong token.",
                _peer(connection),
            )
            return connection.respond(
                http.HTTPStatus.UNAUTHORIZED,
                "Unauthorized: present this agent's bearer token.\n",
            )
        try:
            check_protocol_version(headers.get(PROTOCOL_HEADER))
        except UnsupportedProtocolVersion as error:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{error}\n")
        return None

    async def _health(self, connection: ServerConnection) -> Response:
        problems = []
        for name, runtime in self._runtimes.items():
            try:
                await asyncio.wait_for(runtime.version(), HEALTH_TIMEOUT)
            except (RuntimeUnavailable, TimeoutError) as error:
                problems.append(f"{name}: {error or 'no answer'}")
        if problems:
            return connection.respond(
                http.HTTPStatus.SERVICE_UNAVAILABLE, "; ".join(problems) + "\n"
            )
        return connection.respond(http.HTTPStatus.OK, "ok\n")

    def _version(self) -> dict[str, object]:
        return {
            "agent": __version__,
            "protocol": list(SUPPORTED_VERSIONS),
            "runtimes": sorted(self._runtimes),
            "agentId": self.settings.agent_id,
            # Sessions that told their client how they ended are only cleaning
            # up; a client deciding whether to delete this agent's pod must not
            # count them, and the pod's termination lets the cleanup finish.
            "sessions": sum(not session.finished for session in self._sessions),
        }

    async def _handle(self, connection: ServerConnection) -> None:
        session = Session(
            connection,
            self._runtimes,
            agent_id=self.settings.agent_id,
            grace=self.settings.grace,
            audit=self._audit,
        )
        task = asyncio.current_task()
        assert task is not None
        self._sessions[session] = task
        # Never delays the session: the sweep touches only dead agents' objects.
        self._sweep_orphans_soon()
        try:
            await session.run()
        finally:
            del self._sessions[session]
            self._idle_since = time.monotonic()


def _json_response(
    connection: ServerConnection, status: http.HTTPStatus, body: object
) -> Response:
    response = connection.respond(status, json.dumps(body) + "\n")
    response.headers["Content-Type"] = "application/json"
    return response


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "unknown"
