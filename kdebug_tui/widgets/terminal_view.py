"""A terminal in a widget: shows a remote program's screen and sends it every key.

The view owns a :class:`~kdebug_tui.terminal.Terminal` and nothing else: it does
no I/O. Its owner feeds it the remote's output with ``await view.feed(data)``
and forwards what the view posts: :class:`TerminalView.InputGenerated` (keys,
pastes, mouse reports and answers to the remote's queries),
:class:`TerminalView.Resized`, :class:`TerminalView.TitleChanged`,
:class:`TerminalView.BellRang` and :class:`TerminalView.LeaderPressed`.

Output never blocks the UI. ``feed`` only queues bytes in a bounded backlog and
waits while it is full, which pushes back on the remote; a worker parses the
backlog in slices, yielding to the event loop between them, and repaints only
the rows that changed, at most ``FRAME_RATE`` times a second. A view whose
screen is not shown (a tab in the background) parses one slice a frame, about
1 MB/s: a flood there fills its backlog and is slowed by flow control, and
leaves most of the CPU to the tab the user types in. Nothing is dropped; once
shown, the view catches up at full speed.

Deliberate limits, and what they mean for the user: the cursor is always drawn
as a block (underlined when the view has no focus), whatever shape the remote
asks for; Textual does not tell keypad keys from the others, so the keypad
sends what the main keys send even in keypad application mode; mouse reports
beyond column or row 223 are dropped unless the remote asks for SGR reports
(?1006), as every current program does; the remote cannot set the clipboard
(OSC 52) and colour queries (OSC 10/11) go unanswered; lines are cut, not
reflowed, when the view gets narrower; a character whose width Rich and wcwidth
disagree on (some emoji) can shift the rest of its row by a column.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from typing import ClassVar

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from kdebug_tui.terminal import (
    WIDE_TAIL,
    CellStyle,
    Line,
    Terminal,
    TerminalStream,
    emulator,
)
from kdebug_tui.terminal import modes as terminal_modes
from kdebug_tui.terminal.keys import MouseAction
from kdebug_tui.terminal.modes import REVERSE_VIDEO
from kdebug_tui.terminal.styles import (
    BLINK,
    BOLD,
    CONCEAL,
    DEFAULT_COLOR,
    DIM,
    ITALIC,
    REVERSE,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
)

DEFAULT_LEADER_KEY = "ctrl+right_square_bracket"
FRAME_RATE = 60
"""Most repaints per second."""

PARSE_SLICE = 16 * 1024
"""Bytes parsed between two yields to the event loop (about a millisecond)."""

SYNCHRONIZED_OUTPUT_LIMIT = 0.25
"""Seconds a repaint may be held for synchronized output (?2026) at most."""

OUTPUT_LOST = (
    "Some output could not be shown: the terminal could not parse it and "
    "started afresh. Press Ctrl-L in the shell to redraw."
)

_STYLE_RUNS = re.compile(r"(.)\1*", re.DOTALL)
_STRIP_CACHE_SIZE = 1024
_WHEEL_LINES = 3


class TerminalView(Widget, can_focus=True):
    """Shows a terminal screen and turns keys, pastes and the mouse into input.

    While it has focus every key goes to the remote, Ctrl-C, Ctrl-Z, Tab and
    Escape included, except the leader key, which it neither sends nor stops:
    it posts :class:`LeaderPressed` so the container can run its own commands.
    Shift+PageUp and Shift+PageDown page through the scrollback. Dragging the
    mouse selects text and copies it to the clipboard (OSC 52 through the outer
    terminal); with Shift held it does so even while the remote reads the mouse.

    Args:
        leader_key: Textual name of the key reserved for the container.
        scrollback: Lines kept after they scroll off the top.
        backlog_limit: Bytes of unparsed output held before ``feed`` waits.
        name: The widget's name.
        id: The widget's id.
        classes: CSS classes.
        disabled: Whether the widget starts disabled.
    """

    DEFAULT_CSS = """
    TerminalView {
        width: 1fr;
        height: 1fr;
        background: $background;
        color: $foreground;
        padding: 0;
        border: none;
    }
    TerminalView > .terminal-view--selection {
        background: $primary 60%;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "terminal-view--selection",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "shift+pageup",
            "scroll_history(-1)",
            "Scroll back",
            show=False,
            priority=True,
            id="terminal_view.scroll_back",
        ),
        Binding(
            "shift+pagedown",
            "scroll_history(1)",
            "Scroll forward",
            show=False,
            priority=True,
            id="terminal_view.scroll_forward",
        ),
    ]

    ALLOW_SELECT = False

    class InputGenerated(Message):
        """The remote must receive ``data``: a key, a paste, a mouse report or a reply.

        Attributes:
            terminal_view: The view that produced it.
            data: Bytes for the remote's standard input, in order.
        """

        def __init__(self, terminal_view: TerminalView, data: bytes) -> None:
            super().__init__()
            self.terminal_view = terminal_view
            self.data = data

        @property
        def control(self) -> TerminalView:
            """The view that produced the input."""
            return self.terminal_view

    class Resized(Message):
        """The view's size in cells changed; the remote's tty should follow.

        Attributes:
            terminal_view: The view that changed.
            width: Columns.
            height: Lines.
        """

        def __init__(
            self, terminal_view: TerminalView, *, width: int, height: int
        ) -> None:
            super().__init__()
            self.terminal_view = terminal_view
            self.width = width
            self.height = height

        @property
        def control(self) -> TerminalView:
            """The view that changed size."""
            return self.terminal_view

    class TitleChanged(Message):
        """The remote set its window title (OSC 0 or 2), for a tab label.

        Attributes:
            terminal_view: The view whose title changed.
            title: The new title, possibly empty.
        """

        def __init__(self, terminal_view: TerminalView, title: str) -> None:
            super().__init__()
            self.terminal_view = terminal_view
            self.title = title

        @property
        def control(self) -> TerminalView:
            """The view whose title changed."""
            return self.terminal_view

    class BellRang(Message):
        """The remote rang the bell.

        Attributes:
            terminal_view: The view that rang.
        """

        def __init__(self, terminal_view: TerminalView) -> None:
            super().__init__()
            self.terminal_view = terminal_view

        @property
        def control(self) -> TerminalView:
            """The view that rang."""
            return self.terminal_view

    class LeaderPressed(Message):
        """The user pressed the leader key; it was not sent to the remote.

        Attributes:
            terminal_view: The view that had focus.
        """

        def __init__(self, terminal_view: TerminalView) -> None:
            super().__init__()
            self.terminal_view = terminal_view

        @property
        def control(self) -> TerminalView:
            """The view that had focus."""
            return self.terminal_view

    def __init__(
        self,
        *,
        leader_key: str = DEFAULT_LEADER_KEY,
        scrollback: int = 5000,
        backlog_limit: int = 1 << 20,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.leader_key = leader_key
        self.terminal = Terminal(80, 24, scrollback=scrollback)
        self._backlog: deque[bytes] = deque()
        self._backlog_size = 0
        self._backlog_limit = backlog_limit
        self._backlog_has_room = asyncio.Event()
        self._backlog_has_room.set()
        self._backlog_has_data = asyncio.Event()
        self._parsed = asyncio.Event()
        self._parsed.set()
        self._repaint_timer: Timer | None = None
        self._last_repaint = 0.0
        self._held_since: float | None = None
        self._history_offset = 0
        self._seen_scrolled = 0
        self._painted_cursor: tuple[int, int] | None = None
        self._selection: tuple[tuple[int, int], tuple[int, int]] | None = None
        self._selecting = False
        self._mouse_buttons: set[int] = set()
        self._strips: dict[tuple[object, ...], Strip] = {}
        self._rich_styles: dict[tuple[str, bool, bool], Style] = {}
        self._style_generation = (-1, False)
        self._announced_size = False
        self._closed = False

    # Output from the remote.

    @property
    def terminal_title(self) -> str:
        """The title the remote set last (OSC 0 or 2), or an empty string."""
        return self.terminal.title

    @property
    def size_in_cells(self) -> tuple[int, int]:
        """The terminal's size as (columns, lines)."""
        screen = self.terminal.screen
        return screen.columns, screen.lines

    async def feed(self, data: bytes) -> None:
        """Queue output from the remote, waiting while the backlog is full.

        Call it from the task that reads the remote: when output comes faster
        than it can be shown, the wait stops that task reading and lets the
        transport push back on the remote instead of memory growing. Once the
        view is removed, output is dropped and ``feed`` returns at once.

        Args:
            data: Any slice of the remote's output.
        """
        while self._backlog_size >= self._backlog_limit and not self._closed:
            self._backlog_has_room.clear()
            await self._backlog_has_room.wait()
        if self._closed:
            return
        self._backlog.append(data)
        self._backlog_size += len(data)
        self._parsed.clear()
        self._backlog_has_data.set()

    @property
    def backlog_size(self) -> int:
        """Bytes fed but not parsed yet; ``feed`` waits while it is at the limit."""
        return self._backlog_size

    async def drain(self) -> None:
        """Wait until every byte fed so far has been parsed onto the screen."""
        await self._parsed.wait()

    def reset(self) -> None:
        """Clear the screen, modes and scrollback, as for a new session."""
        scrollback = self.terminal.screen.history.maxlen or 0
        columns, lines = self.size_in_cells
        self.terminal = Terminal(columns, lines, scrollback=scrollback)
        self._history_offset = self._seen_scrolled = 0
        self._selection = None
        self._strips.clear()
        self.refresh()

    def _take_slice(self) -> bytes:
        """Remove up to ``PARSE_SLICE`` bytes from the front of the backlog."""
        backlog = self._backlog
        if len(backlog[0]) > PARSE_SLICE:
            head = backlog[0]
            backlog[0] = head[PARSE_SLICE:]
            data = head[:PARSE_SLICE]
        else:
            parts = [backlog.popleft()]
            size = len(parts[0])
            while backlog and size + len(backlog[0]) <= PARSE_SLICE:
                size += len(backlog[0])
                parts.append(backlog.popleft())
            data = b"".join(parts)
        self._backlog_size -= len(data)
        return data

    @work(exclusive=True, group="terminal-view-parser", exit_on_error=False)
    async def _parse_backlog(self) -> None:
        """Parse the backlog slice by slice for as long as the view lives."""
        while True:
            await self._backlog_has_data.wait()
            if not self._backlog:
                self._backlog_has_data.clear()
                self._parsed.set()
                continue
            self._parse(self._take_slice())
            if self._backlog_size < self._backlog_limit:
                self._backlog_has_room.set()
            self._schedule_repaint()
            # A hidden view waits a frame, so output the user cannot see costs
            # a bounded share of the CPU; shown again, it goes on within a frame.
            await asyncio.sleep(0 if self.is_shown else 1 / FRAME_RATE)

    @property
    def is_shown(self) -> bool:
        """Whether the view's screen is on the display (current, or under a modal)."""
        return self.is_attached and self.screen.is_current

    def _parse(self, data: bytes) -> None:
        try:
            terminal_events = self.terminal.feed(data)
        except Exception:
            # A parser bug must not freeze the tab: the parser starts afresh on
            # the same screen and the user is told that some output is missing.
            self.log.error("The terminal parser failed; it was reset.")
            self.terminal.stream = TerminalStream(self.terminal.screen)
            self.notify(OUTPUT_LOST, title="Terminal", severity="error")
            return
        self._handle_events(terminal_events)

    def _handle_events(self, terminal_events: list[emulator.TerminalEvent]) -> None:
        for event in terminal_events:
            if isinstance(event, emulator.ReplyReady):
                self.post_message(self.InputGenerated(self, event.data))
            elif isinstance(event, emulator.TitleChanged):
                self.post_message(self.TitleChanged(self, event.title))
            elif isinstance(event, emulator.BellRang):
                self.post_message(self.BellRang(self))

    # Repainting.

    def _schedule_repaint(self) -> None:
        if self._repaint_timer is not None or not self.is_mounted:
            return
        # Textual timers divide by their delay, so it must not be zero.
        delay = max(0.001, self._last_repaint + 1 / FRAME_RATE - time.monotonic())
        self._repaint_timer = self.set_timer(delay, self._repaint)

    def _repaint(self) -> None:
        """Refresh the rows that changed since the last repaint."""
        self._repaint_timer = None
        if self._holds_for_synchronized_output():
            self._repaint_timer = self.set_timer(1 / FRAME_RATE, self._repaint)
            return
        self._last_repaint = time.monotonic()
        screen = self.terminal.screen
        newly_scrolled = screen.scrolled - self._seen_scrolled
        self._seen_scrolled = screen.scrolled
        if self._history_offset and newly_scrolled:
            self._history_offset = min(
                self._history_offset + newly_scrolled, len(screen.history)
            )
        rows = set(screen.dirty)
        screen.dirty.clear()
        cursor = self._cursor_cell()
        if cursor != self._painted_cursor:
            rows.update(c[1] for c in (cursor, self._painted_cursor) if c)
            self._painted_cursor = cursor
        self._refresh_rows(rows)

    def _holds_for_synchronized_output(self) -> bool:
        if not self.terminal.has_mode(terminal_modes.SYNCHRONIZED_OUTPUT):
            self._held_since = None
            return False
        now = time.monotonic()
        if self._held_since is None:
            self._held_since = now
        return now - self._held_since < SYNCHRONIZED_OUTPUT_LIMIT

    def _refresh_rows(self, rows: set[int]) -> None:
        if not rows:
            return
        height = self.size.height
        if self._history_offset or len(rows) * 2 > height:
            self.refresh()
            return
        width = self.size.width
        for y in rows:
            if y < height:
                self.refresh(Region(0, y, width, 1))

    def _cursor_cell(self) -> tuple[int, int] | None:
        """Where the cursor is drawn, or ``None`` when hidden or scrolled away."""
        screen = self.terminal.screen
        if self._history_offset or not screen.has_mode(terminal_modes.CURSOR_VISIBLE):
            return None
        return min(screen.cursor.x, screen.columns - 1), screen.cursor.y

    # Rendering.

    def _line_at(self, y: int) -> tuple[int, Line | None]:
        """The line shown on view row ``y`` and its stable line number."""
        screen = self.terminal.screen
        history = screen.history
        # ED 3 can empty the scrollback while the view is scrolled back.
        index = len(history) - min(self._history_offset, len(history)) + y
        number = screen.scrolled - len(history) + index
        if index < len(history):
            return number, history[index]
        row = index - len(history)
        return number, screen.rows[row] if row < len(screen.rows) else None

    def render_line(self, y: int) -> Strip:
        """Draw one row from the screen or the scrollback."""
        self._check_style_generation()
        width = self.size.width
        number, line = self._line_at(y)
        if line is None:
            return Strip.blank(width, self.rich_style)
        cursor = self._cursor_cell()
        cursor_x = cursor[0] if cursor and cursor[1] == y else -1
        selected = self._selected_span(number, line.width)
        marks = tuple(sorted(line.marks.items())) if line.marks else None
        key = (line.text, line.styles, marks, cursor_x, selected, width, self.has_focus)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > _STRIP_CACHE_SIZE:
                self._strips.clear()
            strip = self._strips[key] = self._build_strip(line, cursor_x, selected)
        return strip

    def _build_strip(
        self, line: Line, cursor_x: int, selected: tuple[int, int] | None
    ) -> Strip:
        width = self.size.width
        cuts = {0, line.width}
        if cursor_x >= 0:
            cuts.update(
                (cursor_x, cursor_x + (2 if _is_wide_at(line, cursor_x) else 1))
            )
        if selected:
            cuts.update(selected)
        segments = []
        for start, end, code in _runs(line.styles, sorted(cuts)):
            in_selection = bool(selected and selected[0] <= start < selected[1])
            style = self._style_for(code, start == cursor_x, in_selection)
            segments.append(Segment(_cells_text(line, start, end), style))
        strip = Strip(segments)
        return strip.adjust_cell_length(width, self.rich_style)

    def _check_style_generation(self) -> None:
        """Forget cached styles once the style numbering or reverse video changed."""
        screen = self.terminal.screen
        generation = (screen.styles.generation, screen.has_mode(REVERSE_VIDEO))
        if generation != self._style_generation:
            self._style_generation = generation
            self._forget_styles()

    def _forget_styles(self) -> None:
        self._rich_styles.clear()
        self._strips.clear()

    def notify_style_update(self) -> None:
        """Forget cached styles when the CSS (or the theme) changed."""
        super().notify_style_update()
        self._forget_styles()

    def _style_for(self, code: str, cursor: bool, selected: bool) -> Style:
        key = (code, cursor, selected)
        style = self._rich_styles.get(key)
        if style is None:
            cell = self.terminal.screen.styles.style(code)
            style = self._rich_styles[key] = self._rich_style(cell, cursor, selected)
        return style

    def _rich_style(self, cell: CellStyle, cursor: bool, selected: bool) -> Style:
        base = self.rich_style
        fg = _rich_color(cell.fg) or base.color
        bg = _rich_color(cell.bg) or base.bgcolor
        reverse = bool(cell.flags & REVERSE)
        if self.terminal.has_mode(REVERSE_VIDEO):
            reverse = not reverse
        if reverse:
            fg, bg = bg, fg
        if cell.flags & CONCEAL:
            fg = bg
        if cursor and self.has_focus:
            fg, bg = bg, fg
        if selected:
            bg = self.get_component_rich_style("terminal-view--selection").bgcolor
        flags = cell.flags
        return Style(
            color=fg,
            bgcolor=bg,
            bold=bool(flags & BOLD),
            dim=bool(flags & DIM),
            italic=bool(flags & ITALIC),
            underline=bool(flags & UNDERLINE) or (cursor and not self.has_focus),
            blink=bool(flags & BLINK),
            strike=bool(flags & STRIKE),
        )

    # Size.

    def on_mount(self) -> None:
        """Start parsing."""
        self._parse_backlog()

    def on_unmount(self) -> None:
        """Drop the backlog and release any writer waiting for room."""
        self._closed = True
        self._backlog.clear()
        self._backlog_size = 0
        self._backlog_has_room.set()
        self._parsed.set()

    def on_resize(self, event: events.Resize) -> None:
        """Give the terminal the view's size in cells and tell the owner."""
        columns, lines = max(1, self.size.width), max(1, self.size.height)
        if (columns, lines) != self.size_in_cells or not self._announced_size:
            self.terminal.resize(columns, lines)
            self._announced_size = True
            self.post_message(self.Resized(self, width=columns, height=lines))
        self.refresh()

    # Keys, paste and focus.

    def check_consume_key(self, key: str, character: str | None) -> bool:
        """Claim every key but the leader and the scrollback keys."""
        return key != self.leader_key and key not in ("shift+pageup", "shift+pagedown")

    async def on_key(self, event: events.Key) -> None:
        """Send the key to the remote, or post LeaderPressed for the leader key."""
        if event.key == self.leader_key:
            self.post_message(self.LeaderPressed(self))
            return
        event.stop()
        event.prevent_default()
        data = self.terminal.encode_key(event.key, event.character)
        if data:
            self._return_to_live()
            self.send(data)

    def on_paste(self, event: events.Paste) -> None:
        """Send pasted text, bracketed if the remote asked for it."""
        event.stop()
        self._return_to_live()
        self.send(self.terminal.encode_paste(event.text))

    def on_focus(self) -> None:
        """Report focus if asked and redraw the cursor as focused."""
        self._report_focus(True)

    def on_blur(self) -> None:
        """Report focus loss if asked and redraw the cursor as unfocused."""
        self._report_focus(False)

    def _report_focus(self, focused: bool) -> None:
        report = self.terminal.encode_focus(focused)
        if report:
            self.send(report)
        self._painted_cursor = None
        self._schedule_repaint()

    def send(self, data: bytes) -> None:
        """Post input for the remote, as if typed."""
        self.post_message(self.InputGenerated(self, data))

    def send_key(self, key: str, character: str | None = None) -> None:
        """Send a key by its Textual name, such as the leader key itself."""
        data = self.terminal.encode_key(key, character)
        if data:
            self.send(data)

    # Scrollback.

    def action_scroll_history(self, pages: int) -> None:
        """Page through the scrollback: negative back, positive forward."""
        self.scroll_history(pages * max(1, self.size.height - 1))

    def scroll_history(self, lines: int) -> None:
        """Move the view ``lines`` through the scrollback (negative is older)."""
        limit = len(self.terminal.screen.history)
        offset = min(max(self._history_offset - lines, 0), limit)
        if offset != self._history_offset:
            self._history_offset = offset
            self._painted_cursor = None
            self.refresh()

    @property
    def history_offset(self) -> int:
        """Lines the view is scrolled back; 0 shows the live screen."""
        return self._history_offset

    def _return_to_live(self) -> None:
        if self._history_offset:
            self._history_offset = 0
            self.refresh()
        if self._selection is not None:
            self._selection = None
            self.refresh()

    # Mouse: reports to the remote, or selection.

    def _cell_at(self, event: events.MouseEvent) -> tuple[int, int]:
        offset = event.get_content_offset_capture(self)
        columns, lines = self.size_in_cells
        return min(max(offset.x, 0), columns - 1), min(max(offset.y, 0), lines - 1)

    def _reports_mouse(self, event: events.MouseEvent) -> bool:
        return self.terminal.mouse_tracking and not event.shift

    def _report_mouse(
        self, action: MouseAction, button: int, event: events.MouseEvent
    ) -> None:
        x, y = self._cell_at(event)
        held = {"shift"} if event.shift else set()
        held |= {"alt"} if event.meta else set()
        held |= {"ctrl"} if event.ctrl else set()
        report = self.terminal.encode_mouse(
            action, (x, y), button=max(button - 1, 0), modifiers=frozenset(held)
        )
        if report:
            self.send(report)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """Report the press to the remote, or start a selection."""
        event.stop()
        self.focus()
        self.capture_mouse()
        self._mouse_buttons.add(event.button)
        if self._reports_mouse(event):
            self._report_mouse("press", event.button, event)
            return
        x, y = self._cell_at(event)
        number, _line = self._line_at(y)
        self._selection = ((number, x), (number, x))
        self._selecting = True
        self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Report motion when the remote wants it, or extend the selection."""
        if self._selecting and self._selection is not None:
            x, y = self._cell_at(event)
            number, _line = self._line_at(y)
            self._selection = (self._selection[0], (number, x))
            self.refresh()
        elif self._reports_mouse(event):
            held = bool(self._mouse_buttons)
            if self.terminal.reports_motion(button_held=held):
                button = min(self._mouse_buttons) if held else 4
                self._report_mouse("motion", button, event)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        """Report the release, or finish the selection and copy it."""
        event.stop()
        self.release_mouse()
        self._mouse_buttons.discard(event.button)
        if self._selecting:
            self._selecting = False
            text = self.selected_text
            if text:
                self.app.copy_to_clipboard(text)
            else:
                self._selection = None
                self.refresh()
        elif self._reports_mouse(event):
            self._report_mouse("release", event.button, event)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up: report it, press Up on the alternate screen, or scroll back."""
        event.stop()
        self._wheel("wheel_up", "up", -_WHEEL_LINES, event)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down: the counterpart of :meth:`on_mouse_scroll_up`."""
        event.stop()
        self._wheel("wheel_down", "down", _WHEEL_LINES, event)

    def _wheel(
        self, action: MouseAction, key: str, lines: int, event: events.MouseEvent
    ) -> None:
        if self._reports_mouse(event):
            self._report_mouse(action, 0, event)
        elif self.terminal.screen.alternate:
            for _ in range(abs(lines)):
                self.send_key(key)
        else:
            self.scroll_history(lines)

    @property
    def selected_text(self) -> str:
        """The selected text, lines joined by newlines except where they wrapped."""
        if self._selection is None:
            return ""
        (first, first_x), (last, last_x) = sorted(self._selection)
        pieces: list[str] = []
        for number in range(first, last + 1):
            line = self._line_by_number(number)
            if line is None:
                continue
            start = first_x if number == first else 0
            end = last_x + 1 if number == last else line.width
            text = "".join(line.cell(x) for x in range(start, min(end, line.width)))
            joined = line.wrapped and number != last
            pieces.append(text if joined else text.rstrip() + "\n")
        return "".join(pieces).rstrip("\n")

    def _line_by_number(self, number: int) -> Line | None:
        screen = self.terminal.screen
        first_kept = screen.scrolled - len(screen.history)
        index = number - first_kept
        if 0 <= index < len(screen.history):
            return screen.history[index]
        row = number - screen.scrolled
        return screen.rows[row] if 0 <= row < len(screen.rows) else None

    def _selected_span(self, number: int, width: int) -> tuple[int, int] | None:
        if self._selection is None:
            return None
        (first, first_x), (last, last_x) = sorted(self._selection)
        if not first <= number <= last:
            return None
        start = first_x if number == first else 0
        end = last_x + 1 if number == last else width
        return (start, min(end, width)) if start < end else None


def _rich_color(color: int) -> Color | None:
    if color == DEFAULT_COLOR:
        return None
    if color & TRUECOLOR:
        return Color.from_rgb(color >> 16 & 0xFF, color >> 8 & 0xFF, color & 0xFF)
    return Color.from_ansi(color)


def _is_wide_at(line: Line, x: int) -> bool:
    return x + 1 < line.width and line.text[x + 1] == WIDE_TAIL


def _runs(styles: str, cuts: list[int]) -> list[tuple[int, int, str]]:
    """Runs of equal style code, also split at each of ``cuts``."""
    runs = []
    for match in _STYLE_RUNS.finditer(styles):
        start, end = match.span()
        code = match.group(1)
        for cut in cuts:
            if start < cut < end:
                runs.append((start, cut, code))
                start = cut
        runs.append((start, end, code))
    return runs


def _cells_text(line: Line, start: int, end: int) -> str:
    """The text of cells ``start:end``, without wide tails, with combining marks."""
    if line.marks and any(start <= x < end for x in line.marks):
        return "".join(line.cell(x) for x in range(start, end))
    return line.text[start:end].replace(WIDE_TAIL, "")
