"""A debug tab: the launch, then the shell in a terminal view, then how it ended.

The session starts once the view knows its size, so the debug process gets the
right terminal size from its first byte. Until the shell runs, the stages of the
launch show over the view with their times; keys typed meanwhile are kept and
sent when it runs. While the shell runs, the view has focus and every key goes
to it except the leader key, which offers the tab commands.
"""

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from kdebug_agent.protocol import (
    FailureReason,
    OutputReceived,
    ProgressReceived,
    SessionEnded,
    TerminalSize,
)
from kdebug_tui.backend.errors import AgentConnectionError
from kdebug_tui.backend.session import DebugSession, SessionState, session_failure
from kdebug_tui.messages import ForwardsWorkerFailures, describe_failure
from kdebug_tui.tabs import DebugTab
from kdebug_tui.widgets.progress_log import ProgressLog
from kdebug_tui.widgets.tab_bar import TabBar
from kdebug_tui.widgets.terminal_view import TerminalView

if TYPE_CHECKING:
    from kdebug_tui.app import KdebugApp

LAST_STAGES = ("start", "attached")
"""Agent progress stages after which the debug process runs."""
EARLY_INPUT_LIMIT = 4096
"""Bytes typed before the shell runs that are kept for it."""
FAILURE_STYLE = "\x1b[0;1;31m"
"""How the sentence of a shell's failure shows in its terminal: bold red."""
HANG_UP_SECONDS = 5.0
"""How long a hung-up shell may take to exit before the connection is cut."""


class DebugScreen(ForwardsWorkerFailures, Screen[None]):
    """The screen of one debug tab."""

    CSS_PATH = "debug.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "app.request_quit", "Quit", show=False),
    ]

    def __init__(self, tab: DebugTab) -> None:
        super().__init__()
        self.tab = tab
        self.session: DebugSession | None = None
        self._early_input = bytearray()
        self._session_worker: Worker[None] | None = None
        self._terminal_size = TerminalSize(width=0, height=0)

    @property
    def kdebug(self) -> "KdebugApp":
        """The app, with its own API."""
        return cast("KdebugApp", self.app)

    @property
    def view(self) -> TerminalView:
        """The terminal view."""
        return self.query_one(TerminalView)

    @property
    def progress(self) -> ProgressLog:
        """The launch stages."""
        return self.query_one(ProgressLog)

    def compose(self) -> ComposeResult:
        """Tab bar, the terminal with the launch stages over it, a status line."""
        yield TabBar(self.kdebug, id="tabs")
        yield TerminalView(leader_key=self.kdebug.settings.leader_key, id="terminal")
        yield ProgressLog(clock=self.kdebug.clock.monotonic, id="progress")
        yield Static(id="status")

    def on_mount(self) -> None:
        """Say what is being debugged; the launch waits for the view's size."""
        # A priority binding acts when the app reads the key, before the keys
        # typed after it reach the view: those must go to the tab commands.
        self._bindings.bind(
            self.kdebug.settings.leader_key, "leader", "Tab commands", priority=True
        )
        self.progress.report("open", f"Debugging {self.tab.target}.")
        # At once, not after the app's queued keys (as `Widget.focus` would):
        # the keys typed right after `d` go to the view, and on to the shell.
        self.set_focus(self.view)
        self._show_status()

    # The session

    async def on_terminal_view_resized(self, event: TerminalView.Resized) -> None:
        """Start the session at the view's size, or tell the shell its new size."""
        size = TerminalSize(width=event.width, height=event.height)
        self._terminal_size = size
        if self._session_worker is None:
            self._session_worker = self._run_session(size)
        elif self.session is not None:
            # Awaited here, in the screen's order of messages: the last size wins.
            await self.session.resize(size)

    @work(thread=False, group="session", exclusive=True, exit_on_error=False)
    async def _run_session(self, size: TerminalSize) -> None:
        tab = self.tab
        target = tab.target
        manager = await asyncio.to_thread(
            self.kdebug.connections.sessions, target.context, tab.agent_namespace
        )
        self.session = await manager.open(
            namespace=target.namespace,
            pod=target.pod,
            container=target.container,
            options=dataclasses.replace(tab.options, size=size),
            progress=self.progress.report,
        )
        if self._terminal_size != size:
            # The view was resized while the session was being opened.
            await self.session.resize(self._terminal_size)
        self.progress.report("agent-session", "Preparing the debug container.")
        # Looked up once: a flood brings thousands of messages a second.
        view = self.view
        while True:
            event = await self.session.receive()
            if isinstance(event, OutputReceived):
                await self._start_running()
                await view.feed(event.data)
            elif isinstance(event, ProgressReceived):
                self.progress.report(event.progress.stage, event.progress.message)
                if event.progress.stage in LAST_STAGES:
                    await self._start_running()
            elif isinstance(event, SessionEnded):
                status = event.status
                if status.exit_code is None:
                    raise session_failure(status, self.session.target)
                self.mark_running()
                tab.target_stopped = status.reason == FailureReason.TARGET_STOPPED
                self._set_state(SessionState.EXITED, exit_code=status.exit_code)
                return

    async def _start_running(self) -> None:
        if self.tab.state is not SessionState.CONNECTING or self.session is None:
            return
        # Keys typed while this sends stay queued behind it: the state changes
        # only once nothing is left, with no await in between.
        while self._early_input:
            data, self._early_input = bytes(self._early_input), bytearray()
            await self.session.send(data)
        self.mark_running()

    def mark_running(self) -> None:
        """Hide the launch stages: the shell runs and gets the keys from now on."""
        if self.tab.state is not SessionState.CONNECTING:
            return
        self.progress.finish("The shell is running.")
        self.progress.display = False
        self._set_state(SessionState.RUNNING)

    def _set_state(self, state: SessionState, *, exit_code: int | None = None) -> None:
        self.tab.state = state
        self.tab.exit_code = exit_code
        self._show_status()
        self.kdebug.tab_changed()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """When the session worker fails, say how in the tab.

        A launch that fails shows its stages with the failure. A shell that
        ran keeps its output on screen, which is what the user debugs with,
        and the failure follows it there, as the command line prints it.
        """
        if event.worker is not self._session_worker:
            return
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            running = self.tab.state is SessionState.RUNNING
            lost = running and isinstance(error, AgentConnectionError)
            self._set_state(SessionState.DISCONNECTED if lost else SessionState.FAILED)
            if not running:
                self.progress.display = True
                self.progress.fail(_sentence(error))
                return
            lines = _sentence(error).splitlines()
            text = "".join(f"\r\n{FAILURE_STYLE}kdebug-tui: {line}" for line in lines)
            # After the output still queued: the view takes it in order.
            self.call_later(self.view.feed, f"\x1b[0m{text}\x1b[0m\r\n".encode())

    async def end_session(self) -> None:
        """End the session and wait until the agent has tidied up after it.

        A running shell is hung up (its stdin closed) and given a moment to
        exit, so the agent removes the debug container at once; a connection
        that just drops would make the agent keep it for the grace time.
        """
        worker = self._session_worker
        if worker is not None and not worker.is_finished:
            if self.session is not None and self.tab.state is SessionState.RUNNING:
                await self.session.close_stdin()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(
                        asyncio.shield(self._finished(worker)), HANG_UP_SECONDS
                    )
            worker.cancel()
            await self._finished(worker)
        if self.session is not None:
            await self.session.close()
        if self.tab.live:
            self._set_state(SessionState.EXITED)

    @staticmethod
    async def _finished(worker: Worker[None]) -> None:
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await worker.wait()

    # Input and what the view reports

    async def on_terminal_view_input_generated(
        self, event: TerminalView.InputGenerated
    ) -> None:
        """Send keys to the shell, in order; keep them while it starts."""
        if self.tab.state is SessionState.RUNNING and self.session is not None:
            await self.session.send(event.data)
        elif self.tab.state is SessionState.CONNECTING:
            room = EARLY_INPUT_LIMIT - len(self._early_input)
            self._early_input += event.data[:room]

    def on_terminal_view_title_changed(self, event: TerminalView.TitleChanged) -> None:
        """Show the remote's title in the tab label."""
        self.tab.title = event.title
        self.kdebug.tab_changed()

    def on_terminal_view_bell_rang(self) -> None:
        """Ring the bell if this tab is on screen, else say which tab rang."""
        if self.is_current:
            self.app.bell()
        else:
            self.notify(f"The shell in tab {self.tab.number} rang the bell.")

    def action_leader(self) -> None:
        """Offer the tab commands."""
        self.kdebug.offer_tab_commands(self)

    def on_terminal_view_leader_pressed(self) -> None:
        """Offer the tab commands (if the leader key reached the view after all)."""
        self.kdebug.offer_tab_commands(self)

    def on_tab_bar_clicked(self, event: TabBar.Clicked) -> None:
        """Switch to the clicked tab."""
        self.kdebug.show_mode(event.mode)

    def _show_status(self) -> None:
        leader = self.kdebug.leader_display
        state = self.tab.state
        if state is SessionState.CONNECTING:
            hint = f"starting · {leader} x cancels · {leader} b browser"
        elif state is SessionState.RUNNING:
            hint = f"{leader} ? tab commands · {leader} [ scrollback"
        else:
            hint = (
                f"{self.tab.state_text} · {leader} r again · {leader} x closes · "
                f"{leader} b browser"
            )
        self.query_one("#status", Static).update(f" {self.tab.target} · {hint}")


def _sentence(error: BaseException | None) -> str:
    described = describe_failure(error) if error is not None else None
    if described is None:
        return f"{type(error).__name__}: {error}"
    message, hint = described
    return f"{message}\n{hint}" if hint else message
