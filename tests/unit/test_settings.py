"""Settings: defaults, the file, the environment and flags, in that order."""

import string
from pathlib import Path

import pytest

from kdebug_tui.backend.errors import ConfigError
from kdebug_tui.backend.kube import Kube, list_contexts
from kdebug_tui.backend.settings import (
    DEFAULT_AGENT_IMAGE,
    NAMED_KEYS,
    PUNCTUATION_KEYS,
    load_settings,
)


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
        ("pull_policy: Sometimes\n", "not Always, IfNotPresent or Never"),
        ("namespaces: [pid, cgroup]\n", "cgroup"),
        ("grace: soon\n", "grace"),
        ("- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML at line 2, column 1"),
    ],
)
def test_a_bad_settings_file_is_refused_with_the_reason(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=complaint):
        load_settings(path=path, environ={})


@pytest.mark.parametrize(
    ("variable", "value", "form"),
    [
        ("KDEBUG_GRACE", "abc", "a whole number of seconds from 0 to 3600"),
        ("KDEBUG_READY_TIMEOUT", "0", "a whole number of seconds from 1 to 3600"),
        ("KDEBUG_AGENT_LIFETIME", "1.5", "a whole number of seconds from 1 to"),
        (
            "KDEBUG_AGENT_LIFETIME",
            "99999999999999999999",
            "a whole number of seconds from 1 to 2147483647",
        ),
        (
            "KDEBUG_AGENT_LIFETIME",
            "9999999999",
            "a whole number of seconds from 1 to 2147483647",
        ),
        (
            "KDEBUG_GRACE",
            "99999999999999999999",
            "a whole number of seconds from 0 to 3600",
        ),
        ("KDEBUG_READY_TIMEOUT", "86400", "a whole number of seconds from 1 to 3600"),
        (
            "KDEBUG_AGENT_IDLE_TIMEOUT",
            "999999999",
            "a whole number of seconds from 1 to 86400",
        ),
        ("KDEBUG_PRIVILEGED", "maybe", "true or false"),
        ("KDEBUG_PULL_POLICY", "always", "Always, IfNotPresent or Never"),
        ("KDEBUG_AGENT_PULL_POLICY", "", "Always, IfNotPresent or Never"),
        ("KDEBUG_NAMESPACES", "pid,cgroup", "a comma-separated list of pid, net"),
    ],
)
def test_a_bad_environment_variable_is_named_with_the_form_it_needs(
    tmp_path: Path, variable: str, value: str, form: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(path=tmp_path / "absent.yaml", environ={variable: value})
    message, hint = str(caught.value), caught.value.hint
    assert message.startswith(f"The environment variable {variable} is {value!r}")
    assert form in message
    assert hint.startswith(f"Set {variable} to {form}")
    assert hint.endswith("or unset it.")
    for internal in ("int()", "base 10", "literal", "Traceback"):
        assert internal not in message + hint


def test_a_bad_value_in_the_file_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("grace: soon\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path=path, environ={})
    assert str(caught.value) == (
        f"The setting grace in {path} is 'soon', which is not a whole number "
        "of seconds from 0 to 3600."
    )
    assert caught.value.hint == (
        f"Change grace in {path} to a whole number of seconds from 0 to 3600, "
        "such as 15."
    )


def test_the_longest_values_are_accepted(tmp_path: Path) -> None:
    settings = load_settings(
        path=tmp_path / "absent.yaml",
        environ={"KDEBUG_AGENT_LIFETIME": "2147483647", "KDEBUG_GRACE": "3600"},
    )
    assert (settings.agent_lifetime, settings.grace) == (2147483647, 3600)


def test_a_settings_file_that_is_not_utf8_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfeg\x00r\x00")
    with pytest.raises(ConfigError) as caught:
        load_settings(path=path, environ={})
    assert str(caught.value).startswith(f"The settings file {path} is not UTF-8")
    assert "UTF-8" in caught.value.hint


def test_a_kubeconfig_that_does_not_exist_is_named_as_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    with pytest.raises(ConfigError) as caught:
        Kube.connect(kubeconfig=str(missing))
    assert str(caught.value) == f"The kubeconfig file {missing} does not exist."
    assert "--kubeconfig" in caught.value.hint


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("root:x:0:0:root:/root:/bin/bash\n", "its YAML is not shaped as a kubeconfig"),
        ("a: [\n", "it is not YAML (while parsing a flow node"),
        ("- 1\n- 2\n", "its YAML is not shaped as a kubeconfig"),
        ("contexts: 5\n", "its YAML is not shaped as a kubeconfig"),
        ("", "file is empty"),
    ],
)
def test_a_file_that_is_no_kubeconfig_is_said_to_be_none(
    tmp_path: Path, text: str, cause: str
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    for load in (
        lambda: Kube.connect(kubeconfig=str(path)),
        lambda: list_contexts(str(path)),
    ):
        with pytest.raises(ConfigError) as caught:
            load()
        assert str(caught.value).startswith(f"Cannot read the kubeconfig {path}: ")
        assert cause in str(caught.value)
        assert "valid kubeconfig" in caught.value.hint
        assert "--context" not in caught.value.hint


def test_a_yaml_boolean_is_not_taken_for_a_number_of_seconds(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("grace: true\n")
    with pytest.raises(ConfigError, match="grace"):
        load_settings(path=path, environ={})


@pytest.mark.parametrize("value", ["ctrl+zz", "ctrl+", "control+a", "Ctrl+a", "zz"])
def test_an_unknown_leader_key_is_refused_with_the_form_it_needs(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(path=tmp_path / "none.yaml", environ={"KDEBUG_LEADER_KEY": value})
    assert str(caught.value) == (
        f"The environment variable KDEBUG_LEADER_KEY is {value!r}, which is not a "
        "key as Textual names it, such as ctrl+a, f12 or ctrl+right_square_bracket."
    )
    assert caught.value.hint.startswith("Set KDEBUG_LEADER_KEY to a key as Textual")


@pytest.mark.parametrize(
    "value", ["ctrl+a", "ctrl+right_square_bracket", "f12", "alt+x", "ctrl+shift+up"]
)
def test_a_known_leader_key_is_taken(tmp_path: Path, value: str) -> None:
    settings = load_settings(path=tmp_path / "none.yaml", flags={"leader_key": value})
    assert settings.leader_key == value


def test_the_key_names_the_settings_accept_are_textuals() -> None:
    # The backend may not import Textual; this test may, and keeps them in step.
    from textual.keys import Keys, _character_to_key

    punctuation = {_character_to_key(character) for character in string.punctuation}
    assert punctuation == PUNCTUATION_KEYS
    assert {key.value for key in Keys} >= NAMED_KEYS
