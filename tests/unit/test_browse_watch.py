"""A watch lists again when its version expires (410 Gone) and retries failures.

The real API server answers 410 only once etcd has compacted past the version a
watch resumes from, which a test cannot bring about on demand; nor can it make
the API server fail with a 500 on cue. So these tests talk to a scripted HTTP
server standing in for it: it answers each request with the next step of a
script, in the API server's own wire format (JSON listings, chunked watch
streams of one JSON event per line).
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client

from kdebug_tui.backend.browse import (
    Changed,
    Interrupted,
    Listed,
    ResourceWatch,
    WatchEvent,
)
from kdebug_tui.backend.errors import PermissionDenied
from kdebug_tui.backend.resources import PodInfo, pod_from_json

Step = tuple[str, Any]
"""What to answer: ("list", (version, names)), ("watch", lines), ("status", code)."""


def pod(name: str, version: str = "1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": version},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Running"},
    }


class ScriptedApiServer:
    """Answers the requests of one watch with a script of steps, in order."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, list[str]]] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                server.requests.append(parse_qs(urlparse(self.path).query))
                kind, value = server.steps.pop(0) if server.steps else ("hold", None)
                if kind == "status":
                    self._send(value, {"kind": "Status", "code": value})
                elif kind == "list":
                    version, names = value
                    items = [pod(n) for n in names]
                    self._send(
                        200, {"metadata": {"resourceVersion": version}, "items": items}
                    )
                else:
                    self._stream(value or [])

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, lines: list[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for line in lines:
                    data = json.dumps(line).encode() + b"\n"
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                if not lines:
                    # A quiet watch: nothing happens until the test is over.
                    server.release.wait(10)
                self.wfile.write(b"0\r\n\r\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def watch(self) -> ResourceWatch[PodInfo]:
        """A watch of the pods of `shop` through this server."""
        configuration = client.Configuration()
        configuration.host = f"http://127.0.0.1:{self.httpd.server_port}"
        core = client.CoreV1Api(client.ApiClient(configuration))
        return ResourceWatch(
            core.list_namespaced_pod, "shop", parse=pod_from_json, what="pods in shop"
        )

    def close(self) -> None:
        """Stop serving."""
        self.release.set()
        self.httpd.shutdown()


@pytest.fixture
def scripted() -> Iterator[list[ScriptedApiServer]]:
    servers: list[ScriptedApiServer] = []
    yield servers
    for server in servers:
        server.close()


def collect(watch: ResourceWatch[PodInfo], count: int) -> list[WatchEvent[PodInfo]]:
    """The first `count` events of the watch, then stop it."""
    events: list[WatchEvent[PodInfo]] = []
    for event in watch.events():
        events.append(event)
        if len(events) == count:
            watch.stop()
    return events


def names(event: WatchEvent[PodInfo]) -> list[str]:
    """The pod names a listing holds."""
    assert isinstance(event, Listed)
    return [p.name for p in event.items]


def test_an_expired_version_lists_again_whether_it_comes_as_event_or_status(
    scripted: list[ScriptedApiServer],
) -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410}}
    server = ScriptedApiServer(
        [
            ("list", ("10", ["a"])),
            ("watch", [{"type": "ADDED", "object": pod("b", "11")}, gone]),
            ("list", ("20", ["a", "b", "c"])),
            ("status", 410),
            ("list", ("30", ["a"])),
        ]
    )
    scripted.append(server)

    events = collect(server.watch(), 4)

    assert names(events[0]) == ["a"]
    assert isinstance(events[1], Changed) and events[1].item.name == "b"
    assert names(events[2]) == ["a", "b", "c"]
    assert names(events[3]) == ["a"]
    # Each watch resumed from the version of the listing before it.
    watches = [r for r in server.requests if r.get("watch") == ["true"]]
    assert [w["resourceVersion"] for w in watches] == [["10"], ["20"]]


def test_a_server_error_is_reported_then_retried(
    scripted: list[ScriptedApiServer],
) -> None:
    server = ScriptedApiServer([("status", 500), ("list", ("5", ["a"]))])
    scripted.append(server)

    events = collect(server.watch(), 2)

    assert isinstance(events[0], Interrupted)
    assert events[0].retry_in == 1.0
    assert "(500)" in events[0].reason
    assert names(events[1]) == ["a"]


def test_a_refusal_no_retry_can_fix_ends_the_watch_with_a_hint(
    scripted: list[ScriptedApiServer],
) -> None:
    server = ScriptedApiServer([("status", 403)])
    scripted.append(server)

    with pytest.raises(PermissionDenied) as raised:
        collect(server.watch(), 1)

    assert "listing pods in shop" in str(raised.value)
    assert raised.value.hint


def test_a_refusal_after_a_listing_worked_is_retried(
    scripted: list[ScriptedApiServer],
) -> None:
    # An API server that restarts refuses requests until its RBAC cache is warm.
    server = ScriptedApiServer(
        [("list", ("10", ["a"])), ("status", 403), ("list", ("20", ["a", "b"]))]
    )
    scripted.append(server)

    events = collect(server.watch(), 3)

    assert names(events[0]) == ["a"]
    assert isinstance(events[1], Interrupted)
    assert names(events[2]) == ["a", "b"]
