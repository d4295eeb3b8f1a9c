"""The namespaces of a context, kept current by a watch."""

from textual.app import ComposeResult

from kdebug_tui.backend.resources import NamespaceInfo, format_age
from kdebug_tui.commands import ALL_NAMESPACES
from kdebug_tui.screens.browser_screen import BrowserScreen
from kdebug_tui.widgets.resource_table import Column, ResourceTable, Row

COLUMNS = (
    Column("name", max_width=63),
    Column("status", max_width=12),
    Column("age", align="right", flexible=False),
)
ALL_ROW = Row(ALL_NAMESPACES, ("all", "", ""), "dim")
"""The first row, which shows the pods of every namespace."""


class NamespacesScreen(BrowserScreen):
    """Lists a context's namespaces; Enter shows a namespace's pods."""

    def __init__(self, *, context: str, selected: str = "") -> None:
        super().__init__(context=context)
        self.selected = selected

    def compose_body(self) -> ComposeResult:
        """The namespaces table."""
        yield ResourceTable(COLUMNS, empty_text="Listing namespaces…", id="namespaces")

    def start(self) -> None:
        """Watch the namespaces."""
        self.follow("namespaces", lambda browser: browser.watch_namespaces())

    def redraw(self) -> None:
        """Fill the table from the watch."""
        store = self.stores["namespaces"]
        now = self.kdebug.clock.now()
        namespaces: list[NamespaceInfo] = sorted(
            store.items.values(), key=lambda n: n.name
        )
        rows = [
            Row(
                n.name,
                (n.name, n.status, format_age(n.created, now)),
                "" if n.status == "Active" else "pending",
            )
            for n in namespaces
        ]
        table = self.query_one(ResourceTable)
        if store.listed:
            table.empty_text = "No namespaces."
            rows.insert(0, ALL_ROW)
        table.set_rows(rows)
        if self.selected and table.move_to(self.selected):
            self.selected = ""
        super().redraw()

    def crumbs(self) -> list[str]:
        """Context, then the namespaces."""
        table = self.query_one(ResourceTable)
        total = len(self.stores["namespaces"].items)
        shown = sum(1 for row in table.rows if row is not ALL_ROW)
        counted = f"({shown}/{total})" if shown != total else f"({total})"
        return [self.context, f"namespaces {counted}"]

    def on_resource_table_selected(self, event: ResourceTable.Selected) -> None:
        """Show the chosen namespace's pods."""
        namespace = "" if event.key == ALL_NAMESPACES else event.key
        self.kdebug.show_pods(self.context, namespace, reset=False)
