"""The headless session: a debug shell in the user's own terminal.

With a terminal on stdin, it switches the terminal to raw mode so every key
(Ctrl-C, Ctrl-Z, Ctrl-P, Esc) reaches the debug shell, sends the window size
at start and on every change, and restores the terminal on every exit path.
Enter followed by `~.` ends a frozen session, as in ssh. Without a terminal,
stdin is streamed to the command, stdout and stderr come back separately, and
the exit code is the command's.
"""

import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator

from kdebug_agent.protocol import (
    Channel,
    OutputReceived,
    ProgressReceived,
    SessionEnded,
    TerminalSize,
)
from kdebug_tui.backend.session import DebugSession, session_failure

ESCAPE_CHAR = ord("~")
READ_SIZE = 65536


class EscapeDetector:
    """Finds Enter `~.` in typed input; Sans-I/O so tests can feed it bytes."""

    def __init__(self) -> None:
        self._at_line_start = True
        self._pending_escape = False

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Return the bytes to forward and whether the user asked to disconnect."""
        forward = bytearray()
        for byte in data:
            if self._pending_escape:
                self._pending_escape = False
                if byte == ord("."):
                    return bytes(forward), True
                if byte != ESCAPE_CHAR:
                    forward.append(ESCAPE_CHAR)
                forward.append(byte)
            elif byte == ESCAPE_CHAR and self._at_line_start:
                self._pending_escape = True
                continue
            else:
                forward.append(byte)
            self._at_line_start = byte in (ord("\r"), ord("\n"))
        return bytes(forward), False


def terminal_size() -> TerminalSize:
    """Return the size of the terminal on stdout (or stdin), 80x24 if none.

    A pseudo-terminal that nobody sized (``script``, some CI runners) reports
    0 columns and 0 lines; such a dimension counts as unknown and takes the
    usual 80 or 24, since a debug terminal cannot be zero wide or high.
    """
    for fd in (sys.stdout.fileno(), sys.stdin.fileno()):
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(fd)
            return TerminalSize(width=size.columns or 80, height=size.lines or 24)
    return TerminalSize(width=80, height=24)


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Put the terminal in raw mode and restore it however the block exits."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


async def relay_interactive(session: DebugSession) -> int:
    """Relay a tty session between the user's terminal and the agent."""
    loop = asyncio.get_running_loop()
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    detector = EscapeDetector()
    disconnect = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()

    def on_input() -> None:
        try:
            data = os.read(stdin, READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(stdin)
            return
        forward, leave = detector.feed(data)
        if forward:
            task = loop.create_task(session.send(forward))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if leave:
            disconnect.set()

    def on_resize() -> None:
        task = loop.create_task(session.resize(terminal_size()))
        pending.add(task)
        task.add_done_callback(pending.discard)

    with raw_terminal(stdin):
        loop.add_reader(stdin, on_input)
        loop.add_signal_handler(signal.SIGWINCH, on_resize)
        try:
            return await _pump_output(session, stdout, disconnect, stderr=stdout)
        finally:
            loop.remove_reader(stdin)
            loop.remove_signal_handler(signal.SIGWINCH)


async def relay_batch(session: DebugSession) -> int:
    """Relay a session without a terminal: stdin streamed, exit code returned."""
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.fileno()

    async def pump_input() -> None:
        while data := await loop.run_in_executor(None, os.read, stdin, READ_SIZE):
            await session.send(data)
        await session.close_stdin()

    feeder = asyncio.create_task(pump_input())
    try:
        return await _pump_output(
            session, sys.stdout.fileno(), asyncio.Event(), stderr=sys.stderr.fileno()
        )
    finally:
        feeder.cancel()


async def _pump_output(
    session: DebugSession, stdout: int, disconnect: asyncio.Event, *, stderr: int
) -> int:
    left = asyncio.create_task(disconnect.wait())
    try:
        while True:
            receive = asyncio.create_task(session.receive())
            done, _ = await asyncio.wait(
                {receive, left}, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in done:
                receive.cancel()
                await session.close()
                return 255
            event = receive.result()
            if isinstance(event, OutputReceived):
                fd = stderr if event.channel is Channel.STDERR else stdout
                _write_all(fd, event.data)
            elif isinstance(event, ProgressReceived):
                continue
            elif isinstance(event, SessionEnded):
                status = event.status
                if status.exit_code is None:
                    raise session_failure(status)
                return status.exit_code
    finally:
        left.cancel()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]
