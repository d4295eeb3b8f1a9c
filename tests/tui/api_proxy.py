"""A relay in front of the e2e cluster's API server that a test can cut and restore.

The API server is shared by every e2e test and cannot be stopped for one, so a
test that needs it to go away talks to it through this relay instead: `cut`
closes the listener and every relayed connection (a client sees its watch break
and then its connections refused, as when the API server is down), `restore`
listens again on the same port. TLS passes through untouched; the API server's
certificate names 127.0.0.1, whatever the port.
"""

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import yaml

CHUNK = 65536


class ApiServerProxy:
    """Relays 127.0.0.1:`port` to the API server at `upstream` (host, port)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        """Accept connections again."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every relayed connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for each in [listener, *sockets]:
            if each is not None:
                with contextlib.suppress(OSError):
                    each.shutdown(socket.SHUT_RDWR)
                each.close()

    def kubeconfig(self, source: Path, target: Path) -> Path:
        """Write a copy of the kubeconfig `source` whose server is this relay."""
        config = yaml.safe_load(source.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        target.write_text(yaml.safe_dump(config))
        return target

    def _accept(self, listener: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                server = socket.create_connection(self.upstream)
                with self._lock:
                    self._sockets += [client, server]
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(
                        target=self._pump, args=(source, sink), daemon=True
                    ).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(CHUNK):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def api_server_proxy(kubeconfig: Path) -> Iterator[ApiServerProxy]:
    """A relay to the API server `kubeconfig` names, cut when done."""
    config = yaml.safe_load(kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    host, _, port = server.removeprefix("https://").partition(":")
    proxy = ApiServerProxy((host, int(port or 443)))
    try:
        yield proxy
    finally:
        proxy.cut()
