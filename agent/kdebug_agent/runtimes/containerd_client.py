"""The agent's connection to containerd: finding the socket, stubs, error mapping.

Node distributions put containerd's socket in different places, so the agent
tries a list of host paths and reports why each one failed. Every call but the
version check is scoped to a containerd namespace by a gRPC header; calls made
while a debug container is being put together also carry a lease header, so the
garbage collector leaves the half-built objects alone.
"""

import contextlib
import logging
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import grpc.aio
from google.protobuf import empty_pb2

from kdebug_agent.errors import (
    AgentError,
    RuntimeFailure,
    RuntimeUnavailable,
    missing_command,
)
from kdebug_agent.runtimes.containerd_api import (
    containers_pb2_grpc,
    content_pb2,
    content_pb2_grpc,
    cri_images_pb2_grpc,
    images_pb2_grpc,
    leases_pb2_grpc,
    snapshots_pb2_grpc,
    tasks_pb2_grpc,
    version_pb2_grpc,
)

logger = logging.getLogger(__name__)

KNOWN_SOCKETS = (
    "/run/containerd/containerd.sock",
    "/run/k3s/containerd/containerd.sock",
    "/var/snap/microk8s/common/run/containerd.sock",
)
"""Host paths of containerd's socket on common distributions, tried in order.

rke2 uses k3s's path. `/run/dockershim.sock` is not containerd and is not tried.
"""

CONNECT_TIMEOUT = 3.0
"""Seconds a socket has to answer the version call before the next is tried."""

NAMESPACE_HEADER = "containerd-namespace"
LEASE_HEADER = "containerd-lease"

Metadata = tuple[tuple[str, str], ...]


class ContainerdClient:
    """The stubs of one containerd connection, scoped to one namespace."""

    def __init__(
        self, channel: grpc.aio.Channel, *, socket: str, namespace: str, version: str
    ) -> None:
        self.socket = socket
        """The host path of the socket that answered."""
        self.namespace = namespace
        self.version = version
        """containerd's version string, as it reported it when connected."""
        self._channel = channel
        self.versions = version_pb2_grpc.VersionStub(channel)
        self.containers = containers_pb2_grpc.ContainersStub(channel)
        self.tasks = tasks_pb2_grpc.TasksStub(channel)
        self.snapshots = snapshots_pb2_grpc.SnapshotsStub(channel)
        self.leases = leases_pb2_grpc.LeasesStub(channel)
        self.images = images_pb2_grpc.ImagesStub(channel)
        self.content = content_pb2_grpc.ContentStub(channel)
        self.cri_images = cri_images_pb2_grpc.ImageServiceStub(channel)

    def metadata(self, *, lease: str | None = None) -> Metadata:
        """Return the headers for a call in this client's namespace.

        Args:
            lease: the id of a lease that should hold what the call creates.
        """
        headers: Metadata = ((NAMESPACE_HEADER, self.namespace),)
        if lease:
            headers += ((LEASE_HEADER, lease),)
        return headers

    async def read_blob(self, digest: str) -> bytes:
        """Return a whole blob of the content store.

        Raises:
            grpc.aio.AioRpcError: the blob is missing or the call failed.
        """
        request = content_pb2.ReadContentRequest(digest=digest)
        chunks = [
            bytes(response.data)
            async for response in self.content.Read(request, metadata=self.metadata())
        ]
        return b"".join(chunks)

    async def close(self) -> None:
        """Close the channel; calls still in flight are cancelled."""
        await self._channel.close(None)


async def connect(
    candidates: Sequence[str], *, host_root: Path, namespace: str
) -> ContainerdClient:
    """Connect to the first socket among `candidates` that answers as containerd.

    Args:
        candidates: host paths of sockets, in the order to try them.
        host_root: where the agent sees the host's filesystem.
        namespace: the containerd namespace every later call is scoped to.

    Raises:
        RuntimeUnavailable: no socket answered; the message names every path
            tried and why it failed.
    """
    failures: list[str] = []
    for socket in dict.fromkeys(candidates):
        path = host_root / socket.lstrip("/")
        problem = _socket_problem(path)
        if problem is None:
            channel = grpc.aio.insecure_channel(f"unix://{path}")
            problem, version = await _ask_version(channel)
            if problem is None:
                logger.info("containerd %s answers on %s.", version, socket)
                return ContainerdClient(
                    channel, socket=socket, namespace=namespace, version=version
                )
            await channel.close(None)
        failures.append(f"{socket} {problem}")
    raise RuntimeUnavailable(
        "containerd answers on none of the sockets tried: " + "; ".join(failures) + "."
    )


def _socket_problem(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if not stat.S_ISSOCK(mode):
        return "is not a socket"
    return None


async def _ask_version(channel: grpc.aio.Channel) -> tuple[str | None, str]:
    stub = version_pb2_grpc.VersionStub(channel)
    try:
        response = await stub.Version(empty_pb2.Empty(), timeout=CONNECT_TIMEOUT)
    except grpc.aio.AioRpcError as error:
        return f"did not answer as containerd ({error.details()})", ""
    return None, str(response.version)


def is_not_found(error: grpc.aio.AioRpcError) -> bool:
    """Tell whether an error says the object asked for does not exist."""
    return bool(error.code() == grpc.StatusCode.NOT_FOUND)


def runtime_error(error: grpc.aio.AioRpcError, doing: str) -> AgentError:
    """Turn a gRPC error into the agent's error for a failed runtime call.

    Args:
        error: what the call raised.
        doing: what the agent was doing, as a verb phrase ("create the task").
    """
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        return RuntimeUnavailable(
            f"containerd stopped answering when asked to {doing}: {error.details()}"
        )
    details = str(error.details())
    return missing_command(details) or RuntimeFailure(
        f"containerd could not {doing}: {details}"
    )


@contextlib.contextmanager
def translated_errors(doing: str) -> Iterator[None]:
    """Raise gRPC errors of the calls inside as the agent's runtime errors.

    Args:
        doing: what the calls do, as a verb phrase for the message.
    """
    try:
        yield
    except grpc.aio.AioRpcError as error:
        raise runtime_error(error, doing) from error
