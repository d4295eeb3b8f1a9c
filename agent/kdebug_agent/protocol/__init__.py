"""The agent wire protocol, version 1, as Sans-I/O code shared with the client.

Nothing here touches a socket: framing turns channel payloads into WebSocket
message bodies and back, and the session machines turn received messages into
events. The agent's server and the client's relay drive them with asyncio.
"""

from kdebug_agent.protocol.errors import (
    KdebugError,
    ProtocolError,
    UnsupportedProtocolVersion,
)
from kdebug_agent.protocol.framing import (
    MAX_FRAME_SIZE,
    Channel,
    decode_frame,
    encode_frame,
)
from kdebug_agent.protocol.messages import (
    AUTHORIZATION_HEADER,
    CONTAINER_LABEL,
    NAMESPACE_LABEL,
    POD_LABEL,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SESSION_PATH,
    SUBPROTOCOL,
    SUPPORTED_VERSIONS,
    FailureReason,
    Progress,
    PullPolicy,
    RegistryAuth,
    SessionRequest,
    Status,
    TerminalSize,
    check_protocol_version,
    hash_token,
    token_matches,
)
from kdebug_agent.protocol.redaction import WireLogger
from kdebug_agent.protocol.session import (
    AgentSideSession,
    ClientSideSession,
    Event,
    InputReceived,
    OutputReceived,
    ProgressReceived,
    ResizeRequested,
    SessionEnded,
    StdinClosed,
)

__all__ = [
    "WireLogger",
    "AUTHORIZATION_HEADER",
    "CONTAINER_LABEL",
    "MAX_FRAME_SIZE",
    "NAMESPACE_LABEL",
    "POD_LABEL",
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "SESSION_PATH",
    "SUBPROTOCOL",
    "SUPPORTED_VERSIONS",
    "AgentSideSession",
    "Channel",
    "ClientSideSession",
    "Event",
    "FailureReason",
    "InputReceived",
    "KdebugError",
    "OutputReceived",
    "Progress",
    "ProgressReceived",
    "ProtocolError",
    "PullPolicy",
    "RegistryAuth",
    "ResizeRequested",
    "SessionEnded",
    "SessionRequest",
    "Status",
    "StdinClosed",
    "TerminalSize",
    "UnsupportedProtocolVersion",
    "check_protocol_version",
    "decode_frame",
    "encode_frame",
    "hash_token",
    "token_matches",
]
