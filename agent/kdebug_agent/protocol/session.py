"""Sans-I/O state machines for the two ends of one debug session.

Each side feeds received WebSocket messages in and gets events out; it asks the
machine for the bytes to send. The machines enforce the order of a session:
one text request first, then binary frames, and one status at the end.
"""

import dataclasses
import enum

from kdebug_agent.protocol.errors import ProtocolError
from kdebug_agent.protocol.framing import (
    MAX_FRAME_SIZE,
    Channel,
    decode_frame,
    encode_frame,
)
from kdebug_agent.protocol.messages import (
    Progress,
    SessionRequest,
    Status,
    TerminalSize,
)


@dataclasses.dataclass(frozen=True, slots=True)
class InputReceived:
    """The client sent bytes for the debug process's stdin."""

    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class ResizeRequested:
    """The client's terminal changed size."""

    size: TerminalSize


@dataclasses.dataclass(frozen=True, slots=True)
class StdinClosed:
    """The client has no more input for the debug process."""


@dataclasses.dataclass(frozen=True, slots=True)
class OutputReceived:
    """The debug process wrote bytes to stdout or stderr."""

    channel: Channel
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class ProgressReceived:
    """The agent reported a step of preparing the debug container."""

    progress: Progress


@dataclasses.dataclass(frozen=True, slots=True)
class SessionEnded:
    """The agent reported how the session ended; nothing follows."""

    status: Status


Event = (
    InputReceived
    | ResizeRequested
    | StdinClosed
    | OutputReceived
    | ProgressReceived
    | SessionEnded
)


class _State(enum.Enum):
    AWAITING_REQUEST = enum.auto()
    OPEN = enum.auto()
    ENDED = enum.auto()


class AgentSideSession:
    """The agent's view of a session: parses client frames, frames its output."""

    def __init__(self) -> None:
        self._state = _State.AWAITING_REQUEST
        self.stdin_open = True

    def receive_request(self, message: str | bytes) -> SessionRequest:
        """Parse the session's first message.

        Raises:
            ProtocolError: a request was already received or this one is invalid.
        """
        if self._state is not _State.AWAITING_REQUEST:
            raise ProtocolError("The session request was already received.")
        _check_size(message)
        request = SessionRequest.from_json(message)
        self._state = _State.OPEN
        return request

    def receive(self, message: str | bytes) -> list[Event]:
        """Turn one client message into events.

        Raises:
            ProtocolError: the message is malformed or out of order.
        """
        if self._state is not _State.OPEN:
            raise ProtocolError("Frames arrived before the session request.")
        _check_size(message)
        channel, payload = decode_frame(message)
        if channel is Channel.STDIN:
            if not self.stdin_open:
                raise ProtocolError("Input arrived after stdin was closed.")
            return [InputReceived(payload)] if payload else []
        if channel is Channel.RESIZE:
            return [ResizeRequested(TerminalSize.from_json(payload))]
        if channel is Channel.CLOSE:
            if payload[:1] != bytes((Channel.STDIN,)):
                raise ProtocolError("Clients may only close the stdin channel.")
            if not self.stdin_open:
                return []
            self.stdin_open = False
            return [StdinClosed()]
        raise ProtocolError(f"Clients may not send on the {channel.name} channel.")

    def output(self, data: bytes, *, channel: Channel = Channel.STDOUT) -> bytes:
        """Frame output of the debug process."""
        return encode_frame(channel, data)

    def progress(self, progress: Progress) -> bytes:
        """Frame a progress report."""
        return encode_frame(Channel.PROGRESS, progress.to_json())

    def finish(self, status: Status) -> bytes:
        """Frame the final status; the session accepts nothing afterwards."""
        self._state = _State.ENDED
        return encode_frame(Channel.STATUS, status.to_json())


def _check_size(message: str | bytes) -> None:
    if len(message) > MAX_FRAME_SIZE:
        raise ProtocolError(
            f"A message of {len(message)} bytes is too big: the limit is "
            f"{MAX_FRAME_SIZE} bytes (1 MiB)."
        )


class ClientSideSession:
    """The client's view of a session: frames input, parses agent frames."""

    def __init__(self, request: SessionRequest) -> None:
        self.request = request
        self.status: Status | None = None
        self._stdin_open = True

    def opening_message(self) -> str:
        """Return the session request, the first message to send."""
        return self.request.to_json()

    def send_input(self, data: bytes) -> bytes:
        """Frame bytes for the debug process's stdin.

        Raises:
            ProtocolError: stdin was already closed.
        """
        if not self._stdin_open:
            raise ProtocolError("Cannot send input after closing stdin.")
        return encode_frame(Channel.STDIN, data)

    def resize(self, size: TerminalSize) -> bytes:
        """Frame a terminal size change."""
        return encode_frame(Channel.RESIZE, size.to_json())

    def close_stdin(self) -> bytes:
        """Frame the end of input."""
        self._stdin_open = False
        return encode_frame(Channel.CLOSE, bytes((Channel.STDIN,)))

    def receive(self, message: str | bytes) -> list[Event]:
        """Turn one agent message into events.

        Raises:
            ProtocolError: the message is malformed or arrives after the status.
        """
        if self.status is not None:
            raise ProtocolError("The agent sent a frame after the final status.")
        channel, payload = decode_frame(message)
        if channel in (Channel.STDOUT, Channel.STDERR):
            return [OutputReceived(channel, payload)] if payload else []
        if channel is Channel.PROGRESS:
            return [ProgressReceived(Progress.from_json(payload))]
        if channel is Channel.STATUS:
            self.status = Status.from_json(payload)
            return [SessionEnded(self.status)]
        if channel is Channel.CLOSE:
            return []
        raise ProtocolError(f"The agent may not send on the {channel.name} channel.")
