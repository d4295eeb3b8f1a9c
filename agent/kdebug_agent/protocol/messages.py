"""The messages of protocol version 1 and their JSON shapes.

A session starts with one text message from the client holding a
`SessionRequest`; from then on every message is a binary channel frame. The
status channel carries one `Status` shaped like a Kubernetes `metav1.Status`.
"""

import dataclasses
import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, TypeGuard

from kdebug_agent.protocol.errors import ProtocolError, UnsupportedProtocolVersion

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
SUBPROTOCOL = "v5.channel.k8s.io"
SESSION_PATH = "/v1/sessions"
PROTOCOL_HEADER = "X-Kdebug-Protocol"
AUTHORIZATION_HEADER = "Authorization"

# Labels the client puts in `SessionRequest.labels` so that people (and the
# audit log) can tell which pod a debug container belongs to.
NAMESPACE_LABEL = "io.kdebug.target-namespace"
POD_LABEL = "io.kdebug.target-pod"
CONTAINER_LABEL = "io.kdebug.target-container"

DEFAULT_NAMESPACES = ("pid", "net", "ipc")
KNOWN_NAMESPACES = frozenset({"pid", "net", "ipc", "uts", "user"})
KNOWN_TARGET_SCHEMES = ("containerd", "docker")


class PullPolicy(enum.StrEnum):
    """When the agent pulls the debug image, as in a Kubernetes container spec."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class FailureReason(enum.StrEnum):
    """Machine-readable reasons a session fails, carried in `Status.reason`."""

    NON_ZERO_EXIT = "NonZeroExitCode"
    TARGET_STOPPED = "TargetStopped"
    """The target stopped, which killed the debug process; the exit code is set."""
    BAD_REQUEST = "BadRequest"
    UNAUTHORIZED = "Unauthorized"
    TARGET_NOT_FOUND = "TargetNotFound"
    TARGET_NOT_RUNNING = "TargetNotRunning"
    COMMAND_NOT_FOUND = "CommandNotFound"
    IMAGE_NOT_PRESENT = "ImageNotPresent"
    IMAGE_PULL_FAILED = "ImagePullFailed"
    RUNTIME_UNAVAILABLE = "RuntimeUnavailable"
    RUNTIME_ERROR = "RuntimeError"
    CLIENT_GONE = "ClientGone"
    AGENT_SHUTDOWN = "AgentShutdown"
    INTERNAL = "InternalError"


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a session token, as put in the agent pod spec."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, expected_sha256: str) -> bool:
    """Tell whether `token` hashes to `expected_sha256`, in constant time."""
    return hmac.compare_digest(hash_token(token), expected_sha256.lower())


def check_protocol_version(offered: str | None) -> int:
    """Return the version a peer offered if this side speaks it.

    Raises:
        UnsupportedProtocolVersion: the header is missing or names another version.
    """
    if offered is not None and offered.strip().isdigit():
        version = int(offered)
        if version in SUPPORTED_VERSIONS:
            return version
    raise UnsupportedProtocolVersion(
        offered=offered or "none", supported=SUPPORTED_VERSIONS
    )


@dataclasses.dataclass(frozen=True, slots=True)
class TerminalSize:
    """A terminal's size in character cells."""

    width: int
    height: int

    def to_json(self) -> bytes:
        """Return the resize channel payload Kubernetes clients send."""
        return json.dumps({"Width": self.width, "Height": self.height}).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> "TerminalSize":
        """Parse a resize channel payload.

        Raises:
            ProtocolError: the payload is not `{"Width": w, "Height": h}` with
                positive integers.
        """
        data = _load_object(payload, what="resize message")
        width, height = data.get("Width"), data.get("Height")
        if not _is_dimension(width) or not _is_dimension(height):
            raise ProtocolError(
                "A resize message needs positive integer Width and Height, "
                f"got {payload[:80]!r}."
            )
        return cls(width=width, height=height)


@dataclasses.dataclass(frozen=True, slots=True)
class RegistryAuth:
    """Credentials for pulling the debug image. Never logged, never in messages."""

    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    server: str = ""
    identity_token: str = dataclasses.field(default="", repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRequest:
    """What a client asks the agent to start; the first message of a session."""

    target: str
    """The target container ID with its runtime scheme, e.g. `containerd://3f2a…`."""
    image: str
    """The debug image reference."""
    command: tuple[str, ...] = ()
    """The debug process; empty means the image's default entrypoint and command."""
    tty: bool = True
    """Whether the debug process gets a terminal."""
    size: TerminalSize | None = None
    """The terminal size applied before the debug process starts."""
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES
    """The target's namespaces the debug container joins."""
    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT
    """When to pull the debug image."""
    privileged: bool = True
    """Whether the debug container runs privileged or with the default capabilities."""
    registry_auth: RegistryAuth | None = None
    """Credentials for a private debug image."""
    user: str = ""
    """Who asked for the session, for the audit log."""
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Extra labels for the debug container (pod and container names, for people)."""

    @property
    def runtime(self) -> str:
        """The runtime scheme of the target, such as `containerd` or `docker`."""
        return self.target.partition("://")[0]

    @property
    def container_id(self) -> str:
        """The target's container ID without its runtime scheme."""
        return self.target.partition("://")[2]

    def to_json(self) -> str:
        """Serialize the request as the session's first (text) message."""
        data: dict[str, Any] = {
            "target": self.target,
            "image": self.image,
            "command": list(self.command),
            "tty": self.tty,
            "namespaces": list(self.namespaces),
            "pullPolicy": str(self.pull_policy),
            "privileged": self.privileged,
            "user": self.user,
            "labels": dict(self.labels),
        }
        if self.size is not None:
            data["size"] = {"width": self.size.width, "height": self.size.height}
        if self.registry_auth is not None:
            data["registryAuth"] = dataclasses.asdict(self.registry_auth)
        return json.dumps(data)

    @classmethod
    def from_json(cls, message: str | bytes) -> "SessionRequest":
        """Parse and validate the first message of a session.

        Raises:
            ProtocolError: the message is not a valid session request.
        """
        raw = message.encode() if isinstance(message, str) else message
        data = _load_object(raw, what="session request")
        return cls(
            target=_parse_target(data.get("target")),
            image=_required_string(data, "image"),
            command=_string_tuple(data.get("command", []), what="command"),
            tty=_boolean(data, "tty", default=True),
            size=_parse_size(data.get("size")),
            namespaces=_parse_namespaces(data.get("namespaces")),
            pull_policy=_parse_pull_policy(data.get("pullPolicy")),
            privileged=_boolean(data, "privileged", default=True),
            registry_auth=_parse_auth(data.get("registryAuth")),
            user=str(data.get("user", ""))[:256],
            labels=_parse_labels(data.get("labels", {})),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """How a session ended, shaped like a Kubernetes `metav1.Status`."""

    success: bool
    message: str = ""
    reason: str = ""
    exit_code: int | None = None

    @classmethod
    def exited(cls, exit_code: int) -> "Status":
        """Return the status of a debug process that exited with `exit_code`."""
        if exit_code == 0:
            return cls(success=True, exit_code=0)
        return cls(
            success=False,
            reason=FailureReason.NON_ZERO_EXIT,
            message=f"command terminated with non-zero exit code: {exit_code}",
            exit_code=exit_code,
        )

    @classmethod
    def target_stopped(cls, exit_code: int) -> "Status":
        """Return the status of a debug process that ended with its target.

        Its exit code stays in the status, so plain exec clients read it as any
        other non-zero exit.
        """
        return cls(
            success=False,
            reason=FailureReason.TARGET_STOPPED,
            message=(
                "The target container stopped, and the debug process ended with "
                f"it (exit code {exit_code})."
            ),
            exit_code=exit_code,
        )

    @classmethod
    def failed(cls, reason: FailureReason, message: str) -> "Status":
        """Return the status of a session that failed before or while running."""
        return cls(success=False, reason=reason, message=message)

    def to_json(self) -> bytes:
        """Return the status channel payload."""
        data: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success" if self.success else "Failure",
        }
        if self.message:
            data["message"] = self.message
        if self.reason:
            data["reason"] = self.reason
        if self.exit_code is not None and self.exit_code != 0:
            data["details"] = {
                "causes": [{"reason": "ExitCode", "message": str(self.exit_code)}]
            }
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> "Status":
        """Parse a status channel payload, as sent by the agent or by Kubernetes.

        Raises:
            ProtocolError: the payload is not a Status object.
        """
        data = _load_object(payload, what="status message")
        success = data.get("status") == "Success"
        exit_code: int | None = 0 if success else None
        details = data.get("details")
        causes = details.get("causes", []) if isinstance(details, dict) else []
        for cause in causes if isinstance(causes, list) else []:
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    exit_code = int(cause.get("message", ""))
                except ValueError:
                    raise ProtocolError(
                        f"The status names a non-numeric exit code: {cause!r}."
                    ) from None
        return cls(
            success=success,
            message=str(data.get("message", "")),
            reason=str(data.get("reason", "")),
            exit_code=exit_code,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """One step of preparing the debug container, sent on the progress channel."""

    stage: str
    """A stable name such as `image`, `create`, `start` or `attached`."""
    message: str
    """A sentence for people."""

    def to_json(self) -> bytes:
        """Return the progress channel payload."""
        return json.dumps({"stage": self.stage, "message": self.message}).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> "Progress":
        """Parse a progress channel payload.

        Raises:
            ProtocolError: the payload is not a progress object.
        """
        data = _load_object(payload, what="progress message")
        return cls(
            stage=str(data.get("stage", "")), message=str(data.get("message", ""))
        )


def _load_object(payload: bytes, *, what: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"The {what} is not valid JSON: {error}.") from error
    except RecursionError as error:
        # The standard decoder recurses once per nesting level, so a short
        # payload of brackets exhausts the stack; no valid message nests so.
        raise ProtocolError(
            f"The {what} is nested too deeply to be a valid message."
        ) from error
    if not isinstance(data, dict):
        raise ProtocolError(f"The {what} must be a JSON object.")
    return data


def _is_dimension(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10000


def _required_string(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"The session request needs a non-empty string {key!r}.")
    return value.strip()


def _boolean(data: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"The session request field {key!r} must be a boolean.")
    return value


def _string_tuple(value: object, *, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(
            f"The session request field {what!r} must be a list of strings."
        )
    return tuple(value)


def _parse_target(value: object) -> str:
    if not isinstance(value, str) or "://" not in value:
        raise ProtocolError(
            "The target must be a container ID with its runtime scheme, "
            "such as containerd://<id> or docker://<id>."
        )
    scheme, _, container_id = value.partition("://")
    if scheme not in KNOWN_TARGET_SCHEMES:
        raise ProtocolError(
            f"The target's runtime {scheme!r} is not supported; "
            f"this agent knows {', '.join(KNOWN_TARGET_SCHEMES)}."
        )
    if not container_id or not all(c.isalnum() or c in "-_." for c in container_id):
        raise ProtocolError(
            f"The target container ID {container_id[:80]!r} is malformed."
        )
    return value


def _parse_size(value: object) -> TerminalSize | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("The session request's size must be an object.")
    width, height = value.get("width"), value.get("height")
    if not _is_dimension(width) or not _is_dimension(height):
        raise ProtocolError(
            "The session request's size needs positive width and height."
        )
    return TerminalSize(width=width, height=height)


def _parse_namespaces(value: object) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_NAMESPACES
    names = _string_tuple(value, what="namespaces")
    unknown = sorted(set(names) - KNOWN_NAMESPACES)
    if unknown:
        raise ProtocolError(
            f"Unknown namespaces {', '.join(unknown)}; "
            f"known are {', '.join(sorted(KNOWN_NAMESPACES))}."
        )
    return names


def _parse_pull_policy(value: object) -> PullPolicy:
    if value is None:
        return PullPolicy.IF_NOT_PRESENT
    try:
        return PullPolicy(str(value))
    except ValueError:
        raise ProtocolError(
            f"Unknown pull policy {value!r}; use Always, IfNotPresent or Never."
        ) from None


def _parse_auth(value: object) -> RegistryAuth | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, str) for v in value.values()
    ):
        raise ProtocolError("The registry credentials must be an object of strings.")
    fields = {f.name for f in dataclasses.fields(RegistryAuth)}
    return RegistryAuth(**{k: v for k, v in value.items() if k in fields})


def _parse_labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ProtocolError("The session request's labels must map strings to strings.")
    return {k[:128]: v[:256] for k, v in list(value.items())[:32]}
