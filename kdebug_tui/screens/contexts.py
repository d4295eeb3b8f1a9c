"""The contexts of the kubeconfig: the root of the browser."""

from textual import work
from textual.app import ComposeResult

from kdebug_tui.backend.kube import ContextInfo
from kdebug_tui.screens.browser_screen import BrowserScreen
from kdebug_tui.widgets.resource_table import Column, ResourceTable, Row

COLUMNS = (
    Column("name", max_width=40),
    Column("cluster", max_width=40),
    Column("user", max_width=40),
    Column("namespace", flexible=True),
)


class ContextsScreen(BrowserScreen):
    """Lists the kubeconfig's contexts; Enter shows a context's namespaces."""

    def __init__(self) -> None:
        super().__init__(context="")
        self.contexts: list[ContextInfo] = []

    def compose_body(self) -> ComposeResult:
        """The contexts table."""
        yield ResourceTable(
            COLUMNS, empty_text="Reading the kubeconfig…", id="contexts"
        )

    def start(self) -> None:
        """Read the kubeconfig."""
        self._read_contexts()

    @work(thread=True, group="contexts", exit_on_error=False)
    def _read_contexts(self) -> None:
        contexts = self.kdebug.connections.contexts()
        self.app.call_from_thread(self._show_contexts, contexts)

    def _show_contexts(self, contexts: list[ContextInfo]) -> None:
        self.contexts = contexts
        table = self.query_one(ResourceTable)
        table.empty_text = "The kubeconfig has no contexts."
        self.redraw()
        active = self.kdebug.active_context
        if active:
            table.move_to(active)

    def redraw(self) -> None:
        """Fill the table, the active context marked."""
        active = self.kdebug.active_context
        rows = [
            Row(
                c.name,
                (
                    f"{c.name} *" if c.name == active else c.name,
                    c.cluster,
                    c.user,
                    c.namespace,
                ),
                "ok" if c.name == active else "",
            )
            for c in self.contexts
        ]
        self.query_one(ResourceTable).set_rows(rows)
        super().redraw()

    def crumbs(self) -> list[str]:
        """Just the contexts."""
        return [self.counted("contexts", self.query_one(ResourceTable))]

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        """Show the chosen context's namespaces."""
        self.kdebug.show_namespaces(event.key)
