"""Channel framing as Kubernetes exec uses it (`v5.channel.k8s.io`).

Every binary WebSocket message starts with one channel byte followed by the
payload. Channel 255 carries a single byte naming a channel to half-close.
"""

import enum

from kdebug_agent.protocol.errors import ProtocolError


class Channel(enum.IntEnum):
    """The channel a frame belongs to."""

    STDIN = 0
    STDOUT = 1
    STDERR = 2
    STATUS = 3
    RESIZE = 4
    # Not part of Kubernetes' protocol: plain exec clients ignore unknown channels,
    # so progress while the debug container is prepared can travel here.
    PROGRESS = 5
    CLOSE = 255


# The largest client message a session accepts. Terminal output travels in
# chunks of at most 64 KiB and client frames are tiny, so a bigger one is a bug
# or an attack, and ends the session.
MAX_FRAME_SIZE = 1 << 20


def encode_frame(channel: Channel, payload: bytes = b"") -> bytes:
    """Return the WebSocket message body carrying `payload` on `channel`."""
    return bytes((channel,)) + payload


def decode_frame(message: bytes | str) -> tuple[Channel, bytes]:
    """Split a WebSocket message body into its channel and payload.

    Raises:
        ProtocolError: the message is text, empty, or names an unknown channel.
    """
    if isinstance(message, str):
        raise ProtocolError("Expected a binary frame but received a text message.")
    if not message:
        raise ProtocolError("Received an empty frame without a channel byte.")
    try:
        channel = Channel(message[0])
    except ValueError:
        raise ProtocolError(
            f"Received a frame on unknown channel {message[0]}."
        ) from None
    return channel, bytes(message[1:])
