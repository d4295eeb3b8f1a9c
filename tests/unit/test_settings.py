"""Settings: defaults, the file, the environment and flags, in that order."""

from pathlib import Path

import pytest

from kdebug_tui.backend.errors import ConfigError
from kdebug_tui.backend.settings import DEFAULT_AGENT_IMAGE, load_settings


def test_defaults_apply_without_file_environment_or_flags(tmp_path: Path) -> None:
    settings = load_settings(path=tmp_path / "absent.yaml", environ={})
    assert settings.agent_namespace == "default"
    assert settings.agent_image == DEFAULT_AGENT_IMAGE
    assert settings.namespaces == ("pid", "net", "ipc")


def test_the_environment_wins_over_the_file_and_flags_win_over_both(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("agent_namespace: from-file\nimage: file/image:1\ngrace: 30\n")
    settings = load_settings(
        path=path,
        environ={"KDEBUG_AGENT_NAMESPACE": "from-env", "KDEBUG_GRACE": "5"},
        flags={"agent_namespace": "from-flag", "image": None},
    )
    assert settings.agent_namespace == "from-flag"
    assert settings.image == "file/image:1"
    assert settings.grace == 5


def test_namespaces_and_booleans_are_parsed_from_text(tmp_path: Path) -> None:
    settings = load_settings(
        path=tmp_path / "absent.yaml",
        environ={"KDEBUG_NAMESPACES": "pid, net", "KDEBUG_PRIVILEGED": "no"},
    )
    assert settings.namespaces == ("pid", "net")
    assert settings.privileged is False


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("agent_namespce: x\n", "unknown keys: agent_namespce"),
        ("pull_policy: Sometimes\n", "not a pull policy"),
        ("namespaces: [pid, cgroup]\n", "cgroup"),
        ("grace: soon\n", "grace"),
        ("- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_settings_file_is_refused_with_the_reason(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=complaint):
        load_settings(path=path, environ={})
