"""Typed settings of the client, from a file, the environment and flags.

Precedence, lowest first: built-in defaults, `$XDG_CONFIG_HOME/kdebug-tui/
config.yaml`, `KDEBUG_*` environment variables, then command-line flags.
"""

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from kdebug_tui import __version__
from kdebug_tui.backend.errors import ConfigError

ENV_PREFIX = "KDEBUG_"
DEFAULT_AGENT_IMAGE = f"ghcr.io/kdebug-tui/kdebug-agent:{__version__}"
# netshoot carries the usual network and process tools; pinned so a session
# behaves the same tomorrow as today.
DEFAULT_DEBUG_IMAGE = "docker.io/nicolaka/netshoot:v0.13"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything a user can configure; field names are the config file's keys."""

    kubeconfig: str = ""
    """Path of the kubeconfig; empty means `$KUBECONFIG`, then `~/.kube/config`."""
    context: str = ""
    """Kubeconfig context to use; empty means the current context."""
    namespace: str = ""
    """Namespace of the target pod; empty means the context's namespace."""
    image: str = DEFAULT_DEBUG_IMAGE
    """Image of the debug container."""
    pull_policy: str = "IfNotPresent"
    """When the agent pulls the debug image: Always, IfNotPresent or Never."""
    namespaces: tuple[str, ...] = ("pid", "net", "ipc")
    """The target's namespaces the debug container joins."""
    privileged: bool = True
    """Run the debug container privileged (needed for strace, tcpdump and the like)."""
    registry_secret: str = ""
    """Secret (in the target's namespace) with credentials for the debug image."""
    agent_namespace: str = "default"
    """Namespace where agent pods run; it must allow privileged pods."""
    agent_image: str = DEFAULT_AGENT_IMAGE
    """Image of the agent pod; its tag follows the client's version."""
    agent_pull_policy: str = "IfNotPresent"
    """Pull policy of the agent pod's image."""
    agent_idle_timeout: int = 300
    """Seconds an agent pod stays without a session before it exits."""
    agent_lifetime: int = 4 * 3600
    """Hard limit in seconds on an agent pod's life (`activeDeadlineSeconds`)."""
    runtime_socket: str = ""
    """Host path of the node's containerd socket, when it is not a usual one."""
    grace: int = 15
    """Seconds a debug container outlives a dropped connection."""
    ready_timeout: int = 120
    """Seconds to wait for a new agent pod to become ready."""
    leader_key: str = "ctrl+right_square_bracket"
    """Key that introduces tab commands while a terminal has focus."""

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Settings":
        """Return a copy with the given fields replaced; `None` values are ignored."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        return _validated(dataclasses.replace(self, **_coerce(changes)))


def config_path() -> Path:
    """Return where the settings file lives."""
    return Path(platformdirs.user_config_dir("kdebug-tui")) / "config.yaml"


def load_settings(
    *,
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Load settings from the file, the environment and flags, in that order.

    Raises:
        ConfigError: the file is malformed or a value is invalid.
    """
    env = os.environ if environ is None else environ
    settings = Settings()
    settings = settings.with_overrides(_read_file(path or config_path()))
    from_env = {
        field.name: env[ENV_PREFIX + field.name.upper()]
        for field in dataclasses.fields(Settings)
        if ENV_PREFIX + field.name.upper() in env
    }
    settings = settings.with_overrides(from_env)
    return settings.with_overrides(flags or {})


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"Cannot read the settings file {path}: {error}.") from error
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"The settings file {path} is not valid YAML.") from error
    if not isinstance(data, dict):
        raise ConfigError(f"The settings file {path} must hold a mapping of keys.")
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"The settings file {path} has unknown keys: {', '.join(unknown)}.",
            hint=f"Known keys are {', '.join(sorted(known))}.",
        )
    return data


def _coerce(changes: Mapping[str, Any]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    coerced: dict[str, Any] = {}
    for name, value in changes.items():
        default = fields[name].default
        try:
            if isinstance(default, bool):
                coerced[name] = _to_bool(value)
            elif isinstance(default, int):
                coerced[name] = int(value)
            elif isinstance(default, tuple):
                items = value.split(",") if isinstance(value, str) else value
                coerced[name] = tuple(str(v).strip() for v in items if str(v).strip())
            else:
                coerced[name] = str(value)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"The setting {name}={value!r} is invalid: {error}."
            ) from error
    return coerced


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def _validated(settings: Settings) -> Settings:
    for name in ("pull_policy", "agent_pull_policy"):
        value = getattr(settings, name)
        if value not in PULL_POLICIES:
            raise ConfigError(
                f"The setting {name}={value!r} is not a pull policy.",
                hint="Use Always, IfNotPresent or Never.",
            )
    unknown = sorted(set(settings.namespaces) - {"pid", "net", "ipc", "uts", "user"})
    if unknown:
        raise ConfigError(
            f"Cannot share the namespaces {', '.join(unknown)}.",
            hint="Choose among pid, net, ipc, uts and user.",
        )
    return settings
