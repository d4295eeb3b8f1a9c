"""Fixtures shared by the test suites, registered as plugins."""

import os
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.containerd",
    "tests.fixtures.docker",
    "tests.fixtures.cluster",
]


@pytest.fixture(autouse=True, scope="session")
def _own_config_and_state(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """Keep the tests off the user's kdebug-tui settings and agent tokens."""
    home = tmp_path_factory.mktemp("xdg")
    saved = {key: os.environ.get(key) for key in ("XDG_CONFIG_HOME", "XDG_STATE_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_STATE_HOME"] = str(home / "state")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
