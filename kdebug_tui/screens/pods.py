"""The pods of a namespace, or of every namespace, kept current by a watch."""

import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from kdebug_tui.backend.resources import PodInfo, format_age
from kdebug_tui.screens.browser_screen import BrowserScreen
from kdebug_tui.widgets.resource_table import Column, ResourceTable, Row, Tone

POD_COLUMNS = (
    Column("name", max_width=63),
    Column("ready", align="right", max_width=7),
    Column("status", max_width=28),
    Column("restarts", align="right", max_width=16),
    Column("age", align="right", max_width=9),
    Column("node", flexible=True),
)
NAMESPACE_COLUMN = Column("namespace", max_width=40)
PENDING = ("Pending", "ContainerCreating", "PodInitializing", "Terminating")
DONE = ("Completed", "Succeeded")


def pod_tone(pod: PodInfo) -> Tone:
    """The colour of a pod's row: red for trouble, dim when done, and so on."""
    status = pod.status
    if status in DONE:
        return "dim"
    if status in PENDING or status.startswith("Init:") and status[5:6].isdigit():
        return "pending"
    if status == "Running":
        ready, _, total = pod.ready.partition("/")
        return "ok" if ready == total else "warning"
    return "error"


def restarts_text(pod: PodInfo, now: datetime.datetime) -> str:
    """`3`, or `3 (2m ago)` as kubectl says when the last restart is known."""
    if pod.restarts and pod.last_restart is not None:
        return f"{pod.restarts} ({format_age(pod.last_restart, now)} ago)"
    return str(pod.restarts)


class PodsScreen(BrowserScreen):
    """Lists pods; Enter shows a pod, `d` debugs it, `D` asks how first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: see `skip_while_typing`.
        Binding("d", "debug", "Debug", priority=True),
        Binding("D", "launch", "Debug with…", priority=True),
    ]

    def __init__(self, *, context: str, namespace: str) -> None:
        super().__init__(context=context)
        self._namespace = namespace
        self._rows: dict[str, tuple[PodInfo, Row]] = {}

    @property
    def namespace(self) -> str:
        """The namespace listed; empty for every namespace."""
        return self._namespace

    def compose_body(self) -> ComposeResult:
        """The pods table, with a namespace column when listing them all."""
        columns = POD_COLUMNS if self.namespace else (NAMESPACE_COLUMN, *POD_COLUMNS)
        yield ResourceTable(
            columns,
            empty_text="Listing pods…",
            refresh_row=self._refreshed_row,
            id="pods",
        )

    def start(self) -> None:
        """Watch the pods."""
        namespace = self.namespace
        self.follow("pods", lambda browser: browser.watch_pods(namespace))

    @property
    def pods(self) -> dict[str, PodInfo]:
        """The pods known now, by `namespace/name`."""
        return self.stores["pods"].items

    def redraw(self) -> None:
        """Fill the table from the watch."""
        store = self.stores["pods"]
        now = self.kdebug.clock.now()
        table = self.query_one(ResourceTable)
        # A row is rebuilt only when its pod changed: a watch event among ten
        # thousand pods rebuilds one row. Ages move on in `refresh_ages`.
        previous, self._rows = self._rows, {}
        for key in sorted(store.items):
            pod: PodInfo = store.items[key]
            cached = previous.get(key)
            if cached is None or cached[0] is not pod:
                cached = (pod, self._row(key, pod, now))
            self._rows[key] = cached
        if store.listed:
            where = self.namespace or "any namespace"
            table.empty_text = f"No pods in {where}."
        table.set_rows([row for _, row in self._rows.values()])
        super().redraw()

    def refresh_ages(self) -> None:
        """Let the table rebuild the rows it draws, and only those, with new ages.

        Rebuilding all ten thousand rows every few seconds took the app away
        from the keyboard for up to 140 ms; the rows on screen are a few dozen.
        """
        self.query_one(ResourceTable).mark_stale()

    def _row(self, key: str, pod: PodInfo, now: datetime.datetime) -> Row:
        texts = (restarts_text(pod, now), format_age(pod.created, now))
        cells: tuple[str, ...] = (pod.name, pod.ready, pod.status, *texts)
        cells += (pod.node,)
        if not self.namespace:
            cells = (pod.namespace, *cells)
        return Row(key, cells, pod_tone(pod))

    def _refreshed_row(self, row: Row) -> Row:
        cached = self._rows.get(row.key)
        if cached is None:
            return row
        pod = cached[0]
        fresh = self._row(row.key, pod, self.kdebug.clock.now())
        self._rows[row.key] = (pod, fresh)
        return fresh

    def crumbs(self) -> list[str]:
        """Context, namespace, then the pods."""
        table = self.query_one(ResourceTable)
        namespace = self.namespace or "all namespaces"
        return [self.context, namespace, self.counted("pods", table)]

    @property
    def highlighted_pod(self) -> PodInfo | None:
        """The pod under the cursor."""
        key = self.query_one(ResourceTable).highlighted_key
        return self.pods.get(key) if key else None

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        """Show the chosen pod's containers and events."""
        pod = self.pods.get(event.key)
        if pod is not None:
            self.kdebug.show_pod(self.context, pod.namespace, pod.name)

    def action_debug(self) -> None:
        """Debug the pod's default container with the default options."""
        self.skip_while_typing()
        pod = self.highlighted_pod
        if pod is not None and not self.debug_container(pod, "", ask=False):
            self.kdebug.show_pod(self.context, pod.namespace, pod.name)

    def action_launch(self) -> None:
        """Ask how to debug the pod, then do it."""
        self.skip_while_typing()
        pod = self.highlighted_pod
        if pod is not None:
            self.debug_container(pod, "", ask=True)
