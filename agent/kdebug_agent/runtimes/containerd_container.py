"""A containerd debug container once made: its process, terminal and removal.

Everything one debug container consists of (the container record, its task,
its writable snapshot, the lease that held the snapshot while it was made, the
FIFO directory of its terminal) is named after the container, so that whoever
finds one of them, this agent or the next one on the node, can remove them all.
"""

import asyncio
import dataclasses
import logging
import shutil
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

import grpc.aio

from kdebug_agent.protocol import TerminalSize
from kdebug_agent.runtimes.base import DebugContainer
from kdebug_agent.runtimes.containerd_api import (
    containers_pb2,
    leases_pb2,
    snapshots_pb2,
    tasks_pb2,
)
from kdebug_agent.runtimes.containerd_client import (
    ContainerdClient,
    is_not_found,
    runtime_error,
    translated_errors,
)
from kdebug_agent.runtimes.containerd_io import FifoPipes

logger = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0
"""Seconds any single containerd call may take, except waits and pulls."""
STOP_TIMEOUT = 10.0
"""Seconds a killed debug process has to exit before its task is deleted."""
EXIT_SETTLE_TIMEOUT = 2.0
"""Seconds a pending wait has, after removal, to receive the exit status."""


@dataclasses.dataclass(frozen=True, slots=True)
class DebugPlan:
    """The names of everything one debug container consists of."""

    container_id: str
    fifo_dir: PurePosixPath
    """The host directory under which each container has its FIFO directory."""
    snapshotter: str

    @property
    def lease_id(self) -> str:
        """The lease that holds the snapshot while the container is made."""
        return self.container_id

    @property
    def snapshot_key(self) -> str:
        """The key of the container's writable snapshot."""
        return self.container_id

    @property
    def fifo_path(self) -> PurePosixPath:
        """The host path of the directory of this container's FIFOs."""
        return self.fifo_dir / self.container_id


class ContainerdDebugContainer(DebugContainer):
    """A debug container whose task exists and whose terminal is attached."""

    def __init__(
        self,
        client: ContainerdClient,
        plan: DebugPlan,
        *,
        pipes: FifoPipes,
        host_root: Path,
    ) -> None:
        self.id = plan.container_id
        self._client = client
        self._plan = plan
        self._pipes = pipes
        self._host_root = host_root
        self._exit: asyncio.Task[int] | None = None
        self._removing = asyncio.Lock()
        self._removed = False

    async def start(self) -> None:
        """Start the debug process; its exit is waited for from before it starts."""
        self._exit_task()
        request = tasks_pb2.StartRequest(container_id=self.id)
        with translated_errors("start the debug process"):
            await self._client.tasks.Start(
                request, metadata=self._client.metadata(), timeout=CALL_TIMEOUT
            )
        logger.info("Started the debug process of %s.", self.id)

    async def read(self) -> bytes:
        """Return the next chunk of output, or `b""` once the output has ended."""
        return await self._pipes.read()

    async def read_stderr(self) -> bytes:
        """Return the next chunk of stderr, or `b""` once it has ended.

        With a terminal there is no separate stderr and this returns `b""`.
        """
        return await self._pipes.read("stderr")

    async def write(self, data: bytes) -> None:
        """Write bytes to the debug process's terminal (or stdin)."""
        await self._pipes.write(data)

    async def close_stdin(self) -> None:
        """Signal end of input: the shim closes the process's stdin.

        With a terminal, containerd's shim then closes the terminal, so the
        process is hung up (SIGHUP), as when a terminal window closes.
        """
        self._pipes.close_stdin()
        request = tasks_pb2.CloseIORequest(container_id=self.id, stdin=True)
        try:
            await self._client.tasks.CloseIO(
                request, metadata=self._client.metadata(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            if not self._exited():
                raise runtime_error(error, "close the debug process's input") from error

    async def resize(self, size: TerminalSize) -> None:
        """Change the size of the debug process's terminal."""
        request = tasks_pb2.ResizePtyRequest(
            container_id=self.id, width=size.width, height=size.height
        )
        try:
            await self._client.tasks.ResizePty(
                request, metadata=self._client.metadata(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            # A resize that races the process's exit is of no consequence.
            if not self._exited():
                raise runtime_error(error, "resize the debug terminal") from error

    async def wait(self) -> int:
        """Wait for the debug process to exit and return its exit code.

        A process killed by a signal exits with 128 plus the signal's number.
        """
        return await asyncio.shield(self._exit_task())

    async def remove(self) -> None:
        """Kill the process if it runs and remove the container and all it used."""
        async with self._removing:
            if self._removed:
                return
            self._pipes.close()
            await remove_debug_container(
                self._client, self._plan, host_root=self._host_root
            )
            self._removed = True
            await self._settle_exit()
            logger.info("Removed the debug container %s.", self.id)

    async def _settle_exit(self) -> None:
        """Let a pending `wait` see the exit status, or end it if it cannot."""
        if self._exit is None:
            return
        # The process has exited by now, so its Wait call is answered at once.
        await asyncio.wait({self._exit}, timeout=EXIT_SETTLE_TIMEOUT)
        self._exit.cancel()
        await asyncio.gather(self._exit, return_exceptions=True)

    def _exit_task(self) -> "asyncio.Task[int]":
        if self._exit is None:
            self._exit = asyncio.create_task(self._wait_for_exit())
        return self._exit

    def _exited(self) -> bool:
        return self._exit is not None and self._exit.done()

    async def _wait_for_exit(self) -> int:
        request = tasks_pb2.WaitRequest(container_id=self.id)
        with translated_errors("report the debug process's exit"):
            response = await self._client.tasks.Wait(
                request, metadata=self._client.metadata()
            )
        return int(response.exit_status)


async def remove_debug_container(
    client: ContainerdClient, plan: DebugPlan, *, host_root: Path
) -> None:
    """Remove a debug container's task, record, snapshot, lease and FIFOs.

    Each step tolerates its object being gone already, so this is safe to
    repeat and to use on a half-made container. Every step is tried; the first
    real failure is raised at the end.

    Raises:
        RuntimeFailure: containerd refused a step.
        RuntimeUnavailable: containerd stopped answering.
    """
    failures: list[grpc.aio.AioRpcError] = []
    for step in _removal_steps(client, plan):
        try:
            await step()
        except grpc.aio.AioRpcError as error:
            if not is_not_found(error):
                failures.append(error)
    shutil.rmtree(host_root / str(plan.fifo_path).lstrip("/"), ignore_errors=True)
    if failures:
        doing = f"remove the debug container {plan.container_id}"
        raise runtime_error(failures[0], doing) from failures[0]


async def remove_quietly(
    client: ContainerdClient, plan: DebugPlan, *, host_root: Path
) -> bool:
    """Remove a debug container, logging instead of raising a failure.

    Returns:
        Whether everything is gone.
    """
    try:
        await remove_debug_container(client, plan, host_root=host_root)
    except Exception as error:
        logger.warning(
            "Removing the debug container %s failed, so parts of it stay until "
            "the next agent's clean-up: %s",
            plan.container_id,
            error,
        )
        return False
    return True


def _removal_steps(
    client: ContainerdClient, plan: DebugPlan
) -> list[Callable[[], Awaitable[object]]]:
    metadata = client.metadata()

    async def kill_task() -> None:
        request = tasks_pb2.KillRequest(
            container_id=plan.container_id, signal=signal.SIGKILL, all=True
        )
        try:
            await client.tasks.Kill(request, metadata=metadata, timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            # A task that has exited cannot be killed; deleting it is what's left.
            if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise

    async def wait_for_task() -> None:
        request = tasks_pb2.WaitRequest(container_id=plan.container_id)
        try:
            await client.tasks.Wait(request, metadata=metadata, timeout=STOP_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            logger.warning(
                "The debug process of %s outlived SIGKILL by %.0f s.",
                plan.container_id,
                STOP_TIMEOUT,
            )

    container_id, key = plan.container_id, plan.snapshot_key
    return [
        kill_task,
        wait_for_task,
        lambda: client.tasks.Delete(
            tasks_pb2.DeleteTaskRequest(container_id=container_id),
            metadata=metadata,
            timeout=CALL_TIMEOUT,
        ),
        lambda: client.containers.Delete(
            containers_pb2.DeleteContainerRequest(id=container_id),
            metadata=metadata,
            timeout=CALL_TIMEOUT,
        ),
        lambda: client.snapshots.Remove(
            snapshots_pb2.RemoveSnapshotRequest(snapshotter=plan.snapshotter, key=key),
            metadata=metadata,
            timeout=CALL_TIMEOUT,
        ),
        lambda: client.leases.Delete(
            leases_pb2.DeleteRequest(id=plan.lease_id),
            metadata=metadata,
            timeout=CALL_TIMEOUT,
        ),
    ]
