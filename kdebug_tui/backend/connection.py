"""Reaching an agent: a port-forward through the API server, then WebSocket.

The port-forward uses the user's own credentials and RBAC; nothing listens on a
node address. Each connection opens its own port-forward stream (one stream
carries one TCP connection), and closing the connection closes the stream.

Flow control ends at the Kubernetes client's port-forward thread: it reads the
API server's WebSocket as fast as it comes and keeps what the local socket has
not taken yet in memory, without a bound. Output that the app takes in more
slowly than the debug process writes it (a hidden tab, parsed at a bounded
rate) therefore grows the client's memory instead of slowing the process.
"""

import asyncio
import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from kdebug_agent.protocol import (
    AUTHORIZATION_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SESSION_PATH,
    SUBPROTOCOL,
    WireLogger,
)
from kdebug_tui.backend.agents import AGENT_PORT, AgentPod
from kdebug_tui.backend.errors import AgentConnectionError, PermissionDenied
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.unreachable import connection_cause, unreachable

logger = logging.getLogger(__name__)

OPEN_TIMEOUT = 15.0
# Output frames are at most 64 KiB; a little headroom for the framing.
MAX_MESSAGE_SIZE = 1 << 20


class AgentConnection:
    """One port-forwarded stream to an agent pod."""

    def __init__(self, forward: Any, sock: socket.socket, pod: AgentPod) -> None:
        self._forward = forward
        self.socket = sock
        self.pod = pod

    @classmethod
    async def open(cls, kube: Kube, pod: AgentPod) -> "AgentConnection":
        """Open a port-forward to the agent pod's port.

        Raises:
            PermissionDenied: RBAC forbids port-forwarding in the agent namespace.
            AgentConnectionError: the API server or kubelet refused the stream.
        """
        forward = await asyncio.to_thread(_open_forward, kube, pod)
        wrapped = forward.socket(AGENT_PORT)
        # The websockets library needs the plain socket, not the client's wrapper.
        sock: socket.socket = getattr(wrapped, "_socket", wrapped)
        return cls(forward, sock, pod)

    def close(self) -> None:
        """Close the stream; the port-forward's thread ends with it."""
        with contextlib.suppress(OSError):
            self._forward.close()

    async def get_json(self, path: str) -> Any:
        """GET a JSON document from the agent over this stream, then close it.

        Raises:
            AgentConnectionError: the agent did not answer with JSON.
        """
        status, body = await self.get(path)
        try:
            return json.loads(body)
        except ValueError as error:
            raise AgentConnectionError(
                f"Agent pod {self.pod.name} did not answer {path} with JSON "
                f"(status {status}): {error}."
            ) from error

    async def get(
        self, path: str, *, timeout: float = OPEN_TIMEOUT
    ) -> tuple[int, bytes]:
        """GET a path of the agent over this stream, then close it.

        Returns:
            The HTTP status and the body.

        Raises:
            AgentConnectionError: no answer came within `timeout` seconds.
        """

        def request() -> tuple[int, bytes]:
            connection = http.client.HTTPConnection("agent", timeout=timeout)
            self.socket.settimeout(timeout)
            connection.sock = self.socket
            try:
                connection.request("GET", path, headers={"Connection": "close"})
                response = connection.getresponse()
                return response.status, response.read()
            finally:
                connection.close()

        try:
            return await asyncio.to_thread(request)
        except (OSError, http.client.HTTPException) as error:
            raise AgentConnectionError(
                f"Agent pod {self.pod.name} did not answer {path}: "
                f"{error or type(error).__name__}."
            ) from error
        finally:
            self.close()

    async def open_session(self) -> ClientConnection:
        """Upgrade this stream to a WebSocket on the agent's session endpoint.

        Raises:
            AgentConnectionError: the agent refused (token, protocol version) or
                did not answer.
        """
        self.socket.setblocking(False)
        try:
            return await connect(
                f"ws://{self.pod.name}{SESSION_PATH}",
                sock=self.socket,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                additional_headers={
                    AUTHORIZATION_HEADER: f"Bearer {self.pod.token}",
                    PROTOCOL_HEADER: str(PROTOCOL_VERSION),
                },
                compression=None,
                logger=WireLogger(logging.getLogger("websockets.client")),
                open_timeout=OPEN_TIMEOUT,
                max_size=MAX_MESSAGE_SIZE,
                ping_interval=20,
                ping_timeout=20,
                # Let TCP back-pressure reach the agent instead of queueing floods.
                max_queue=64,
            )
        except InvalidStatus as error:
            body = error.response.body.decode(errors="replace").strip()
            raise AgentConnectionError(
                f"Agent pod {self.pod.name} refused the session "
                f"({error.response.status_code}): {body}"
            ) from error
        except (OSError, TimeoutError, InvalidHandshake) as error:
            raise AgentConnectionError(
                f"Agent pod {self.pod.name} did not accept a connection: "
                f"{error or type(error).__name__}.",
                hint="Try again: the agent may have just exited.",
            ) from error


FORWARD_THREAD_PREFIX = "Kubernetes port forward proxy"
"""How the Kubernetes client names the thread that pumps a port-forward."""


class QuietForwardThreads:
    """A thread exception hook that logs, not prints, a port-forward's broken pipe.

    The Kubernetes client's `PortForward._proxy` (kubernetes 37) lets the
    `OSError` of a send on a stream the kubelet has closed escape its thread,
    and Python prints the traceback on stderr, over the user's terminal. That
    happens when a starting agent is asked before it listens. The stream is
    closed either way and the caller sees its socket close; the hook can go
    once the client ends the thread quietly. Other threads' exceptions go to
    the hook that was there before.
    """

    def __init__(self, previous: Callable[[threading.ExceptHookArgs], Any]) -> None:
        self.previous = previous

    def __call__(self, args: threading.ExceptHookArgs) -> None:
        """Log the port-forward thread's `OSError`; hand anything else on."""
        name = args.thread.name if args.thread is not None else ""
        if name.startswith(FORWARD_THREAD_PREFIX) and isinstance(
            args.exc_value, OSError
        ):
            logger.debug("A port-forward's thread ended: %s", args.exc_value)
            return
        self.previous(args)


def _open_forward(kube: Kube, pod: AgentPod) -> Any:
    if not isinstance(threading.excepthook, QuietForwardThreads):
        threading.excepthook = QuietForwardThreads(threading.excepthook)
    try:
        return kube.open_port_forward(pod.namespace, pod.name, AGENT_PORT)
    except ApiException as error:
        reason = str(error.reason or error)
        if connection_cause(error):
            raise unreachable(kube.server, error, context=kube.context) from error
        if "403" in reason:
            raise PermissionDenied(
                f"You may not port-forward to pods in namespace {pod.namespace}.",
                hint="Ask an administrator for `create pods/portforward` in "
                "that namespace (deploy/rbac.yaml has the role): a debug "
                "session reaches its agent through a port-forward.",
            ) from error
        raise AgentConnectionError(
            f"The port-forward to agent pod {pod.name} failed: {reason[:300]}."
        ) from error
