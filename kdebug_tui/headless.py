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
import enum
import logging
import os
import selectors
import signal
import stat
import sys
import termios
import tty
from collections.abc import Iterator

from kdebug_agent.protocol import (
    Channel,
    Event,
    OutputReceived,
    ProgressReceived,
    SessionEnded,
    TerminalSize,
)
from kdebug_tui.backend.session import DebugSession, session_failure

ESCAPE_CHAR = ord("~")
ESC = 0x1B
READ_SIZE = 65536


class EscapeDetector:
    """Finds Enter `~.` in typed input; Sans-I/O so tests can feed it bytes.

    Escape sequences on the input leave the line start as it was: a shell at
    its prompt asks the terminal where the cursor is, and the terminal's
    answer (`ESC [ row ; col R`) arrives on the input between Enter and `~`.
    """

    def __init__(self) -> None:
        self._at_line_start = True
        self._pending_escape = False
        self._sequence = _Sequence.NONE

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Return the bytes to forward and whether the user asked to disconnect."""
        forward = bytearray()
        for byte in data:
            if self._sequence is not _Sequence.NONE or byte == ESC:
                self._sequence = self._sequence.after(byte)
                if self._pending_escape:
                    self._pending_escape = False
                    self._at_line_start = False
                    forward.append(ESCAPE_CHAR)
                forward.append(byte)
                continue
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


class _Sequence(enum.Enum):
    """Where the detector is in an escape sequence (ECMA-48 CSI, SS3, ESC x)."""

    NONE = enum.auto()
    ESCAPE = enum.auto()
    CSI = enum.auto()
    SS3 = enum.auto()

    def after(self, byte: int) -> "_Sequence":
        """The state once `byte` is read."""
        if self is _Sequence.NONE:
            return _Sequence.ESCAPE
        if self is _Sequence.ESCAPE:
            if byte == ord("["):
                return _Sequence.CSI
            return _Sequence.SS3 if byte == ord("O") else _Sequence.NONE
        if self is _Sequence.CSI and 0x20 <= byte <= 0x3F:
            return _Sequence.CSI  # parameters and intermediates
        return _Sequence.NONE


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
    """Put the terminal in raw mode and restore it however the block exits.

    Log lines to a terminal end in CR LF meanwhile: raw mode turns off the
    terminal's own CR before LF, and `-v` lines would run down the screen
    as a staircase.
    """
    saved = termios.tcgetattr(fd)
    handlers = {
        handler: handler.terminator
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler)
        and _is_terminal(getattr(handler, "stream", None))
    }
    try:
        tty.setraw(fd)
        for handler in handlers:
            handler.terminator = "\r\n"
        yield
    finally:
        for handler, terminator in handlers.items():
            handler.terminator = terminator
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return False


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


class InputReader:
    """Reads a file descriptor on the event loop, so no thread outlives a session.

    A thread blocked reading a pipe that stays open would hold up the exit
    after Ctrl-C: `asyncio.run` waits for its executor's threads. So a pipe,
    socket or terminal is read without blocking when the loop says it is
    readable. The loop cannot watch a regular file or /dev/null, but reading
    those never waits, so they are read straight away.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._blocking = os.get_blocking(fd)
        self._watchable = _watchable(fd)

    def __enter__(self) -> "InputReader":
        if self._watchable:
            os.set_blocking(self._fd, False)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # The descriptor's flags are shared with the processes that gave it.
        with contextlib.suppress(OSError):
            os.set_blocking(self._fd, self._blocking)

    async def read(self) -> bytes:
        """Return the next chunk of input, or b"" at its end."""
        while True:
            try:
                return os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                await self._readable()

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def on_readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(self._fd, on_readable)
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)


def _watchable(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        return False
    selector = selectors.DefaultSelector()
    try:
        selector.register(fd, selectors.EVENT_READ)
    except (OSError, ValueError):
        return False
    finally:
        selector.close()
    return True


async def relay_batch(session: DebugSession) -> int:
    """Relay a session without a terminal: stdin streamed, exit code returned."""

    async def pump_input(reader: InputReader) -> None:
        while data := await reader.read():
            await session.send(data)
        await session.close_stdin()

    with InputReader(sys.stdin.fileno()) as reader:
        feeder = asyncio.create_task(pump_input(reader))
        try:
            return await _pump_output(
                session,
                sys.stdout.fileno(),
                asyncio.Event(),
                stderr=sys.stderr.fileno(),
            )
        finally:
            feeder.cancel()
            feeder.add_done_callback(_retrieve_outcome)


async def _pump_output(
    session: DebugSession, stdout: int, disconnect: asyncio.Event, *, stderr: int
) -> int:
    left = asyncio.create_task(disconnect.wait())
    receive: asyncio.Task[Event] | None = None
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
                    raise session_failure(status, session.target)
                return status.exit_code
    finally:
        left.cancel()
        if receive is not None:
            # Cancelled by a signal, the session's cleanup still ends this
            # task, with the lost connection the user needs no word about.
            receive.cancel()
            receive.add_done_callback(_retrieve_outcome)


def _retrieve_outcome(task: "asyncio.Task[object]") -> None:
    if not task.cancelled():
        task.exception()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]
