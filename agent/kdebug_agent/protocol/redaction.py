"""What the WebSocket library may log of the wire: no token, no terminal data.

At DEBUG the websockets library logs every handshake header, the bearer token
among them, and the first bytes of every frame, which are what the user types
and what the shell prints. Both ends pass it a `WireLogger`, which keeps the
lines (they help to follow a session) with the secret parts left out.
"""

import logging
from typing import Any

REDACTED = "[redacted]"
HEADER_LINES = frozenset({"> %s: %s", "< %s: %s"})
"""The library's formats of a handshake header line."""
FRAME_LINES = frozenset({"> %s", "< %s"})
"""The library's formats of a frame line."""
DATA_OPCODES = frozenset({"TEXT", "BINARY", "CONT"})
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def loggable_args(msg: object, args: tuple[object, ...]) -> tuple[object, ...]:
    """Return a log line's arguments with header secrets and frame data left out."""
    if msg in HEADER_LINES and len(args) == 2:
        name, _ = args
        if str(name).lower() in SECRET_HEADERS:
            return (name, REDACTED)
        return args
    if msg in FRAME_LINES and len(args) == 1:
        return (_frame_summary(args[0]),)
    return args


def _frame_summary(frame: object) -> object:
    opcode = getattr(frame, "opcode", None)
    data = getattr(frame, "data", None)
    name = getattr(opcode, "name", "")
    if name not in DATA_OPCODES or not isinstance(data, bytes | bytearray):
        return frame
    if name == "BINARY" and data:
        # The first byte is the channel, which tells stdin from a resize.
        return f"BINARY channel {data[0]} [{len(data)} bytes]"
    return f"{name} [{len(data)} bytes]"


class WireLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger for the websockets library that leaves secrets and data out."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log as the wrapped logger does, with the arguments made safe."""
        super().log(level, msg, *loggable_args(msg, args), **kwargs)
