"""The agent's settings: command-line flags win over `KDEBUG_AGENT_` variables.

The client configures an agent pod through environment variables in its spec; a
person running the agent by hand uses flags.
"""

import argparse
import dataclasses
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from kdebug_agent import __version__
from kdebug_agent.protocol import hash_token

ENV_PREFIX = "KDEBUG_AGENT_"


@dataclasses.dataclass(frozen=True, slots=True)
class AgentSettings:
    """Everything an agent needs to know at start-up."""

    token_sha256: str
    """Hex SHA-256 of the bearer token clients must present; empty refuses all."""
    token_file: str = ""
    """A file holding the token itself (a mounted Secret, for the DaemonSet)."""
    host: str = "0.0.0.0"
    """Address to listen on, inside the agent pod's own network namespace."""
    port: int = 10027
    """Port to listen on; reached through a port-forward, never a hostPort."""
    host_root: Path = Path("/")
    """Where the agent sees the node's filesystem (`/host` in the agent pod)."""
    runtime: str = "auto"
    """Which runtime to use: `containerd`, `docker`, or `auto` for all that answer."""
    containerd_socket: str | None = None
    """Host path of containerd's socket; detected among known paths when unset."""
    docker_socket: str | None = None
    """Host path of dockerd's socket; `/var/run/docker.sock` when unset."""
    state_dir: str = "/run/kdebug-agent"
    """Host path for FIFOs and the locks that tell live agents from dead ones."""
    idle_timeout: float = 300.0
    """Seconds without any session after which the agent exits; 0 means never."""
    grace: float = 15.0
    """Seconds a debug container outlives a dropped connection before removal."""
    audit_log: str = "-"
    """Where audit lines go: a file path (under host_root) or `-` for stdout."""
    agent_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex[:12])
    """This agent's instance id, stamped on everything it creates."""
    log_level: str = "INFO"
    """Level of the agent's own log on stderr."""


def parse_settings(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> AgentSettings:
    """Build settings from flags and environment variables.

    Raises:
        SystemExit: a flag or variable is malformed (argparse prints why).
    """
    env = os.environ if environ is None else environ
    defaults = AgentSettings(token_sha256="")
    parser = argparse.ArgumentParser(
        prog="kdebug-agent",
        description="Start debug containers on this node and relay their terminals.",
    )
    parser.add_argument("--version", action="version", version=__version__)

    def option(flag: str, field: str, kind: type = str, help: str = "") -> None:
        value = env.get(ENV_PREFIX + field.upper(), getattr(defaults, field))
        parser.add_argument(flag, dest=field, type=kind, default=value, help=help)

    option("--token-sha256", "token_sha256", help="hex SHA-256 of the bearer token")
    option("--token-file", "token_file", help="file holding the bearer token")
    option("--host", "host", help="address to listen on")
    option("--port", "port", int, "port to listen on")
    option("--host-root", "host_root", Path, "where the node's / is mounted")
    option("--runtime", "runtime", help="containerd, docker or auto")
    option("--containerd-socket", "containerd_socket", help="containerd socket path")
    option("--docker-socket", "docker_socket", help="dockerd socket path")
    option("--state-dir", "state_dir", help="host path for FIFOs and locks")
    option("--idle-timeout", "idle_timeout", float, "seconds idle before exiting")
    option("--grace", "grace", float, "seconds to keep a disconnected session")
    option("--audit-log", "audit_log", help="audit log path, or - for stdout")
    option("--agent-id", "agent_id", help="this agent's instance id")
    option("--log-level", "log_level", help="DEBUG, INFO, WARNING or ERROR")
    args = parser.parse_args(argv)

    settings = AgentSettings(**vars(args))
    if settings.token_file and not settings.token_sha256:
        try:
            token = Path(settings.token_file).read_text(encoding="utf-8").strip()
        except OSError as error:
            parser.error(f"cannot read the token file {settings.token_file}: {error}")
        settings = dataclasses.replace(settings, token_sha256=hash_token(token))
    if settings.runtime not in ("auto", "containerd", "docker"):
        parser.error(
            f"--runtime must be containerd, docker or auto, not {settings.runtime!r}"
        )
    if not settings.token_sha256:
        parser.error(
            "no token is set (--token-sha256, --token-file or their "
            "KDEBUG_AGENT_ variables); "
            "the agent refuses to run without authentication"
        )
    return settings
