"""The root of every error kdebug raises, shared by the agent and the client.

It lives in the protocol package because that is the one part of the agent the
client may import; each side adds its own subclasses per area.
"""


class KdebugError(Exception):
    """Base class of every error kdebug-tui and its agent raise on purpose."""


class ProtocolError(KdebugError):
    """A peer sent something protocol version 1 does not allow."""


class UnsupportedProtocolVersion(ProtocolError):
    """The two sides speak no protocol version in common."""

    def __init__(self, *, offered: str, supported: tuple[int, ...]) -> None:
        versions = ", ".join(str(v) for v in supported)
        super().__init__(
            f"The peer asked for protocol version {offered!r}, "
            f"but this side speaks only version {versions}."
        )
        self.offered = offered
        self.supported = supported
