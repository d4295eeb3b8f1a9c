"""An API server that cannot be reached is one sentence, never urllib3's words.

The kubeconfig points at a port on 127.0.0.1 that nothing listens on, or at a
plain TCP server that does not speak TLS: real connection failures, no fake.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kdebug_tui import cli
from kdebug_tui.backend import kube as kube_module
from kdebug_tui.backend.agents import AgentPod
from kdebug_tui.backend.browse import ClusterBrowser, Interrupted
from kdebug_tui.backend.connection import AgentConnection
from kdebug_tui.backend.errors import ClusterUnreachable
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.session import SessionManager
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.tokens import TokenStore

URLLIB3_WORDS = ("urllib3", "HTTPSConnection", "Max retries", "Errno", "Traceback")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "lab", "cluster": {"server": server}}],
        "users": [{"name": "me", "user": {"token": "not-a-secret"}}],
        "contexts": [
            {"name": "lab", "context": {"cluster": "lab", "user": "me"}},
        ],
        "current-context": "lab",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def server() -> str:
    return f"https://127.0.0.1:{closed_port()}"


@pytest.fixture
def kubeconfig(tmp_path: Path, server: str) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", server)


@pytest.fixture
def kube(kubeconfig: Path) -> Kube:
    return Kube.connect(kubeconfig=str(kubeconfig))


def assert_plain(error: ClusterUnreachable, server: str, cause: str) -> None:
    assert str(error) == f"Cannot reach the Kubernetes API at {server}: {cause}."
    assert error.hint == (
        "Check that the cluster is running and that context lab of your "
        "kubeconfig points at it; `kubectl --context lab cluster-info` tries "
        "the same address."
    )
    for words in URLLIB3_WORDS:
        assert words not in str(error) + error.hint


class TestAClosedPort:
    def test_reading_a_pod_says_the_connection_was_refused(
        self, kube: Kube, server: str
    ) -> None:
        with pytest.raises(ClusterUnreachable) as caught:
            kube.core.read_namespaced_pod("web", "shop")
        assert_plain(caught.value, server, "connection refused")

    def test_collecting_garbage_says_the_connection_was_refused(
        self, kube: Kube, server: str, tmp_path: Path
    ) -> None:
        manager = SessionManager(
            kube, Settings(), tokens=TokenStore(tmp_path / "tokens.json")
        )
        with pytest.raises(ClusterUnreachable) as caught:
            asyncio.run(manager.collect_garbage())
        assert_plain(caught.value, server, "connection refused")

    def test_a_port_forward_says_the_connection_was_refused(
        self, kube: Kube, server: str
    ) -> None:
        agent = AgentPod("default", "kdebug-agent-x", "uid", "node", token="t")
        with pytest.raises(ClusterUnreachable) as caught:
            asyncio.run(AgentConnection.open(kube, agent))
        assert_plain(caught.value, server, "connection refused")

    def test_a_watch_is_interrupted_with_the_sentence_and_retries(
        self, kube: Kube, server: str
    ) -> None:
        watch = ClusterBrowser(kube).watch_pods("shop")
        event = next(iter(watch.events()))
        watch.stop()
        assert isinstance(event, Interrupted)
        assert event.reason.startswith(f"Cannot reach the Kubernetes API at {server}")
        assert "connection refused" in event.reason


class TestTheCommandLine:
    @pytest.mark.parametrize(
        "words", [["gc"], ["debug", "-n", "shop", "web", "--", "true"]]
    )
    def test_one_sentence_and_a_hint_on_stderr_and_exit_code_1(
        self,
        kubeconfig: Path,
        server: str,
        words: list[str],
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        with pytest.raises(SystemExit) as exited:
            cli.main(["--kubeconfig", str(kubeconfig), *words])
        assert exited.value.code == 1
        error = capsys.readouterr().err
        assert (
            f"kdebug-tui: Cannot reach the Kubernetes API at {server}: "
            "connection refused.\n"
        ) in error
        assert "  Check that the cluster is running" in error
        for words_of_urllib3 in URLLIB3_WORDS:
            assert words_of_urllib3 not in error


@pytest.fixture
def plain_tcp_server() -> Iterator[str]:
    """A server that answers a TLS handshake with plain text."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    listener.close()


def test_a_server_that_does_not_speak_tls_is_named_as_such(
    tmp_path: Path, plain_tcp_server: str
) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig", plain_tcp_server)
    kube = Kube.connect(kubeconfig=str(path))
    with pytest.raises(ClusterUnreachable) as caught:
        kube.core.read_namespaced_pod("web", "shop")
    message = str(caught.value)
    assert message.startswith(
        f"Cannot reach the Kubernetes API at {plain_tcp_server}: "
        "the TLS handshake failed"
    )
    for words in URLLIB3_WORDS:
        assert words not in message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that takes connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_a_server_that_never_answers_is_given_up_on_with_a_sentence(
    tmp_path: Path, silent_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kube_module, "REQUEST_TIMEOUT", (0.5, 0.5))
    path = write_kubeconfig(tmp_path / "kubeconfig", silent_server)
    kube = Kube.connect(kubeconfig=str(path))
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable) as caught:
        kube.request("GET", "/api/v1/namespaces/shop/pods/web")
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"Cannot reach the Kubernetes API at {silent_server}")
    assert message.endswith(": no answer in time.")
    for words in URLLIB3_WORDS:
        assert words not in message
