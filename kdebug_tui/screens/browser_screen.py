"""What every browser view shares: the frame, the k9s keys, and live data.

A view is a screen with the tab bar on top, a line saying where the user is,
its tables, the `/` and `:` prompt, and the key hints. Its data comes from
watches, each followed by a worker of the view (and so stopped with it); the
view folds events into a `Store` at once but redraws its tables at most a few
times a second, so a busy namespace costs one redraw per tick, not one per pod.
"""

import asyncio
import gc
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.keys import key_to_character
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from kdebug_tui.backend.browse import (
    Browser,
    Interrupted,
    Listed,
    Store,
    Watch,
    follow,
)
from kdebug_tui.backend.resources import PodInfo
from kdebug_tui.backend.session import LaunchOptions
from kdebug_tui.commands import COMMANDS, CommandError, parse_command
from kdebug_tui.messages import ForwardsWorkerFailures, describe_failure
from kdebug_tui.screens.help import HelpSection
from kdebug_tui.screens.launch import LaunchRequest, LaunchScreen
from kdebug_tui.screens.leader import LEADER_COMMANDS
from kdebug_tui.tabs import DebugTarget
from kdebug_tui.widgets.prompt_bar import PromptBar
from kdebug_tui.widgets.resource_table import ResourceTable
from kdebug_tui.widgets.tab_bar import TabBar

if TYPE_CHECKING:
    from kdebug_tui.app import KdebugApp

REDRAW_SECONDS = 0.2
"""Longest delay between a watch event and the redraw showing it."""
AGES_SECONDS = 5.0
"""How often ages are redrawn when nothing else changed."""
FREEZE_AFTER = 1000
"""Objects listed at once from which the collector stops scanning them again.

Ten thousand pods are a few hundred thousand objects that live as long as the
view: every full collection walked them all again (70 to 220 ms, every few
seconds while filtering). Frozen, they are still freed by their reference
counts when a later list replaces them; only garbage in reference cycles that
exists at the moment of freezing stays, and the records have no cycles.
"""
COLLECTOR_THRESHOLDS = (7000, 20, 20)
"""`gc` thresholds once a big listing is frozen (Python's are 700, 10, 10).

The frozen objects no longer count towards the long-lived ones, so with the
default thresholds a full collection came every few keys typed into the
filter, each 20 to 40 ms; these let the young generations absorb what drawing
makes, and no full collection ran in a hundred keys.
"""


class BrowserScreen(ForwardsWorkerFailures, Screen[None], inherit_bindings=False):
    """The frame of a browser view; subclasses compose the body and fill tables."""

    CSS_PATH = "browser.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # Priority, so the prompt has focus before the keys typed after these
        # are handed out (see `skip_while_typing`).
        Binding("slash", "filter", "Filter", priority=True),
        Binding("colon", "command", "Command", priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("right_square_bracket", "next_tab", "Next tab", show=False),
        Binding("left_square_bracket", "previous_tab", "Previous tab", show=False),
        Binding("ctrl+c,ctrl+q", "app.request_quit", "Quit", show=False),
    ]

    def __init__(self, *, context: str) -> None:
        super().__init__()
        self.context = context
        # Views draw from their stores before the watches have filled them.
        self.stores: defaultdict[str, Store[Any]] = defaultdict(Store)
        self._dirty = True
        self._freeze_pending = False
        self._started = False
        self._filtered: ResourceTable | None = None

    @property
    def kdebug(self) -> "KdebugApp":
        """The app, with its own API."""
        return cast("KdebugApp", self.app)

    @property
    def namespace(self) -> str:
        """The namespace the view is about; empty for none or all."""
        return ""

    @property
    def prompt(self) -> PromptBar:
        """The `/` and `:` prompt."""
        return self.query_one(PromptBar)

    def compose(self) -> ComposeResult:
        """Tab bar, where we are, the body, the prompt and the key hints."""
        yield TabBar(self.kdebug, id="tabs")
        yield Static(id="crumbs")
        yield from self.compose_body()
        yield PromptBar(id="prompt")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        """The view's own widgets."""
        raise NotImplementedError

    def on_mount(self) -> None:
        """Bind the leader key and start redrawing."""
        # A priority binding acts when the app reads the key, so the pop-up is
        # on top before the key typed after the leader is handed out.
        self._bindings.bind(
            self.kdebug.settings.leader_key,
            "leader",
            "Tab commands",
            show=False,
            priority=True,
        )
        self.set_interval(REDRAW_SECONDS, self._redraw_if_dirty)
        self.set_interval(AGES_SECONDS, self.refresh_ages)
        self.redraw()

    def on_screen_resume(self) -> None:
        """Start the view's watches the first time it is shown.

        The views below the one the app opens on (the namespaces under the
        pods) start only when the user goes back to them: nothing is read, and
        nothing fails, for a view nobody looked at.
        """
        if not self._started and self.is_current:
            self._started = True
            self.start()

    def start(self) -> None:
        """Start the view's watches (see `follow`)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Say in the table why it stays empty when a watch failed for good."""
        error = event.worker.error
        if event.state is WorkerState.ERROR and event.worker.group == "watch":
            described = describe_failure(error) if error is not None else None
            table = self.filter_table
            if described is not None and table is not None:
                message, hint = described
                table.empty_text = f"{message} {hint}".strip()
                table.refresh()

    # Data

    def follow(self, tag: str, make: Callable[[Browser], Watch[Any]]) -> None:
        """Run a watch made from the context's browser; its events go to `tag`."""
        self._run_watch(tag, make)

    @work(thread=False, group="watch", exit_on_error=False)
    async def _run_watch(self, tag: str, make: Callable[[Browser], Watch[Any]]) -> None:
        connection = await asyncio.to_thread(self.kdebug.connections.get, self.context)
        store = self.stores[tag]
        # Cancelling this worker (the screen went away) stops the watch.
        async for event in follow(make(connection.browser)):
            was_interrupted = store.interruption is not None
            store.apply(event)
            self._dirty = True
            if isinstance(event, Listed) and len(event.items) >= FREEZE_AFTER:
                self._freeze_pending = True
            if isinstance(event, Interrupted):
                self._say_interrupted(event, listed=store.listed)
            elif isinstance(event, Listed) and was_interrupted:
                self.kdebug.watch_resumed(self.context)

    def _say_interrupted(self, event: Interrupted, *, listed: bool) -> None:
        table = self.filter_table
        if not listed and table is not None:
            # Nothing to show yet: the table says why, the log has the details.
            table.empty_text = f"{event.reason} Retrying in {event.retry_in:.0f} s."
            table.refresh()
        self.kdebug.watch_interrupted(self.context, event, listed=listed)

    def refresh_ages(self) -> None:
        """Show the ages as of now; views with many rows do less than a redraw."""
        self._dirty = True

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self.redraw()
        if self._freeze_pending:
            # After the redraw, so that the table's rows are frozen as well.
            self._freeze_pending = False
            gc.freeze()
            current = gc.get_threshold()
            gc.set_threshold(*map(max, current, COLLECTOR_THRESHOLDS))

    def redraw(self) -> None:
        """Fill the tables from the stores and update the crumbs."""
        self.update_crumbs()

    def update_crumbs(self) -> None:
        """Say where the user is, what is shown, and any filter or trouble."""
        parts: list[str | tuple[str, str]] = [" "]
        for index, part in enumerate(self.crumbs()):
            if index:
                parts.append((" ▸ ", "dim"))
            parts.append((part, "bold" if index == 0 else ""))
        table = self.filter_table
        if table is not None and table.filter_text:
            parts.append((f"   /{table.filter_text}", "bold $accent"))
        problems = [s.interruption for s in self.stores.values() if s.interruption]
        if problems:
            trouble = "reconnecting…" if problems[0].unreachable else "retrying…"
            parts.append((f"   ⚠ {trouble}", "bold $warning"))
        self.query_one("#crumbs", Static).update(Content.assemble(*parts))

    def crumbs(self) -> list[str]:
        """The path to this view, e.g. context, namespace, `pods (3/12)`."""
        return [self.context]

    @staticmethod
    def counted(what: str, table: ResourceTable) -> str:
        """`pods (12)`, or `pods (3/12)` while a filter hides some."""
        shown, total = len(table.rows), table.total
        return f"{what} ({shown}/{total})" if shown != total else f"{what} ({total})"

    # Filter and commands

    @property
    def filter_table(self) -> ResourceTable | None:
        """The table `/` filters: the focused one, else the first."""
        if isinstance(self.focused, ResourceTable):
            return self.focused
        tables = self.query(ResourceTable)
        return tables.first() if tables else None

    def action_filter(self) -> None:
        """Open the filter prompt; rows are filtered as you type."""
        self.skip_while_typing()
        table = self.filter_table
        if table is not None:
            self._filtered = table
            self.query_one(PromptBar).open("filter", table.filter_text)

    def action_command(self) -> None:
        """Open the command prompt."""
        self.skip_while_typing()
        self.query_one(PromptBar).open(
            "command", suggestions=self.kdebug.command_suggestions(self)
        )

    @on(PromptBar.Changed)
    def _prompt_changed(self, event: PromptBar.Changed) -> None:
        if event.kind == "filter" and self._filtered is not None:
            self._filtered.set_filter(event.value)
            self.update_crumbs()

    @on(PromptBar.Submitted)
    def _prompt_submitted(self, event: PromptBar.Submitted) -> None:
        if event.kind == "filter":
            self._focus_body()
            return
        self._focus_body()
        try:
            command = parse_command(event.value)
        except CommandError as error:
            self.notify(str(error), title="Unknown command", severity="error")
            return
        self.kdebug.run_command(command, self)

    @on(PromptBar.Cancelled)
    def _prompt_cancelled(self, event: PromptBar.Cancelled) -> None:
        if event.kind == "filter" and self._filtered is not None:
            self._filtered.set_filter("")
            self.update_crumbs()
        self._focus_body()

    def _focus_body(self) -> None:
        table = self._filtered or self.filter_table
        if table is not None:
            table.focus()

    def action_back(self) -> None:
        """Clear the filter if there is one, else go back to the previous view."""
        table = self.filter_table
        if table is not None and table.filter_text:
            table.set_filter("")
            self.update_crumbs()
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # Debugging

    def skip_while_typing(self) -> None:
        """Let a letter bound with priority be typed while the prompt has focus.

        `d`, `D`, `/` and `:` are read when the key is read, so that the
        dialog, tab or prompt they open has focus before the next keys are
        handed out; otherwise a fast typist's next keys go to the table behind
        it, and a `d` among them would debug the highlighted pod.

        Raises:
            SkipAction: the prompt has focus; the key goes there instead.
        """
        if isinstance(self.focused, Input):
            raise SkipAction()

    def debug_container(self, pod: PodInfo, container: str, *, ask: bool) -> bool:
        """Open a debug tab on a container, asking how first if `ask`.

        Returns:
            False when the pod has several containers and none was named, so
            the caller can let the user pick one.
        """
        settings = self.kdebug.settings
        name = container or pod.default_container
        if ask:
            self.app.push_screen(
                LaunchScreen(pod, name, settings),
                callback=lambda request: self._launch(pod, request),
            )
            return True
        if not name:
            names = ", ".join(c.name for c in pod.containers)
            self.notify(
                f"Pod {pod.name} has several containers ({names}); pick one, "
                "then press d.",
                title="Which container?",
            )
            return False
        info = pod.container(name)
        if info is not None and not info.debuggable:
            self.notify(
                f"Container {name} of pod {pod.name} is {info.state_text}; "
                "only a running container can be debugged. Enter on the pod "
                "shows its containers and events.",
                title="Not running",
                severity="warning",
            )
            return True
        options = LaunchOptions.from_settings(settings)
        self._launch(pod, LaunchRequest(name, options, settings.agent_namespace))
        return True

    def _launch(self, pod: PodInfo, request: LaunchRequest | None) -> None:
        if request is not None:
            target = DebugTarget(
                self.context, pod.namespace, pod.name, request.container
            )
            self.kdebug.open_tab(target, request.options, request.agent_namespace)

    # Tabs and help

    def action_next_tab(self) -> None:
        """Show the next debug tab."""
        self.kdebug.cycle_tabs(1)

    def action_previous_tab(self) -> None:
        """Show the previous debug tab."""
        self.kdebug.cycle_tabs(-1)

    def action_leader(self) -> None:
        """Offer the tab commands, unless the leader is a letter typed in the prompt.

        Raises:
            SkipAction: the leader key is a printable character and the prompt
                has focus; the character is typed there.
        """
        character = key_to_character(self.kdebug.settings.leader_key)
        if character is not None and character.isprintable():
            self.skip_while_typing()
        self.kdebug.offer_tab_commands(None)

    def on_tab_bar_clicked(self, event: TabBar.Clicked) -> None:
        """Switch to the clicked tab."""
        self.kdebug.show_mode(event.mode)

    def action_help(self) -> None:
        """List every key of this view, the commands and the tab keys."""
        self.app.push_screen(self.kdebug.help_for(self))

    def help_sections(self, *, title: str = "Keys of this view") -> list[HelpSection]:
        """Every binding in force here, the commands and the tab commands."""
        # Keys bound to the same thing share a line: "k up".
        keys_of: dict[str, list[str]] = {}
        for active in self.active_bindings.values():
            binding = active.binding
            what = binding.description or binding.action
            keys_of.setdefault(what, []).append(self.app.get_key_display(binding))
        keys = tuple((" ".join(keys), what) for what, keys in keys_of.items())
        commands = tuple((f":{c.name} {c.argument}".strip(), c.help) for c in COMMANDS)
        leader = self.app.get_key_display(
            Binding(self.kdebug.settings.leader_key, "leader")
        )
        tab_keys = tuple((f"{leader} {key}", what) for key, _, what in LEADER_COMMANDS)
        return [
            HelpSection(title, keys),
            HelpSection("Commands (type : first)", commands),
            HelpSection(f"Tab commands ({leader} first, in a terminal too)", tab_keys),
        ]
