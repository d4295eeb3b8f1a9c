"""Listing and watching what the browser shows: namespaces, pods and pod events.

A `ResourceWatch` lists a kind of object, then watches it from the listing's
resource version, and yields plain events: the whole listing, one object
changed, one object removed, or the watch interrupted. When the API server says
the version is too old (410 Gone) it lists again at once; when the connection
fails it says so and tries again with a growing delay. It blocks, since the
official client does; the TUI runs each watch in a thread of its own and stops
it from another thread, which aborts the read in progress. `follow` does that
for asyncio code.
"""

import asyncio
import contextlib
import dataclasses
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any, Generic, Protocol, TypeVar

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kdebug_tui.backend.errors import ClusterUnreachable
from kdebug_tui.backend.kube import Kube, api_error
from kdebug_tui.backend.resources import (
    JSON,
    EventInfo,
    NamespaceInfo,
    PodInfo,
    event_from_json,
    namespace_from_json,
    pod_from_json,
)
from kdebug_tui.backend.unreachable import unreachable

logger = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE = 500
"""Objects per listing request; pages keep memory flat on large clusters."""
WATCH_SECONDS = 290
"""How long the API server keeps one watch request open before it ends it."""
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 30
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before the next attempt after consecutive failures; the last repeats."""
FATAL_STATUSES = {401, 403, 404}
"""Answers to a first listing that a retry cannot change: the user must act."""


@dataclasses.dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """Every object there is now; replaces whatever was known before."""

    items: tuple[T, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Changed(Generic[T]):
    """An object was added or modified."""

    item: T


@dataclasses.dataclass(frozen=True, slots=True)
class Removed(Generic[T]):
    """An object was deleted."""

    item: T


@dataclasses.dataclass(frozen=True, slots=True)
class Interrupted:
    """The watch failed and will be tried again after `retry_in` seconds."""

    reason: str
    retry_in: float
    unreachable: bool = False
    """Whether no answer came from the API server (rather than a refusal)."""


WatchEvent = Listed[T] | Changed[T] | Removed[T] | Interrupted


class Watch(Protocol[T]):
    """A source of watch events that another thread can stop."""

    def events(self) -> Iterator[WatchEvent[T]]:
        """Yield events until stopped; blocks between them.

        Raises:
            ClusterError: the API server refused in a way a retry cannot fix
                (forbidden, unauthorized, no such namespace).
        """
        ...

    def stop(self) -> None:
        """End `events` soon, from any thread."""
        ...


class Browser(Protocol):
    """What the browser screens read from one context."""

    def watch_namespaces(self) -> Watch[NamespaceInfo]:
        """Watch every namespace."""
        ...

    def watch_pods(self, namespace: str = "") -> Watch[PodInfo]:
        """Watch the pods of a namespace, or of every namespace when empty."""
        ...

    def watch_pod(self, namespace: str, name: str) -> Watch[PodInfo]:
        """Watch one pod."""
        ...

    def watch_events(self, namespace: str, pod: str) -> Watch[EventInfo]:
        """Watch the events about one pod."""
        ...


class Keyed(Protocol):
    """An object with a key unique among its kind."""

    @property
    def key(self) -> str:
        """The key, e.g. `namespace/name`."""
        ...


K = TypeVar("K", bound=Keyed)


class Store(Generic[K]):
    """What a watch has shown so far, by key; the state a table is drawn from."""

    def __init__(self) -> None:
        self.items: dict[str, K] = {}
        self.listed = False
        """Whether a first listing has arrived."""
        self.interruption: Interrupted | None = None
        """The last failure, until the next listing."""

    def apply(self, event: WatchEvent[K]) -> None:
        """Take one watch event into account."""
        if isinstance(event, Listed):
            self.items = {item.key: item for item in event.items}
            self.listed = True
            self.interruption = None
        elif isinstance(event, Changed):
            self.items[event.item.key] = event.item
        elif isinstance(event, Removed):
            self.items.pop(event.item.key, None)
        else:
            self.interruption = event


async def follow(watch: Watch[T]) -> AsyncIterator[WatchEvent[T]]:
    """Yield a watch's events on the event loop until the caller stops iterating.

    The watch blocks for minutes at a time, so it runs in a thread of its own:
    in the loop's default executor, which `asyncio.to_thread` and the session
    code share, a handful of open views would starve everything else.

    Raises:
        ClusterError: as `Watch.events`.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[WatchEvent[T] | None, BaseException | None]]
    queue = asyncio.Queue()

    def deliver(event: WatchEvent[T] | None, error: BaseException | None) -> None:
        # The loop may be closed already when the app quits during a read.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, (event, error))

    def pump() -> None:
        try:
            for event in watch.events():
                deliver(event, None)
        except Exception as error:
            deliver(None, error)
        else:
            deliver(None, None)

    threading.Thread(target=pump, name="kdebug-watch", daemon=True).start()
    try:
        while True:
            event, error = await queue.get()
            if error is not None:
                raise error
            if event is None:
                return
            yield event
    finally:
        watch.stop()


class _Expired(Exception):
    """The resource version is too old (410 Gone): list again."""


class _Broken(Exception):
    """The API server ended a watch with an error other than 410."""


class ResourceWatch(Generic[T]):
    """Lists, then watches, one kind of object; see the module's docstring."""

    def __init__(
        self,
        list_call: Callable[..., Any],
        *args: str,
        parse: Callable[[JSON], T],
        what: str,
        field_selector: str = "",
        server: str = "",
    ) -> None:
        self._list_call = list_call
        self._server = server
        self._args = args
        self._parse = parse
        self._what = what
        self._field_selector = field_selector
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._response: Any = None

    def events(self, *, since: str = "") -> Iterator[WatchEvent[T]]:
        """Yield events until stopped; see `Watch.events`.

        Args:
            since: Watch from this resource version instead of listing first,
                for a caller that already holds the objects as of that version.
        """
        failures = 0
        listed = bool(since)
        while not self._stopped.is_set():
            try:
                if since:
                    version, since = since, ""
                else:
                    items, version = self._list()
                    yield Listed(tuple(items))
                    listed = True
                failures = 0
                while not self._stopped.is_set():
                    version = yield from self._watch(version)
            except _Expired:
                logger.info("The watch of %s expired; listing again.", self._what)
            except ApiException as error:
                # Once a listing worked, a refusal is more likely an API server
                # that restarts (its RBAC cache still cold) than lost rights.
                if error.status in FATAL_STATUSES and not listed:
                    raise api_error(error, doing=f"listing {self._what}") from error
                failures += 1
                yield from self._pause(
                    api_error(error, doing=f"watching {self._what}"), failures
                )
            except (
                ClusterUnreachable,
                HTTPError,
                OSError,
                ValueError,
                _Broken,
            ) as error:
                if self._stopped.is_set():
                    return
                failures += 1
                yield from self._pause(error, failures)

    def stop(self) -> None:
        """End `events` soon, from any thread, aborting a read in progress."""
        self._stopped.set()
        with self._lock:
            response = self._response
        if response is not None:
            try:
                response.shutdown()
            except (OSError, RuntimeError, ValueError):
                logger.debug("The watch of %s had already closed.", self._what)

    def _pause(self, error: Exception, failures: int) -> Iterator[WatchEvent[T]]:
        delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
        if isinstance(error, HTTPError | OSError):
            # A stream that broke while it was read, past the guarded transport.
            error = unreachable(self._server, error)
        reason = str(error) or type(error).__name__
        logger.info(
            "The watch of %s failed (%s); retrying in %s s.", self._what, reason, delay
        )
        yield Interrupted(
            reason=reason,
            retry_in=delay,
            unreachable=isinstance(error, ClusterUnreachable),
        )
        self._stopped.wait(delay)

    def _list(self) -> tuple[list[T], str]:
        items: list[T] = []
        token = ""
        while True:
            data = self._request(
                limit=PAGE_SIZE,
                _continue=token or None,
                _request_timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )
            try:
                page = json.loads(data.read())
            finally:
                self._forget(data)
            items.extend(self._parse(item) for item in page.get("items") or [])
            meta = page.get("metadata") or {}
            token = str(meta.get("continue") or "")
            if not token:
                return items, str(meta.get("resourceVersion") or "")

    def _watch(self, version: str) -> Generator[WatchEvent[T], None, str]:
        response = self._request(
            watch=True,
            resource_version=version or None,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=(CONNECT_TIMEOUT, WATCH_SECONDS + READ_TIMEOUT),
        )
        try:
            for line in _lines(response):
                event = json.loads(line)
                kind, data = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if data.get("code") == 410:
                        raise _Expired()
                    raise _Broken(
                        f"The watch of {self._what} failed: {data.get('message', '')}"
                    )
                version = str(
                    (data.get("metadata") or {}).get("resourceVersion") or version
                )
                if kind in ("ADDED", "MODIFIED"):
                    yield Changed(self._parse(data))
                elif kind == "DELETED":
                    yield Removed(self._parse(data))
        finally:
            self._forget(response)
        return version

    def _request(self, **params: Any) -> Any:
        if self._stopped.is_set():
            raise OSError("the watch was stopped")
        try:
            response = self._list_call(
                *self._args,
                field_selector=self._field_selector or None,
                _preload_content=False,
                **params,
            )
        except ApiException as error:
            if error.status == 410:
                raise _Expired() from error
            raise
        # Kept so that `stop` can abort a read blocked in another thread.
        with self._lock:
            self._response = response
        return response

    def _forget(self, response: Any) -> None:
        with self._lock:
            self._response = None
        response.release_conn()


def _lines(response: Any) -> Iterator[bytes]:
    pending = b""
    for chunk in response.stream(65536):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


class ClusterBrowser:
    """The `Browser` of a real context, through the official client."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def watch_namespaces(self) -> ResourceWatch[NamespaceInfo]:
        """Watch every namespace."""
        return ResourceWatch(
            self.kube.core.list_namespace,
            parse=namespace_from_json,
            what="namespaces",
            server=self.kube.server,
        )

    def watch_pods(self, namespace: str = "") -> ResourceWatch[PodInfo]:
        """Watch the pods of a namespace, or of every namespace when empty."""
        if namespace:
            return ResourceWatch(
                self.kube.core.list_namespaced_pod,
                namespace,
                parse=pod_from_json,
                what=f"pods in {namespace}",
                server=self.kube.server,
            )
        return ResourceWatch(
            self.kube.core.list_pod_for_all_namespaces,
            parse=pod_from_json,
            what="pods in all namespaces",
            server=self.kube.server,
        )

    def watch_pod(self, namespace: str, name: str) -> ResourceWatch[PodInfo]:
        """Watch one pod."""
        return ResourceWatch(
            self.kube.core.list_namespaced_pod,
            namespace,
            parse=pod_from_json,
            what=f"pod {namespace}/{name}",
            server=self.kube.server,
            field_selector=f"metadata.name={name}",
        )

    def watch_events(self, namespace: str, pod: str) -> ResourceWatch[EventInfo]:
        """Watch the events about one pod."""
        return ResourceWatch(
            self.kube.core.list_namespaced_event,
            namespace,
            parse=event_from_json,
            what=f"events of pod {namespace}/{pod}",
            server=self.kube.server,
            field_selector=f"involvedObject.kind=Pod,involvedObject.name={pod}",
        )
