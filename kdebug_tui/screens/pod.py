"""One pod: its containers with their states, and its recent events, both live."""

import datetime
from typing import ClassVar

from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label, Static

from kdebug_tui.backend.resources import ContainerInfo, EventInfo, PodInfo, format_age
from kdebug_tui.screens.browser_screen import BrowserScreen
from kdebug_tui.widgets.resource_table import Column, ResourceTable, Row, Tone

CONTAINER_COLUMNS = (
    Column("name", max_width=40),
    Column("kind", max_width=9),
    Column("state", max_width=40),
    Column("ready", max_width=5),
    Column("restarts", align="right", max_width=8),
    Column("age", align="right", max_width=9),
    Column("image", flexible=True),
)
EVENT_COLUMNS = (
    Column("last seen", align="right", max_width=9),
    Column("type", max_width=7),
    Column("reason", max_width=24),
    Column("count", align="right", max_width=5),
    Column("message", flexible=True),
)
EVENTS_SHOWN = 50
"""Most recent events listed; older ones add nothing when debugging now."""
TROUBLE = ("CrashLoopBackOff", "Error", "OOMKilled", "ImagePullBackOff", "ErrImagePull")


def container_tone(container: ContainerInfo) -> Tone:
    """The colour of a container's row."""
    if container.state == "running":
        return "ok" if container.ready or container.kind == "init" else "warning"
    if container.state == "terminated":
        return "dim" if container.exit_code == 0 else "error"
    if container.reason in TROUBLE or container.reason.startswith("Err"):
        return "error"
    return "pending"


class PodScreen(BrowserScreen):
    """A pod's summary, containers and events; `d` debugs the highlighted container."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: see `skip_while_typing`.
        Binding("d", "debug", "Debug", priority=True),
        Binding("D", "launch", "Debug with…", priority=True),
        Binding("enter", "launch_chosen", "Debug with…", show=False, priority=True),
        Binding("tab", "app.focus_next", "Next table", show=False),
        Binding("shift+tab", "app.focus_previous", "Previous table", show=False),
    ]

    def __init__(self, *, context: str, namespace: str, pod: str) -> None:
        super().__init__(context=context)
        self._namespace = namespace
        self.pod_name = pod

    @property
    def namespace(self) -> str:
        """The pod's namespace."""
        return self._namespace

    @property
    def pod(self) -> PodInfo | None:
        """The pod as last seen, or None before it is read or after it is deleted."""
        return self.stores["pod"].items.get(f"{self.namespace}/{self.pod_name}")

    def compose_body(self) -> ComposeResult:
        """Summary, containers, events."""
        yield Static(id="summary")
        yield Label("Containers", classes="section")
        yield ResourceTable(
            CONTAINER_COLUMNS, empty_text="Reading the pod…", id="containers"
        )
        yield Label("Recent events", classes="section")
        yield ResourceTable(EVENT_COLUMNS, empty_text="Reading events…", id="events")

    def start(self) -> None:
        """Watch the pod and its events."""
        namespace, name = self.namespace, self.pod_name
        self.follow("pod", lambda browser: browser.watch_pod(namespace, name))
        self.follow("events", lambda browser: browser.watch_events(namespace, name))
        self.query_one("#containers", ResourceTable).focus()

    def redraw(self) -> None:
        """Fill the summary and both tables."""
        now = self.kdebug.clock.now()
        pod = self.pod
        containers = self.query_one("#containers", ResourceTable)
        if pod is None:
            if self.stores["pod"].listed:
                containers.empty_text = (
                    f"Pod {self.pod_name} does not exist (any more)."
                )
            containers.set_rows([])
            self.query_one("#summary", Static).update("")
        else:
            self.query_one("#summary", Static).update(self._summary(pod, now))
            containers.set_rows(
                [
                    Row(
                        c.name,
                        (
                            c.name,
                            c.kind.value,
                            c.state_text,
                            "yes" if c.ready else "no",
                            str(c.restarts),
                            format_age(c.since, now, unknown=""),
                            c.image,
                        ),
                        container_tone(c),
                    )
                    for c in pod.containers
                ]
            )
        events_store = self.stores["events"]
        events: list[EventInfo] = sorted(
            events_store.items.values(),
            key=lambda e: (e.last_seen is not None, e.last_seen),
            reverse=True,
        )[:EVENTS_SHOWN]
        table = self.query_one("#events", ResourceTable)
        if events_store.listed:
            table.empty_text = "No events in the last hour (events expire)."
        table.set_rows(
            [
                Row(
                    e.uid,
                    (
                        format_age(e.last_seen, now),
                        e.type,
                        e.reason,
                        str(e.count),
                        e.message,
                    ),
                    "warning" if e.type == "Warning" else "",
                )
                for e in events
            ]
        )
        super().redraw()

    @staticmethod
    def _summary(pod: PodInfo, now: datetime.datetime) -> Text:
        text = Text(" ")
        text.append(pod.status, style="bold")
        text.append(f"   ready {pod.ready}   restarts {pod.restarts}")
        text.append(f"   node {pod.node or '-'}   ip {pod.ip or '-'}")
        text.append(f"   age {format_age(pod.created, now)}")
        return text

    def crumbs(self) -> list[str]:
        """Context, namespace, pod."""
        return [self.context, self.namespace, self.pod_name]

    @property
    def highlighted_container(self) -> str:
        """The container under the cursor, or empty."""
        return self.query_one("#containers", ResourceTable).highlighted_key or ""

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        """A container chosen (a click) opens the launch dialog for it."""
        if event.table.id == "containers":
            self._ask_how()

    def action_debug(self) -> None:
        """Debug the highlighted container with the default options."""
        self.skip_while_typing()
        pod = self.pod
        if pod is not None:
            self.debug_container(pod, self.highlighted_container, ask=False)

    def action_launch(self) -> None:
        """Ask how to debug the highlighted container, then do it."""
        self.skip_while_typing()
        self._ask_how()

    def action_launch_chosen(self) -> None:
        """Enter on a container: ask how to debug it, then do it."""
        if self.focused is not self.query_one("#containers", ResourceTable):
            raise SkipAction()
        self._ask_how()

    def _ask_how(self) -> None:
        pod = self.pod
        if pod is not None:
            self.debug_container(pod, self.highlighted_container, ask=True)
