"""The client side of debug sessions: from a target to a relayed terminal.

`SessionManager` owns the agent pods of one context. It opens sessions (find
or create the node's agent, port-forward, upgrade to WebSocket, send the
request) and, when the last session on a node ends, removes the agent pod if
no other session uses it. `DebugSession` is one relayed terminal; the CLI and
the TUI drive it the same way.
"""

import asyncio
import contextlib
import dataclasses
import enum
import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from kdebug_agent.protocol import (
    CONTAINER_LABEL,
    MAX_FRAME_SIZE,
    NAMESPACE_LABEL,
    POD_LABEL,
    ClientSideSession,
    Event,
    OutputReceived,
    ProgressReceived,
    ProtocolError,
    PullPolicy,
    SessionEnded,
    SessionRequest,
    Status,
    TerminalSize,
)
from kdebug_tui.backend.agents import AgentPod, AgentPods, AgentPodState
from kdebug_tui.backend.connection import AgentConnection
from kdebug_tui.backend.errors import (
    AgentConnectionError,
    AgentPodError,
    ClientError,
    SessionFailed,
)
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.registry import find_registry_auth
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.targets import Target, resolve_target
from kdebug_tui.backend.tokens import TokenStore

logger = logging.getLogger(__name__)

ProgressReporter = Callable[[str, str], None]
LOST_CONNECTION_HINT = (
    "Start the session again if you need to; the old debug container is "
    "removed after the grace time, or by the next agent on the node if the "
    "agent itself stopped."
)
"""A lost connection may be the network or the agent's end: both are true."""
AGENT_MAX_MESSAGE_SIZE = MAX_FRAME_SIZE
"""The largest message the agent takes, from the protocol both sides share."""

PROBE_TIMEOUT = 2.0
"""Seconds an agent that just started has to answer one health check."""
FIRST_PROBE_RETRY = 0.05
"""Seconds before looking at a new agent pod again; doubled up to the next."""
QUICK_PROBE_RETRY = 0.2
"""The longest pause between two looks while the agent should be starting."""
QUICK_PROBES_SECONDS = 5.0
"""How long after its creation an agent pod is looked at quickly."""
SLOW_PROBE_RETRY = 1.0
"""The pause between two looks after that: an image pull, a busy node."""
CLOSE_TIMEOUT = 5.0
"""Seconds the agent has to answer a close frame, and the close to finish."""
CLOSE_POLL_INTERVAL = 0.005
"""Seconds between two looks for the agent's close frame while closing."""
READY_STAGES = (("agent-started", "Agent started."), ("agent-ready", "Agent ready."))
"""Reported when the agent answers, if the pod's status has not said so yet."""


class SessionState(enum.Enum):
    """Where a session is in its life, as a tab label shows it."""

    CONNECTING = "connecting"
    RUNNING = "running"
    EXITED = "exited"
    FAILED = "failed"
    DISCONNECTED = "disconnected"


@dataclasses.dataclass(frozen=True, slots=True)
class LaunchOptions:
    """What the user asked for beyond the target; defaults come from settings."""

    image: str
    command: tuple[str, ...] = ()
    tty: bool = True
    size: TerminalSize | None = None
    namespaces: tuple[str, ...] = ("pid", "net", "ipc")
    privileged: bool = True
    pull_policy: str = "IfNotPresent"
    registry_secret: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> "LaunchOptions":
        """Build options from settings, with explicit values winning."""
        options = cls(
            image=settings.image,
            namespaces=settings.namespaces,
            privileged=settings.privileged,
            pull_policy=settings.pull_policy,
            registry_secret=settings.registry_secret,
        )
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


class TargetLogger(logging.LoggerAdapter[logging.Logger]):
    """Stamps the target, `namespace/pod/container`, on every line."""

    def process(
        self, msg: str, kwargs: MutableMapping[str, Any]
    ) -> tuple[str, MutableMapping[str, Any]]:
        """Put the target before the message."""
        extra = self.extra or {}
        return f"[{extra['target']}] {msg}", kwargs


def target_logger(target: object) -> TargetLogger:
    """The module's logger, stamping `target` (a `Target` or its words)."""
    return TargetLogger(logger, {"target": str(target)})


class DebugSession:
    """One relayed debug terminal."""

    def __init__(
        self,
        manager: "SessionManager",
        *,
        target: Target,
        agent: AgentPod,
        connection: AgentConnection,
        websocket: ClientConnection,
        protocol: ClientSideSession,
    ) -> None:
        self.target = target
        self.agent = agent
        self.state = SessionState.CONNECTING
        self.status: Status | None = None
        self._manager = manager
        self._connection = connection
        self._websocket = websocket
        self._protocol = protocol
        self._closed = False
        self._log = target_logger(target)

    async def receive(self) -> Event:
        """Return the next event from the agent.

        Raises:
            AgentConnectionError: the connection dropped before a final status.
            ProtocolError: the agent sent a malformed frame.
        """
        while True:
            try:
                message = await self._websocket.recv()
            except ConnectionClosed as error:
                self._log.warning("The connection to the agent was lost (%s).", error)
                self.state = SessionState.DISCONNECTED
                await self.close()
                raise AgentConnectionError(
                    f"The connection to the agent was lost ({error}).",
                    hint=LOST_CONNECTION_HINT,
                ) from error
            events = self._protocol.receive(message)
            if not events:
                continue
            event = events[0]
            if isinstance(event, OutputReceived):
                self.state = SessionState.RUNNING
            elif isinstance(event, SessionEnded):
                self._log_end(event.status)
                self.status = event.status
                self.state = (
                    SessionState.EXITED
                    if event.status.exit_code is not None
                    else SessionState.FAILED
                )
                await self.close()
            return event

    def _log_end(self, status: Status) -> None:
        if status.exit_code is not None:
            self._log.info(
                "The debug process exited with code %s; the session ended.",
                status.exit_code,
            )
        else:
            # The caller raises it to the user as a sentence; this keeps the reason.
            self._log.info(
                "The agent ended the session (%s): %s",
                status.reason or "no reason",
                status.message or "it said nothing more.",
            )

    async def send(self, data: bytes) -> None:
        """Send input to the debug process; dropped once the session is over."""
        with contextlib.suppress(ConnectionClosed, ProtocolError):
            await self._websocket.send(self._protocol.send_input(data))

    async def resize(self, size: TerminalSize) -> None:
        """Tell the debug process its terminal's new size."""
        with contextlib.suppress(ConnectionClosed):
            await self._websocket.send(self._protocol.resize(size))

    async def close_stdin(self) -> None:
        """Signal the end of input."""
        with contextlib.suppress(ConnectionClosed):
            await self._websocket.send(self._protocol.close_stdin())

    async def _close_websocket(self) -> None:
        """Close the WebSocket as soon as both close frames have passed.

        The agent acts on the close frames alone. The websockets library waits
        for the agent's end of TCP as well, which the port-forward passes on
        about a second later; every session's end used to wait that long.
        """
        websocket = self._websocket
        closing = asyncio.ensure_future(websocket.close())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                while websocket.protocol.close_rcvd is None and not closing.done():
                    await asyncio.sleep(CLOSE_POLL_INTERVAL)
        # Our close frame is written before the transport closes.
        websocket.transport.close()
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            await asyncio.wait_for(closing, CLOSE_TIMEOUT)

    async def close(self) -> None:
        """End the session: the agent then removes the debug container."""
        if self._closed:
            return
        self._closed = True
        await self._close_websocket()
        self._connection.close()
        self._log.info("Closed the session through agent pod %s.", self.agent.name)
        await self._manager.session_closed(self)


class SessionManager:
    """Opens sessions for one context and tidies agent pods up after them."""

    def __init__(
        self, kube: Kube, settings: Settings, *, tokens: TokenStore | None = None
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.agent_pods = AgentPods(kube, settings, tokens=tokens or TokenStore())
        self._agents: dict[str, AgentPod] = {}
        self._users: dict[str, int] = {}
        self._node_locks: dict[str, asyncio.Lock] = {}
        self._permissions_checked = False

    async def open(
        self,
        *,
        namespace: str,
        pod: str,
        container: str = "",
        options: LaunchOptions,
        progress: ProgressReporter,
    ) -> DebugSession:
        """Start a debug session on a target container.

        Raises:
            ClientError: any failure, as a sentence with a hint; nothing is left
                behind when this raises.
        """
        log = target_logger(f"{namespace}/{pod}/{container or '(default)'}")
        log.info("Opening a debug session with image %s.", options.image)
        try:
            session = await self._open(
                namespace=namespace,
                pod=pod,
                container=container,
                options=options,
                progress=progress,
            )
        except ClientError as error:
            # The caller tells the user; the log (at -v, and the TUI's) keeps it too.
            log.info("The debug session could not start: %s", error)
            raise
        agent = session.agent
        log.info(
            "The session runs through agent pod %s/%s.", agent.namespace, agent.name
        )
        return session

    async def _open(
        self,
        *,
        namespace: str,
        pod: str,
        container: str,
        options: LaunchOptions,
        progress: ProgressReporter,
    ) -> DebugSession:
        progress("target", f"Reading pod {namespace}/{pod}.")
        # Who the user is goes into the request and the agent pod; asking
        # while the pod is read saves a round trip to the API server.
        target, user = await asyncio.gather(
            asyncio.to_thread(
                resolve_target,
                self.kube,
                namespace=namespace,
                pod=pod,
                container=container,
            ),
            asyncio.to_thread(self.kube.username),
        )
        request = await self._request(target, options, user=user)
        _require_fitting(request)
        node = target.node
        lock = self._node_locks.setdefault(node, asyncio.Lock())
        async with lock:
            agent = await self._agent_for(node, progress)
            self._users[node] = self._users.get(node, 0) + 1
        try:
            return await self._start(target, agent, request, progress)
        except BaseException:
            await self._release(node)
            raise

    async def session_closed(self, session: DebugSession) -> None:
        """Called by a session when it ends."""
        await self._release(session.target.node)

    async def close_all(self) -> None:
        """Delete the agent pods this manager still holds (on quit)."""
        for node in list(self._agents):
            self._users[node] = 0
            await self._release(node, force=True)

    async def collect_garbage(self) -> list[str]:
        """Delete finished or expired agent pods in the agent namespace."""
        return await asyncio.to_thread(self.agent_pods.collect_garbage)

    async def _request(
        self, target: Target, options: LaunchOptions, *, user: str
    ) -> SessionRequest:
        auth = None
        if options.registry_secret or target.pull_secrets:
            auth = await asyncio.to_thread(
                find_registry_auth,
                self.kube,
                namespace=target.namespace,
                secrets=target.pull_secrets,
                image=options.image,
                required=options.registry_secret,
            )
        return SessionRequest(
            target=target.container_id,
            image=options.image,
            command=options.command,
            tty=options.tty,
            size=options.size,
            namespaces=options.namespaces,
            pull_policy=PullPolicy(options.pull_policy),
            privileged=options.privileged,
            registry_auth=auth,
            user=user,
            labels={
                NAMESPACE_LABEL: target.namespace,
                POD_LABEL: target.pod,
                CONTAINER_LABEL: target.container,
            },
        )

    async def _agent_for(self, node: str, progress: ProgressReporter) -> AgentPod:
        known = self._agents.get(node)
        if known is not None:
            return known
        reusable = await asyncio.to_thread(self.agent_pods.find_reusable, node)
        if reusable is not None:
            logger.info("Reusing agent pod %s on node %s.", reusable.name, node)
            progress("agent-ready", f"Reusing agent pod {reusable.name}.")
            self._agents[node] = reusable
            return reusable
        if not self._permissions_checked:
            await asyncio.to_thread(
                self.kube.require_permissions, self.settings.agent_namespace
            )
            self._permissions_checked = True
        progress("agent", f"Starting an agent pod on node {node}.")
        created = await self._create_agent_pod(node)
        logger.info(
            "Created agent pod %s/%s on node %s; waiting until it is ready.",
            created.namespace,
            created.name,
            node,
        )
        progress(
            "agent-created", f"Created agent pod {created.namespace}/{created.name}."
        )
        try:
            await self._wait_ready(created, progress)
        except BaseException:
            # Ctrl-C or a closed tab while waiting lands here: nothing may be left.
            await asyncio.shield(asyncio.to_thread(self.agent_pods.delete, created))
            raise
        self._agents[node] = created
        return created

    async def _create_agent_pod(self, node: str) -> AgentPod:
        """Create the node's agent pod, deleting it if the launch is cancelled.

        A cancellation (Ctrl-C, a signal, a closed tab) cannot stop the
        request the thread has sent: the API server may make the pod all the
        same, so the thread is waited for and what it made is deleted.
        """
        creation = asyncio.ensure_future(
            asyncio.to_thread(self.agent_pods.create_pod, node)
        )
        try:
            return await asyncio.shield(creation)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                made = await creation
                logger.info(
                    "Deleting agent pod %s: its launch was cancelled.", made.name
                )
                await asyncio.to_thread(self.agent_pods.delete, made)
            raise

    async def _wait_ready(self, agent: AgentPod, progress: ProgressReporter) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.ready_timeout
        reported: set[str] = set()
        from_thread = _threadsafe(progress)
        retry = FIRST_PROBE_RETRY
        while loop.time() < deadline:
            # The pod's status tells failures and stages; a crash must be told
            # as such, not as a timeout.
            state = await asyncio.to_thread(
                self.agent_pods.check, agent, reported=reported, progress=from_thread
            )
            # The kubelet notices a started container up to a second late and
            # probes it once a second: the agent itself answers sooner.
            if state is AgentPodState.READY or (
                "agent-scheduled" in reported and await self._agent_answers(agent)
            ):
                for stage, message in READY_STAGES:
                    if stage not in reported:
                        reported.add(stage)
                        progress(stage, message)
                return
            await asyncio.sleep(retry)
            slow = loop.time() - started > QUICK_PROBES_SECONDS
            retry = SLOW_PROBE_RETRY if slow else min(retry * 2, QUICK_PROBE_RETRY)

        state_text = await asyncio.to_thread(self.agent_pods.describe, agent)
        raise AgentPodError(
            f"Agent pod {agent.namespace}/{agent.name} was not ready after "
            f"{self.settings.ready_timeout} s ({state_text}).",
            hint="Check `kubectl describe pod` for its events, or raise "
            "ready_timeout in the settings.",
        )

    async def _agent_answers(self, agent: AgentPod) -> bool:
        """Tell whether the agent answers its health check through a port-forward.

        Raises:
            PermissionDenied: RBAC forbids port-forwarding, which no retry mends.
        """
        try:
            connection = await AgentConnection.open(self.kube, agent)
            status, _ = await connection.get("/healthz", timeout=PROBE_TIMEOUT)
        except AgentConnectionError as error:
            logger.debug("Agent pod %s does not answer yet: %s", agent.name, error)
            return False
        return status == 200

    async def _start(
        self,
        target: Target,
        agent: AgentPod,
        request: SessionRequest,
        progress: ProgressReporter,
    ) -> DebugSession:
        progress("connect", f"Connecting to agent pod {agent.name}.")
        connection = await AgentConnection.open(self.kube, agent)
        try:
            websocket = await connection.open_session()
        except ClientError:
            connection.close()
            raise
        protocol = ClientSideSession(request)
        await websocket.send(protocol.opening_message())
        return DebugSession(
            self,
            target=target,
            agent=agent,
            connection=connection,
            websocket=websocket,
            protocol=protocol,
        )

    async def _release(self, node: str, *, force: bool = False) -> None:
        self._users[node] = max(0, self._users.get(node, 0) - 1)
        if self._users[node] > 0:
            return
        agent = self._agents.pop(node, None)
        if agent is None or agent.preinstalled:
            return
        if not force and await self._agent_busy(agent):
            logger.info(
                "Agent pod %s still serves other sessions; it stays.", agent.name
            )
            return
        await asyncio.to_thread(self.agent_pods.delete, agent)

    async def _agent_busy(self, agent: AgentPod) -> bool:
        try:
            connection = await AgentConnection.open(self.kube, agent)
            version = await connection.get_json("/version")
        except ClientError as error:
            logger.info("Agent pod %s did not say if it is busy: %s", agent.name, error)
            return False
        return bool(version.get("sessions", 0))


def _require_fitting(request: SessionRequest) -> None:
    """Refuse a request the agent would refuse, before any agent pod is made."""
    size = len(ClientSideSession(request).opening_message().encode())
    if size > AGENT_MAX_MESSAGE_SIZE:
        raise SessionFailed(
            f"The command is too long: the session request would take {size} "
            f"bytes, and the agent takes at most {AGENT_MAX_MESSAGE_SIZE}.",
            reason="RequestTooLarge",
            hint="Shorten the command, or pass long input on stdin instead.",
        )


def _threadsafe(progress: ProgressReporter) -> ProgressReporter:
    loop = asyncio.get_running_loop()

    def report(stage: str, message: str) -> None:
        loop.call_soon_threadsafe(progress, stage, message)

    return report


__all__ = [
    "DebugSession",
    "LaunchOptions",
    "ProgressReceived",
    "SessionManager",
    "SessionState",
]


FAILURE_HINTS = {
    "TargetNotRunning": "Pick a running container: this one stopped after it was read.",
    "TargetNotFound": "Try again: the pod may have been restarted, and the "
    "container is no longer on its node's runtime.",
    "ImageNotPresent": "Use --pull-policy IfNotPresent, or import the image into "
    "the node's runtime: pull policy Never needs it there already.",
    "ImagePullFailed": "Check the image name and, for a private registry, "
    "name a dockerconfigjson secret with --registry-secret (in the TUI, the "
    "registry_secret setting).",
    "RuntimeUnavailable": "Set runtime_socket to the path of the node's "
    "containerd socket: the agent found none where it looked.",
    "AgentShutdown": "Start the session again: the agent pod was stopped.",
    "CommandNotFound": "Give the command's full path, or pick a debug image "
    "that has it (--image, or D in the browser).",
}


TARGET_GONE = {
    "TargetNotRunning": "Container {container} of pod {pod} stopped before the "
    "debug container could join it.",
    "TargetNotFound": "Container {container} of pod {pod} is no longer on node {node}.",
}
"""What the user is told, by reason, when the target went away after it was read."""


def session_failure(status: Status, target: Target | None = None) -> SessionFailed:
    """Turn a failure status from the agent into an error with a hint.

    The agent knows the target only by its container ID; where its message
    would show that ID alone, the user is told the container's name instead.
    """
    message = status.message or "The agent ended the session without saying why."
    if target is not None and status.reason in TARGET_GONE:
        logger.info("The agent said: %s", message)
        message = TARGET_GONE[status.reason].format(
            container=target.container,
            pod=f"{target.namespace}/{target.pod}",
            node=target.node,
        )
    return SessionFailed(
        message, reason=status.reason, hint=FAILURE_HINTS.get(status.reason, "")
    )
