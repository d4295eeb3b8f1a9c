"""Fixtures of the TUI tests: the app over fixed records, and API servers that fail.

The fixed records come from `tests.tui.fixed_cluster`. Opening a debug session
always talks to the API server named in the kubeconfig, and here that server is
one of two real failures: a closed port (the session fails at once, as when a
cluster is down) or a listener that accepts connections and never answers (the
session stays in its first stage, as with a stalled API server).
"""

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kdebug_tui.app import KdebugApp, create_app
from kdebug_tui.backend.settings import Settings
from tests.tui.fixed_cluster import FixedBrowser, FrozenClock, write_kubeconfig

AppFactory = Callable[..., KdebugApp]


class StalledServer:
    """A TCP listener that accepts connections and never sends a byte.

    Args:
        hold: Seconds after which each connection is closed; None keeps them
            open until `close`.
    """

    def __init__(self, *, hold: float | None = None) -> None:
        self.hold = hold
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                self.accepted.append(connection)
                if self.hold is not None:
                    threading.Timer(self.hold, connection.close).start()

    def close(self) -> None:
        """Close the listener and every connection, which ends the clients' waits."""
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def clock() -> FrozenClock:
    """The frozen clock the fixed app reads."""
    return FrozenClock()


@pytest.fixture
def refused_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose API server address is a closed port."""
    return write_kubeconfig(tmp_path / "refused.kubeconfig")


@pytest.fixture
async def stalled_kubeconfig(tmp_path: Path) -> AsyncIterator[Path]:
    """A kubeconfig whose API server accepts connections and never answers.

    Async so that the connections close before the test's event loop does: the
    loop waits for its worker threads, which wait on these connections.
    """
    server = StalledServer()
    yield write_kubeconfig(
        tmp_path / "stalled.kubeconfig", server=f"https://127.0.0.1:{server.port}"
    )
    server.close()
    await asyncio.sleep(0)


@pytest.fixture
def briefly_stalled_kubeconfig(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig whose API server holds each connection 15 s, then drops it.

    For tests that run the app in a loop of its own (snapshots): that loop waits
    for its worker threads when it closes, so the connections must end by
    themselves.
    """
    server = StalledServer(hold=15)
    yield write_kubeconfig(
        tmp_path / "stalled.kubeconfig", server=f"https://127.0.0.1:{server.port}"
    )
    server.close()


@pytest.fixture
def fixed_app(refused_kubeconfig: Path, clock: FrozenClock) -> AppFactory:
    """Make the app over the fixed records or `browser`; other keywords are settings."""

    def make(
        kubeconfig: Path = refused_kubeconfig,
        *,
        browser: FixedBrowser | None = None,
        **settings: Any,
    ) -> KdebugApp:
        return create_app(
            Settings(kubeconfig=str(kubeconfig), **settings),
            browser_factory=lambda kube: browser or FixedBrowser(),
            clock=clock,
        )

    return make


@pytest.fixture(autouse=True)
def _log_file_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep the log file of the app out of the user's state directory."""
    monkeypatch.setattr("kdebug_tui.app.LOG_PATH", tmp_path / "kdebug-tui.log")
    yield
