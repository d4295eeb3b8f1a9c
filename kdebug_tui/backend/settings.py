"""Typed settings of the client, from a file, the environment and flags.

Precedence, lowest first: built-in defaults, `$XDG_CONFIG_HOME/kdebug-tui/
config.yaml`, `KDEBUG_*` environment variables, then command-line flags.
"""

import dataclasses
import os
from collections.abc import Callable, Mapping
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
SHAREABLE_NAMESPACES = ("pid", "net", "ipc", "uts", "user")


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

    def with_overrides(
        self, overrides: Mapping[str, Any], *, origin: "Origin | None" = None
    ) -> "Settings":
        """Return a copy with the given fields replaced; `None` values are ignored.

        Raises:
            ConfigError: a value is not of its field's form; the message names
                it as `origin` says the user wrote it.
        """
        where = origin or Origin("flag")
        changes = {
            name: _parse(name, value, where)
            for name, value in overrides.items()
            if value is not None
        }
        return dataclasses.replace(self, **changes)


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
    path = path or config_path()
    settings = Settings().with_overrides(_read_file(path), origin=Origin("file", path))
    from_env = {
        field.name: env[environment_variable(field.name)]
        for field in dataclasses.fields(Settings)
        if environment_variable(field.name) in env
    }
    settings = settings.with_overrides(from_env, origin=Origin("environment"))
    return settings.with_overrides(flags or {})


def environment_variable(name: str) -> str:
    """Return the environment variable of a setting, e.g. `KDEBUG_GRACE`."""
    return ENV_PREFIX + name.upper()


def parse_namespaces(value: object) -> tuple[str, ...]:
    """Read a list of namespaces to share, from text (`pid,net`) or a list.

    Raises:
        ValueError: it names a namespace that cannot be shared.
    """
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("not a list")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    unknown = [name for name in names if name not in SHAREABLE_NAMESPACES]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} cannot be shared")
    return names


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"The settings file {path} is not UTF-8 text (byte {error.start} "
            "cannot be read).",
            hint="Save it as UTF-8, or move it away to use the defaults.",
        ) from error
    except OSError as error:
        raise ConfigError(f"Cannot read the settings file {path}: {error}.") from error
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None)
        reason = f": {problem}" if problem else ""
        raise ConfigError(
            f"The settings file {path} is not valid YAML{where}{reason}.",
            hint="Correct the file, or move it away to use the defaults.",
        ) from error
    if not isinstance(data, dict):
        raise ConfigError(f"The settings file {path} must hold a mapping of keys.")
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"The settings file {path} has unknown keys: {', '.join(unknown)}.",
            hint=f"Correct or remove them; the known keys are "
            f"{', '.join(sorted(known))}.",
        )
    return data


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """Where setting values came from, to name them as the user wrote them."""

    kind: str
    """`file`, `environment` or `flag`."""
    path: Path | None = None
    """The settings file, for `file`."""

    def spelled(self, name: str) -> str:
        """Name the setting as the user wrote it, as a sentence's subject."""
        if self.kind == "environment":
            return f"The environment variable {environment_variable(name)}"
        if self.kind == "file":
            return f"The setting {name} in {self.path}"
        return f"The option for {name}"

    def fix(self, name: str, form: "Form") -> str:
        """Tell the user what to write instead."""
        wanted = form.text + (f", such as {form.example}" if form.example else "")
        if self.kind == "environment":
            return f"Set {environment_variable(name)} to {wanted}, or unset it."
        if self.kind == "file":
            return f"Change {name} in {self.path} to {wanted}."
        return f"Give {wanted}."


@dataclasses.dataclass(frozen=True, slots=True)
class Form:
    """What a setting's value must look like, and how to read it."""

    text: str
    """The form in words, e.g. `a whole number of seconds`."""
    example: str
    """An example of the form, or empty when any example would mislead."""
    parse: Callable[[object], Any]
    """Returns the value; raises ValueError when it is not of the form."""


def _text(value: object) -> str:
    if isinstance(value, list | dict):
        raise ValueError("not text")
    return str(value)


def _seconds(minimum: int, maximum: int, example: str) -> Form:
    def parse(value: object) -> int:
        if isinstance(value, bool) or isinstance(value, float | list | dict):
            raise ValueError("not a whole number")
        number = int(str(value).strip())
        if not minimum <= number <= maximum:
            raise ValueError("out of range")
        return number

    return Form(
        f"a whole number of seconds from {minimum} to {maximum}", example, parse
    )


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("not true or false")


def _pull_policy(value: object) -> str:
    if value not in PULL_POLICIES:
        raise ValueError("not a pull policy")
    return str(value)


KEY_MODIFIERS = ("ctrl", "alt", "meta", "shift", "super", "hyper")
"""Modifiers a key name may start with, each followed by `+`."""
PUNCTUATION_KEYS = frozenset(
    "exclamation_mark quotation_mark number_sign dollar_sign percent_sign "
    "ampersand apostrophe left_parenthesis right_parenthesis asterisk plus comma "
    "minus full_stop slash colon semicolon less_than_sign equals_sign "
    "greater_than_sign question_mark at left_square_bracket backslash "
    "right_square_bracket circumflex_accent underscore grave_accent "
    "left_curly_bracket vertical_line right_curly_bracket tilde".split()
)
"""Textual's names of the ASCII punctuation keys."""
NAMED_KEYS = frozenset(
    "escape tab enter space backspace delete insert home end pageup pagedown "
    "up down left right".split()
) | {f"f{number}" for number in range(1, 25)}
"""Textual's names of the other keys a terminal reports."""


def _key_name(value: object) -> str:
    # Textual's own list of key names would need Textual, which the backend
    # must not import; tests check that these names are Textual's.
    name = _text(value).strip()
    *modifiers, key = name.split("+")
    if any(modifier not in KEY_MODIFIERS for modifier in modifiers):
        raise ValueError("unknown modifier")
    single = len(key) == 1 and key.isascii() and key.isalnum()
    if not (single or key in PUNCTUATION_KEYS or key in NAMED_KEYS):
        raise ValueError("unknown key")
    return name


TEXT = Form("a single piece of text", "", _text)
LONGEST_AGENT_LIFETIME = 2**31 - 1
"""Kubernetes takes activeDeadlineSeconds up to this, a 32-bit integer."""
LONGEST_WAIT = 3600
"""Longer than an hour to keep a container or to wait for a pod is a mistake."""
LONGEST_IDLE_TIME = 24 * 3600
"""An agent idle for more than a day only holds a node's privileges for nothing."""
FORMS = {
    "pull_policy": Form("Always, IfNotPresent or Never", "", _pull_policy),
    "agent_pull_policy": Form("Always, IfNotPresent or Never", "", _pull_policy),
    "namespaces": Form(
        "a comma-separated list of pid, net, ipc, uts and user",
        "pid,net,ipc",
        parse_namespaces,
    ),
    "privileged": Form("true or false", "", _to_bool),
    "agent_idle_timeout": _seconds(1, LONGEST_IDLE_TIME, "300"),
    "agent_lifetime": _seconds(1, LONGEST_AGENT_LIFETIME, "14400"),
    "grace": _seconds(0, LONGEST_WAIT, "15"),
    "ready_timeout": _seconds(1, LONGEST_WAIT, "120"),
    "leader_key": Form(
        "a key as Textual names it, such as ctrl+a, f12 or ctrl+right_square_bracket",
        "",
        _key_name,
    ),
}
"""The form of each setting that is not free text."""


def _parse(name: str, value: object, origin: Origin) -> Any:
    form = FORMS.get(name, TEXT)
    try:
        return form.parse(value)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{origin.spelled(name)} is {value!r}, which is not {form.text}.",
            hint=origin.fix(name, form),
        ) from error
