"""The Textual app: the browser and the debug tabs, and the one place errors surface.

The browser is an app mode whose screens stack up as the user drills in
(contexts, namespaces, pods, a pod); each debug tab is a mode of its own, so its
session lives on while the user browses or works in another tab. `create_app`
builds the app for the CLI and for the tests alike.
"""

import asyncio
import contextlib
import datetime
import gc
import logging
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import platformdirs
from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from kdebug_agent.protocol import KdebugError
from kdebug_tui.backend.browse import ClusterBrowser, Interrupted
from kdebug_tui.backend.session import LaunchOptions
from kdebug_tui.backend.settings import Settings
from kdebug_tui.commands import ALL_NAMESPACES, Command, suggestions
from kdebug_tui.connections import (
    BrowserFactory,
    Connections,
    KubeFactory,
    connect_kube,
)
from kdebug_tui.messages import WorkerFailed, describe_failure
from kdebug_tui.screens.browser_screen import BrowserScreen
from kdebug_tui.screens.confirm import ConfirmScreen
from kdebug_tui.screens.contexts import ContextsScreen
from kdebug_tui.screens.debug import DebugScreen
from kdebug_tui.screens.error import ErrorScreen
from kdebug_tui.screens.help import HelpScreen, HelpSection
from kdebug_tui.screens.leader import SEND_LEADER, LeaderScreen
from kdebug_tui.screens.namespaces import NamespacesScreen
from kdebug_tui.screens.pod import PodScreen
from kdebug_tui.screens.pods import PodsScreen
from kdebug_tui.screens.scrollback import ScrollbackScreen
from kdebug_tui.tabs import DebugTab, DebugTarget
from kdebug_tui.widgets.tab_bar import TabLabel

logger = logging.getLogger(__name__)

BROWSER = "browser"
"""The mode of the browser; debug tabs have modes of their own."""
BUG_HINT = "This is a bug in kdebug-tui. The log at {log} has the details."
CONNECTION_LOST = "Lost the connection to the API server; reconnecting…"
CONNECTION_BACK = "Connected to the API server again."
WATCH_FAILED = "{reason} Retrying…"
WATCH_BACK = "The lists are current again."
QUIT_ONE = (
    "{count} debug session will end, and its debug container and agent pod will "
    "be removed."
)
QUIT_MANY = (
    "{count} debug sessions will end, and their debug containers and agent pods "
    "will be removed."
)
LOG_PATH = Path(platformdirs.user_log_dir("kdebug-tui")) / "kdebug-tui.log"


class Clock:
    """The time, as the app reads it; tests freeze it for snapshots."""

    def now(self) -> datetime.datetime:
        """The current time, for ages."""
        return datetime.datetime.now(datetime.UTC)

    def monotonic(self) -> float:
        """A monotonic time in seconds, for durations."""
        return time.monotonic()


YOUNG_COLLECTION_THRESHOLD = 20_000
"""Objects allocated and not yet freed that start a young garbage collection."""


class KdebugApp(App[int]):
    """Browse pods and debug their containers in tabs."""

    CSS_PATH = "app.tcss"
    TITLE = "kdebug-tui"
    ENABLE_COMMAND_PALETTE = False

    # Textual's own ctrl+q is a priority binding, which would take the key from
    # the shell in a terminal; screens bind quitting where it is safe.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "request_quit", "Quit", show=False),
    ]

    def __init__(
        self, settings: Settings, *, connections: Connections, clock: Clock
    ) -> None:
        super().__init__()
        self.settings = settings
        self.connections = connections
        self.clock = clock
        self.tabs: list[DebugTab] = []
        self.tabs_changed: Signal[None] = Signal(self, "tabs-changed")
        self.active_context = ""
        self._debug_screens: dict[str, DebugScreen] = {}
        self._modes_made = 0
        self._quitting = False
        self.shut_down_cleanly = False
        """Whether `shut_down` ran to its end (run_app tidies up otherwise)."""
        self.ended_by_signal: int | None = None
        """The signal that ended the app, if one did."""
        self._troubled: dict[str, bool] = {}
        """Contexts whose watches fail, each with whether it is unreachable."""
        self.add_mode(BROWSER, ContextsScreen)

    DEFAULT_MODE = BROWSER

    def on_mount(self) -> None:
        """Open the start context's pods."""
        self._end_on_signals()
        self._start()

    def _end_on_signals(self) -> None:
        """Quit as on Ctrl-Q, without asking, on SIGTERM and SIGHUP.

        Python's default for both ends the process at once: the terminal would
        stay in the alternate screen with the mouse captured, and the agent
        pods would wait out their idle time.
        """
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            # Only the main thread may own signal handlers; an app run elsewhere
            # keeps Python's defaults.
            with contextlib.suppress(ValueError, RuntimeError):
                loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        logger.info("Received %s; ending every session.", signal.strsignal(signum))
        self.ended_by_signal = signum
        if self._quitting:
            # A second signal while the sessions end: leave now, and let
            # run_app remove the agent pods after the terminal is restored.
            self.exit(return_code=128 + signum)
            return
        self._quit(return_code=128 + signum)

    def _start_point_found(self, context: str, namespace: str) -> None:
        self.show_pods(context, namespace)
        self._collect_garbage(context)

    def on_key(self, event: events.Key) -> None:
        """Give the open prompt the keys typed in the same burst as `/` or `:`."""
        screen = self.screen
        if not (event.is_printable and event.character):
            return
        if isinstance(screen, BrowserScreen) and screen.prompt.take_late_key(
            event.character
        ):
            event.stop()
            event.prevent_default()

    # Navigation

    def show_mode(self, mode: str) -> None:
        """Show the browser or a debug tab."""
        if mode == BROWSER or any(tab.mode == mode for tab in self.tabs):
            self.switch_mode(mode)
            self.tabs_changed.publish(None)

    def _browser_stack(self, *screens: Screen[None]) -> None:
        """Show the browser with the contexts, then `screens`, stacked."""
        self.show_mode(BROWSER)
        while len(self.screen_stack) > 1:
            self.pop_screen()
        for screen in screens:
            self.push_screen(screen)

    def show_contexts(self) -> None:
        """Show the contexts."""
        self._browser_stack()

    def show_namespaces(self, context: str, *, selected: str = "") -> None:
        """Show a context's namespaces."""
        self.active_context = context
        self._browser_stack(NamespacesScreen(context=context, selected=selected))

    def show_pods(self, context: str, namespace: str, *, reset: bool = True) -> None:
        """Show pods of a namespace (all when empty), under its namespaces."""
        self.active_context = context
        pods = PodsScreen(context=context, namespace=namespace)
        if reset:
            namespaces = NamespacesScreen(
                context=context, selected=namespace or ALL_NAMESPACES
            )
            self._browser_stack(namespaces, pods)
        else:
            self.push_screen(pods)

    def show_pod(self, context: str, namespace: str, pod: str) -> None:
        """Show one pod's containers and events, over the current view."""
        self.push_screen(PodScreen(context=context, namespace=namespace, pod=pod))

    # Commands

    def run_command(self, command: Command, screen: BrowserScreen) -> None:
        """Run a `:` command typed on a browser view."""
        context = screen.context or self.active_context
        argument = command.argument
        namespace = "" if argument == ALL_NAMESPACES else argument
        if command.name == "quit":
            self.action_request_quit()
        elif command.name == "help":
            self.push_screen(self.help_for(screen))
        elif command.name == "ctx" and argument:
            self._switch_context(argument)
        elif command.name == "ctx":
            self.show_contexts()
        elif command.name == "ns" and argument:
            self.show_pods(context, namespace)
        elif command.name == "ns":
            self.show_namespaces(context, selected=screen.namespace)
        else:
            self.show_pods(context, namespace if argument else screen.namespace)

    def _switch_context(self, name: str) -> None:
        self.run_worker(
            self._find_context(name),
            thread=False,
            group="commands",
            exit_on_error=False,
        )

    async def _find_context(self, name: str) -> None:
        contexts = await asyncio.to_thread(self.connections.contexts)
        found = next((c for c in contexts if c.name == name), None)
        if found is None:
            known = ", ".join(c.name for c in contexts)
            self.notify(
                f"There is no context {name}; the contexts are {known}.",
                title="Unknown context",
                severity="error",
            )
            return
        self.show_pods(found.name, found.namespace)

    def command_suggestions(self, screen: BrowserScreen) -> list[str]:
        """Command lines to suggest on a view: namespaces and contexts known there."""
        namespaces = sorted(
            screen.stores["namespaces"].items if "namespaces" in screen.stores else []
        )
        for below in self.screen_stack:
            if isinstance(below, NamespacesScreen):
                namespaces = sorted(below.stores["namespaces"].items)
        contexts = [
            s.contexts for s in self.screen_stack if isinstance(s, ContextsScreen)
        ]
        return suggestions(
            namespaces, [c.name for c in contexts[0]] if contexts else []
        )

    def help_for(self, screen: Screen[Any]) -> HelpScreen:
        """The help of a screen: its keys, the commands, the tab keys.

        In a debug tab the terminal's keys come first, then those of the
        browser view the tab was opened over.
        """
        if isinstance(screen, BrowserScreen):
            return HelpScreen(screen.help_sections())
        browser = cast_browser(self.get_screen_stack(BROWSER)[-1])
        leader = self.leader_display
        terminal = HelpSection(
            "In a debug tab",
            (
                ("any key", "goes to the shell: Ctrl-C, Esc and Tab included"),
                (leader, "a tab command (below); twice sends it to the shell"),
                ("shift+pgup pgdn", "scroll back and forward"),
                ("drag", "select and copy (shift+drag if the program reads the mouse)"),
            ),
        )
        keys, commands, tab_commands = browser.help_sections(
            title="Keys of the browser"
        )
        return HelpScreen([terminal, tab_commands, commands, keys])

    # Watches

    def watch_interrupted(
        self, context: str, event: Interrupted, *, listed: bool
    ) -> None:
        """Say once, not for every watch and retry, that a context's watches fail.

        Before anything was listed the view's table says why instead.
        """
        if context in self._troubled:
            return
        self._troubled[context] = event.unreachable
        if not listed:
            return
        if event.unreachable:
            self.notify(CONNECTION_LOST, title="Connection lost", severity="warning")
        else:
            self.notify(
                WATCH_FAILED.format(reason=event.reason),
                title="Watch interrupted",
                severity="warning",
            )

    def watch_resumed(self, context: str) -> None:
        """Say that a context's watches list again after failing."""
        if context not in self._troubled:
            return
        unreachable = self._troubled.pop(context)
        if unreachable:
            self.notify(CONNECTION_BACK, title="Reconnected")
        else:
            self.notify(WATCH_BACK, title="Watch resumed")

    # Debug tabs

    @property
    def leader_display(self) -> str:
        """The leader key as people write it, e.g. `^]`."""
        return self.get_key_display(Binding(self.settings.leader_key, "leader"))

    def open_tab(
        self, target: DebugTarget, options: LaunchOptions, agent_namespace: str
    ) -> DebugTab:
        """Open a debug tab on a container and show it; the session starts there."""
        self._modes_made += 1
        mode = f"tab-{self._modes_made}"
        tab = DebugTab(
            mode=mode,
            number=len(self.tabs) + 1,
            target=target,
            options=options,
            agent_namespace=agent_namespace,
        )
        self.tabs.append(tab)

        def make_screen() -> DebugScreen:
            screen = DebugScreen(tab)
            self._debug_screens[mode] = screen
            return screen

        self.add_mode(mode, make_screen)
        self.show_mode(mode)
        return tab

    def tab_labels(self) -> list[TabLabel]:
        """The browser, then each debug tab."""
        return [TabLabel(BROWSER, "⌂ browser"), *(tab.label() for tab in self.tabs)]

    def tab_changed(self) -> None:
        """Redraw the tab bars after a tab changed state or title."""
        self.tabs_changed.publish(None)

    def cycle_tabs(self, step: int) -> None:
        """Show the next (1) or previous (-1) tab, the browser counting as one."""
        modes = [BROWSER, *(tab.mode for tab in self.tabs)]
        index = modes.index(self.current_mode) if self.current_mode in modes else 0
        self.show_mode(modes[(index + step) % len(modes)])

    def current_tab(self) -> DebugTab | None:
        """The debug tab on screen, if it is one."""
        return next((t for t in self.tabs if t.mode == self.current_mode), None)

    def offer_tab_commands(self, source: DebugScreen | None) -> None:
        """Ask which tab command to run (the leader key was pressed)."""
        if isinstance(self.screen, LeaderScreen):
            return
        self.push_screen(
            LeaderScreen(self.settings.leader_key, self.leader_display),
            callback=lambda command: self.run_tab_command(command, source),
        )

    def run_tab_command(self, command: str | None, source: DebugScreen | None) -> None:
        """Run a command chosen after the leader key."""
        if command is None:
            return
        if command == SEND_LEADER and source is not None:
            source.view.send_key(self.settings.leader_key)
        elif command == "next":
            self.cycle_tabs(1)
        elif command == "previous":
            self.cycle_tabs(-1)
        elif command.startswith("goto "):
            index = int(command.split()[1]) - 1
            if index < len(self.tabs):
                self.show_mode(self.tabs[index].mode)
        elif command == "browser":
            self.show_mode(BROWSER)
        elif command == "scrollback" and source is not None:
            self.push_screen(ScrollbackScreen(source.view))
        elif command == "again":
            tab = self.current_tab()
            if tab is not None:
                self.open_tab(tab.target, tab.options, tab.agent_namespace)
        elif command == "close":
            tab = self.current_tab()
            if tab is not None:
                self.request_close_tab(tab)
        elif command == "help":
            self.push_screen(self.help_for(self.screen))
        elif command == "quit":
            self.action_request_quit()

    def request_close_tab(self, tab: DebugTab) -> None:
        """Close a tab, asking first while its shell runs."""
        if not tab.live:
            self._close_tab(tab)
            return
        self.push_screen(
            ConfirmScreen(
                title=f"Close tab {tab.number}?",
                message=f"Closing ends the shell in {tab.target} and removes its "
                "debug container.",
                confirm="Close",
            ),
            callback=lambda yes: self._close_tab(tab) if yes else None,
        )

    def _close_tab(self, tab: DebugTab) -> None:
        self.run_worker(
            self.close_tab(tab), thread=False, group="tabs", exit_on_error=False
        )

    async def close_tab(self, tab: DebugTab) -> None:
        """Remove a tab, end its session, and tidy up its agent pod."""
        if tab not in self.tabs:
            return
        position = self.tabs.index(tab)
        if self.current_mode == tab.mode:
            neighbour = self.tabs[position - 1].mode if position else BROWSER
            self.show_mode(neighbour)
        # The tab leaves the bar at once; hanging its shell up takes a moment.
        self.tabs.remove(tab)
        for number, remaining in enumerate(self.tabs, start=1):
            remaining.number = number
        self.tab_changed()
        screen = self._debug_screens.get(tab.mode)
        if screen is not None:
            await screen.end_session()
        self._debug_screens.pop(tab.mode, None)
        await self.remove_mode(tab.mode)

    # Quitting

    def action_request_quit(self) -> None:
        """Quit, asking first when debug sessions would end."""
        if self._quitting:
            return
        live = [tab for tab in self.tabs if tab.live]
        if not live:
            self._quit()
            return
        self.push_screen(
            ConfirmScreen(
                title="Quit kdebug-tui?",
                message=(QUIT_ONE if len(live) == 1 else QUIT_MANY).format(
                    count=len(live)
                ),
                confirm="Quit",
            ),
            callback=lambda yes: self._quit() if yes else None,
        )

    def _quit(self, *, return_code: int = 0) -> None:
        self._quitting = True
        self.run_worker(
            self.shut_down(return_code=return_code),
            thread=False,
            group="quit",
            exit_on_error=False,
        )

    async def shut_down(self, *, return_code: int = 0) -> None:
        """End every session, delete the agent pods of this client, then exit.

        Args:
            return_code: The process's exit status once the app has ended.
        """
        if self.tabs:
            self.notify("Ending the debug sessions and removing agent pods…")
        screens = list(self._debug_screens.values())
        await asyncio.gather(
            *(screen.end_session() for screen in screens), return_exceptions=True
        )
        await self.release_agents()
        self.shut_down_cleanly = True
        self.exit(return_code=return_code)

    async def release_agents(self) -> None:
        """Delete the agent pods every session manager still holds."""
        for manager in self.connections.managers:
            try:
                await manager.close_all()
            except KdebugError as error:
                logger.warning("Removing agent pods failed: %s", error)

    # Failures

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Report the failures of the app's own workers."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self.report_failure(event.worker, event.worker.error)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        """Report the failures of the screens' workers."""
        self.report_failure(message.worker, message.error)

    def report_failure(self, worker: Worker[object], error: BaseException) -> None:
        """Tell the user about a failure: an error view, or a notification."""
        described = describe_failure(error)
        if described is not None:
            title = _title(worker.group)
            message, hint = described
        else:
            logger.error("A worker failed unexpectedly.", exc_info=error)
            title = "Unexpected error"
            message = f"{type(error).__name__}: {error}"
            hint = BUG_HINT.format(log=LOG_PATH)
        node = worker.node
        screen = node if isinstance(node, Screen) else getattr(node, "screen", None)
        if screen is not None and screen is not self.screen:
            self.notify(message, title=title, severity="error", timeout=10)
            return
        shown = self.screen
        if isinstance(shown, ErrorScreen) and shown.message == message:
            return
        self.push_screen(ErrorScreen(title=title, message=message, hint=hint))

    # Startup

    @work(thread=True, group="start", exit_on_error=False)
    def _start(self) -> None:
        point = self.connections.start_point()
        self.call_from_thread(self._start_point_found, point.context, point.namespace)

    @work(thread=False, group="gc", exit_on_error=False)
    async def _collect_garbage(self, context: str) -> None:
        """Remove agent pods left by crashed clients; failing here stops nothing."""
        try:
            manager = await asyncio.to_thread(
                self.connections.sessions, context, self.settings.agent_namespace
            )
            removed = await manager.collect_garbage()
        # Best effort by design: an unreachable cluster is reported by the views,
        # and the client library raises more than its ApiException here.
        except Exception as error:
            logger.info("Skipped removing leftover agent pods: %s", error)
            return
        if removed:
            self.notify(
                f"Removed {len(removed)} leftover agent pods: {', '.join(removed)}.",
                title="Cleaned up",
            )


def cast_browser(screen: Screen[Any]) -> BrowserScreen:
    """The screen as a browser view (the top of the browser mode always is one)."""
    assert isinstance(screen, BrowserScreen)
    return screen


def _title(group: str) -> str:
    return {
        "session": "The debug session failed",
        "watch": "Cannot list",
        "contexts": "Cannot read the kubeconfig",
        "start": "Cannot start",
    }.get(group, "Something failed")


def create_app(
    settings: Settings,
    *,
    kube_factory: KubeFactory = connect_kube,
    browser_factory: BrowserFactory | None = None,
    clock: Clock | None = None,
) -> KdebugApp:
    """Build the app; the CLI passes settings only, tests may replace the rest.

    Args:
        settings: The user's settings.
        kube_factory: Connects to a context (empty for the current one).
        browser_factory: Makes a context's browser; the real cluster's by default.
        clock: The time for ages and durations; the system's by default.
    """
    connections = Connections(
        settings,
        kube_factory=kube_factory,
        browser_factory=browser_factory or ClusterBrowser,
    )
    return KdebugApp(settings, connections=connections, clock=clock or Clock())


def run_app(settings: Settings) -> int:
    """Run the TUI until the user quits; return the exit code.

    Log records go to a file while the TUI owns the terminal, and agent pods are
    deleted even if the app ends without shutting down normally.
    """
    app = create_app(settings)
    tune_garbage_collector()
    with logging_to_file():
        app.run()
        if not app.shut_down_cleanly:
            # A crash skipped the shutdown: the agent pods must go all the same.
            asyncio.run(app.release_agents())
    if app.ended_by_signal is not None:
        # As a shell reports a command that a signal ended.
        return 128 + app.ended_by_signal
    return app.return_code or 0


def tune_garbage_collector() -> None:
    """Keep the garbage collector's pauses short while output floods a tab.

    What exists before the app runs (modules, classes, the app itself) lives as
    long as the process, so it is frozen: full collections no longer walk it,
    which cut their pauses under a flood from up to 440 ms to 54 ms. A flood
    makes and frees thousands of rows in each parsed slice; at the default
    threshold of 700 new objects each slice set off young collections, which
    moved rows about to be freed into the old generation, and so brought on
    full collections. Above what one slice makes, only lasting growth counts.
    Both settings are the process's, so the tests, which run many apps in one
    process, leave them alone.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


@contextlib.contextmanager
def logging_to_file() -> Iterator[None]:
    """Send log records to the log file while the TUI owns the terminal.

    The file takes INFO and up even without `-v` (whose default, WARNING, suits
    a terminal, not a file nobody reads unless something went wrong); `-vv`
    adds DEBUG.
    """
    root = logging.getLogger()
    saved = root.handlers[:]
    saved_level = root.level
    root.setLevel(min(saved_level, logging.INFO))
    LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(LOG_PATH, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.handlers = [handler]
    try:
        yield
    finally:
        handler.close()
        root.handlers = saved
        root.setLevel(saved_level)
