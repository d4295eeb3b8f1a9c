"""A keyboard-driven table of Kubernetes objects that stays fast at 10 000 rows.

Textual's `DataTable` measures every cell as rows are added, which makes a
filter over ten thousand pods take seconds. This table keeps rows as plain
strings, filters them with one regular expression, and draws only the lines on
screen (the Line API), so a key typed in the filter redraws within a frame. The
cursor follows its row's key across updates, so a watch that adds or removes
pods never moves the highlight to another pod.
"""

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 2
"""Spaces between two columns."""

Tone = Literal["", "ok", "pending", "warning", "error", "dim"]


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    """A column: its title, its alignment, and how wide it may grow."""

    title: str
    align: Literal["left", "right"] = "left"
    max_width: int = 48
    flexible: bool = False
    """Takes the width the other columns leave (one column at most)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """A row: a key unique in the table, its cells, and a tone for its colour."""

    key: str
    cells: tuple[str, ...]
    tone: Tone = ""


def compile_filter(text: str) -> tuple[re.Pattern[str] | None, bool]:
    """Turn filter text into a pattern and whether matches are excluded.

    The text is a case-insensitive regular expression, or a plain string when it
    is not a valid one; a leading `!` keeps the rows that do not match, as in k9s.
    """
    inverted = text.startswith("!")
    text = text[1:].strip() if inverted else text.strip()
    if not text:
        return None, False
    try:
        return re.compile(text, re.IGNORECASE), inverted
    except re.error:
        return re.compile(re.escape(text), re.IGNORECASE), inverted


class ResourceTable(ScrollView, can_focus=True, inherit_bindings=False):
    """A table with a fixed header, a row cursor and a live filter."""

    DEFAULT_CSS = """
    ResourceTable {
        height: 1fr;
        background: $surface;
        & > .resource-table--header { text-style: bold; color: $text-accent; }
        & > .resource-table--cursor {
            background: $block-cursor-blurred-background;
        }
        &:focus > .resource-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
        & > .resource-table--ok { color: $foreground; }
        & > .resource-table--pending { color: $accent; }
        & > .resource-table--warning { color: $warning; }
        & > .resource-table--error { color: $error; }
        & > .resource-table--dim { color: $text-muted; }
        & > .resource-table--empty { color: $text-muted; text-style: italic; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "resource-table--header",
        "resource-table--cursor",
        "resource-table--ok",
        "resource-table--pending",
        "resource-table--warning",
        "resource-table--error",
        "resource-table--dim",
        "resource-table--empty",
    }

    # The cursor moves with priority, when the app reads the key: the screens'
    # `d` and `D` act with priority too (see `BrowserScreen.skip_while_typing`),
    # and must find the cursor where the keys typed before them put it, not
    # where it was while those keys still waited in the table's queue.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, priority=True),
        Binding("down,j", "cursor_down", "Down", show=False, priority=True),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, priority=True),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, priority=True),
        Binding("home,g", "first", "First row", show=False, priority=True),
        Binding("end,G", "last", "Last row", show=False, priority=True),
        Binding("enter", "select", "Open"),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True)
    """Index of the highlighted row among the rows the filter lets through."""

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: "ResourceTable", key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "ResourceTable":
            """The table whose cursor moved."""
            return self.table

    class Selected(Message):
        """Enter was pressed (or a row double-clicked) on a row."""

        def __init__(self, table: "ResourceTable", key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "ResourceTable":
            """The table where the row was chosen."""
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty_text: str = "Nothing to show.",
        refresh_row: Callable[[Row], Row] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.empty_text = empty_text
        self._rows: list[Row] = []
        self._search: list[str] = []
        self._shown: list[Row] = []
        self._filter = ""
        self._widths: list[int] = [len(c.title) for c in self.columns]
        self._last_key: str | None = None
        self._refresh_row = refresh_row
        self._positions: dict[str, int] = {}
        # Keys of the rows rebuilt since `mark_stale`; None when none is stale.
        self._fresh: set[str] | None = None

    @property
    def rows(self) -> list[Row]:
        """The rows the filter lets through, in order."""
        return self._shown

    @property
    def total(self) -> int:
        """How many rows there are, filtered or not."""
        return len(self._rows)

    @property
    def filter_text(self) -> str:
        """The filter in force, empty for none."""
        return self._filter

    @property
    def highlighted_key(self) -> str | None:
        """The key of the highlighted row, if any row is shown."""
        if 0 <= self.cursor_row < len(self._shown):
            return self._shown[self.cursor_row].key
        return None

    @property
    def highlighted_row(self) -> Row | None:
        """The highlighted row, if any row is shown."""
        if 0 <= self.cursor_row < len(self._shown):
            return self._shown[self.cursor_row]
        return None

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace every row; the cursor stays on the same key if it is still there."""
        self._rows = list(rows)
        self._positions = {row.key: index for index, row in enumerate(self._rows)}
        self._search = ["\t".join(row.cells) for row in self._rows]
        by_column = zip(*(row.cells for row in self._rows), strict=False)
        longest = [max(map(len, cells)) for cells in by_column] or [0] * len(
            self.columns
        )
        self._widths = [
            min(max(len(column.title), width), column.max_width)
            for column, width in zip(self.columns, longest, strict=True)
        ]
        self._apply_filter()

    def set_filter(self, text: str) -> None:
        """Show only the rows matching `text` (see `compile_filter`)."""
        self._filter = text
        self._apply_filter()

    def mark_stale(self) -> None:
        """Have `refresh_row` rebuild each row the next time it is drawn.

        For text that goes stale with time, such as ages: only the rows on
        screen are rebuilt, the others when they scroll into view. Columns
        widen at once for longer text; the filter follows, and columns narrow,
        on the next `set_rows` or `set_filter`.
        """
        if self._refresh_row is not None:
            self._fresh = set()
            self.refresh()

    def move_to(self, key: str) -> bool:
        """Put the cursor on the row with `key`; tell whether it is shown."""
        for index, row in enumerate(self._shown):
            if row.key == key:
                self.cursor_row = index
                return True
        return False

    def _apply_filter(self) -> None:
        key = self._last_key
        pattern, inverted = compile_filter(self._filter)
        if pattern is None:
            self._shown = self._rows
        else:
            self._shown = [
                row
                for row, text in zip(self._rows, self._search, strict=True)
                if (pattern.search(text) is None) == inverted
            ]
        self.virtual_size = Size(self.size.width, len(self._shown) + 1)
        if key is None or not self.move_to(key):
            self.cursor_row = min(self.cursor_row, max(len(self._shown) - 1, 0))
        self.refresh()

    def watch_cursor_row(self, row: int) -> None:
        """Keep the cursor on screen and tell the screen which row it is on."""
        self._scroll_to_cursor()
        key = self.highlighted_key
        self.refresh()
        if key != self._last_key or key is None:
            self._last_key = key
            self.post_message(self.Highlighted(self, key))

    def _scroll_to_cursor(self) -> None:
        visible = max(self.size.height - 1, 1)
        top = round(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(
                y=self.cursor_row - visible + 1, animate=False, immediate=True
            )

    def on_resize(self, event: events.Resize) -> None:
        """Fit the virtual width to the widget and keep the cursor on screen."""
        self.virtual_size = Size(event.size.width, len(self._shown) + 1)
        self._scroll_to_cursor()

    def action_cursor_up(self) -> None:
        """Move up a row."""
        self.cursor_row = max(self.cursor_row - 1, 0)

    def action_cursor_down(self) -> None:
        """Move down a row."""
        self.cursor_row = min(self.cursor_row + 1, max(len(self._shown) - 1, 0))

    def action_page_up(self) -> None:
        """Move up a screenful."""
        self.cursor_row = max(self.cursor_row - max(self.size.height - 2, 1), 0)

    def action_page_down(self) -> None:
        """Move down a screenful."""
        page = max(self.size.height - 2, 1)
        self.cursor_row = min(self.cursor_row + page, max(len(self._shown) - 1, 0))

    def action_first(self) -> None:
        """Move to the first row."""
        self.cursor_row = 0

    def action_last(self) -> None:
        """Move to the last row."""
        self.cursor_row = max(len(self._shown) - 1, 0)

    def action_select(self) -> None:
        """Choose the highlighted row."""
        key = self.highlighted_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        """Move the cursor to the clicked row; a double click chooses it."""
        index = round(self.scroll_offset.y) + event.y - 1
        if event.y == 0 or not 0 <= index < len(self._shown):
            return
        self.cursor_row = index
        if event.chain == 2:
            self.action_select()

    def render_line(self, y: int) -> Strip:
        """Draw the header on the first line and a row on each of the others."""
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("resource-table--header")
            cells = tuple(column.title.upper() for column in self.columns)
            return self._strip(cells, style, width)
        index = round(self.scroll_offset.y) + y - 1
        if not self._shown:
            if y == 1:
                style = self.get_component_rich_style("resource-table--empty")
                text = self.empty_text
                if self._rows and self._filter:
                    text = f"Nothing matches the filter {self._filter}."
                return Strip([Segment(set_cell_size(f" {text}", width), style)])
            return Strip.blank(width, self.rich_style)
        if index >= len(self._shown):
            return Strip.blank(width, self.rich_style)
        row = self._current_row(index)
        style = self.rich_style
        if row.tone:
            style += self.get_component_rich_style(f"resource-table--{row.tone}")
        if index == self.cursor_row:
            style += self.get_component_rich_style("resource-table--cursor")
        return self._strip(row.cells, style, width)

    def _current_row(self, index: int) -> Row:
        row = self._shown[index]
        if self._fresh is None or self._refresh_row is None or row.key in self._fresh:
            return row
        self._fresh.add(row.key)
        fresh = self._refresh_row(row)
        # Without a filter, the shown rows are the rows: one store does both.
        self._shown[index] = fresh
        position = self._positions.get(row.key)
        if position is not None:
            self._rows[position] = fresh
            self._search[position] = "\t".join(fresh.cells)
        self._widen_for(fresh)
        return fresh

    def _widen_for(self, row: Row) -> None:
        # Columns only grow here, so that no text is cut; `set_rows` narrows.
        widened = False
        for index, (column, cell) in enumerate(
            zip(self.columns, row.cells, strict=True)
        ):
            width = min(len(cell), column.max_width)
            if width > self._widths[index]:
                self._widths[index] = width
                widened = True
        if widened:
            self.refresh()

    def _strip(self, cells: tuple[str, ...], style: Style, width: int) -> Strip:
        widths = self._layout(width)
        parts = [" "]
        for column, cell, size in zip(self.columns, cells, widths, strict=True):
            if size <= 0:
                continue
            text = cell if cell_len(cell) <= size else cell[: max(size - 1, 0)] + "…"
            pad = " " * (size - cell_len(text))
            parts.append(pad + text if column.align == "right" else text + pad)
            parts.append(" " * GAP)
        line = set_cell_size("".join(parts), width)
        return Strip([Segment(line, style)], width)

    def _layout(self, width: int) -> list[int]:
        widths = list(self._widths)
        used = 1 + sum(widths) + GAP * len(widths)
        for index, column in enumerate(self.columns):
            if column.flexible:
                widths[index] = max(widths[index] + width - used, len(column.title))
        return widths
