"""The FIFOs through which containerd's shim and the agent exchange a terminal.

The shim opens the FIFOs by the host paths given in `Tasks.Create`, and blocks
opening stdout until somebody holds its read end; so the agent makes the FIFOs
and opens its ends first: stdout for reading, stdin read-write (which never
blocks on Linux and keeps a writer so the shim never sees a premature end of
input). Every end is non-blocking and driven by the event loop. Without a
terminal, stderr has a FIFO of its own.
"""

import asyncio
import logging
import os
import shutil
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

READ_SIZE = 65536
_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC


class FifoPipes:
    """The agent's ends of one debug process's stdin, stdout and stderr FIFOs."""

    def __init__(
        self, directory: PurePosixPath, *, host_root: Path, stderr: bool = False
    ) -> None:
        """Make the FIFOs and open the agent's ends of them.

        Args:
            directory: the host path of a directory of this process's own.
            host_root: where the agent sees the host's filesystem.
            stderr: whether stderr gets a FIFO of its own (only without a
                terminal); otherwise `stderr_path` is empty.

        Raises:
            OSError: the directory or the FIFOs could not be made or opened.
        """
        self.directory = directory
        self.stdin_path = str(directory / "stdin")
        self.stdout_path = str(directory / "stdout")
        self.stderr_path = str(directory / "stderr") if stderr else ""
        self._local = host_root / str(directory).lstrip("/")
        self._local.mkdir(parents=True, mode=0o700)
        self._waiters: dict[int, _Waiter] = {}
        self._outputs: dict[str, int | None] = {}
        for name in ("stdout", "stderr") if stderr else ("stdout",):
            os.mkfifo(self._local / name, 0o600)
            self._outputs[name] = os.open(self._local / name, os.O_RDONLY | _FLAGS)
        os.mkfifo(self._local / "stdin", 0o600)
        self._stdin: int | None = os.open(self._local / "stdin", os.O_RDWR | _FLAGS)

    async def read(self, stream: str = "stdout") -> bytes:
        """Return the next chunk of a stream, or `b""` once its writers are gone.

        Args:
            stream: `stdout`, or `stderr` when it has a FIFO of its own.
        """
        while (fd := self._outputs.get(stream)) is not None:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                await self._ready(fd, writing=False)
                continue
            if not data:
                self._close_output(stream)
            elif logger.isEnabledFor(logging.DEBUG):
                logger.debug("Read %d bytes of %s.", len(data), stream)
            return data
        return b""

    async def write(self, data: bytes) -> None:
        """Write all of `data` to stdin; input after `close_stdin` is dropped."""
        view = memoryview(data)
        while view and self._stdin is not None:
            try:
                written = os.write(self._stdin, view)
            except BlockingIOError:
                await self._ready(self._stdin, writing=True)
                continue
            view = view[written:]

    def close_stdin(self) -> None:
        """Close the agent's end of stdin; a pending `write` gives up."""
        if self._stdin is not None:
            fd, self._stdin = self._stdin, None
            self._forget(fd)

    def close(self) -> None:
        """Close all of the agent's ends; pending reads return `b""`."""
        self.close_stdin()
        for stream in list(self._outputs):
            self._close_output(stream)

    def remove(self) -> None:
        """Close the ends and remove the FIFOs and their directory."""
        self.close()
        shutil.rmtree(self._local, ignore_errors=True)

    def _close_output(self, stream: str) -> None:
        fd = self._outputs.get(stream)
        if fd is not None:
            self._outputs[stream] = None
            self._forget(fd)

    def _forget(self, fd: int) -> None:
        waiter = self._waiters.pop(fd, None)
        if waiter is not None:
            waiter.cancel_watch()
        os.close(fd)

    async def _ready(self, fd: int, *, writing: bool) -> None:
        """Wait until `fd` can be read (or written), or is closed by us."""
        waiter = _Waiter(fd, writing=writing)
        self._waiters[fd] = waiter
        try:
            await waiter.future
        finally:
            if self._waiters.get(fd) is waiter:
                del self._waiters[fd]
                waiter.cancel_watch()


class _Waiter:
    """One wait for a file descriptor to become ready, watched by the loop."""

    def __init__(self, fd: int, *, writing: bool) -> None:
        self._fd = fd
        self._writing = writing
        self._loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self._loop.create_future()
        if writing:
            self._loop.add_writer(fd, self._wake)
        else:
            self._loop.add_reader(fd, self._wake)

    def cancel_watch(self) -> None:
        """Stop watching the descriptor and release whoever waits."""
        if self._writing:
            self._loop.remove_writer(self._fd)
        else:
            self._loop.remove_reader(self._fd)
        self._wake()

    def _wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)
