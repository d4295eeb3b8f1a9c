"""The debug tabs: what each one debugs and how its session is doing.

A tab outlives its session: when the shell exits or the connection drops, the
tab stays with its screen and its state, so the user can read what happened
before closing it.
"""

import dataclasses

from kdebug_tui.backend.session import LaunchOptions, SessionState
from kdebug_tui.widgets.resource_table import Tone
from kdebug_tui.widgets.tab_bar import TabLabel

TITLE_WIDTH = 24
"""Characters of the remote's title kept in a tab label."""
TONES: dict[SessionState, Tone] = {
    SessionState.CONNECTING: "pending",
    SessionState.RUNNING: "ok",
    SessionState.EXITED: "dim",
    SessionState.FAILED: "error",
    SessionState.DISCONNECTED: "warning",
}


@dataclasses.dataclass(frozen=True, slots=True)
class DebugTarget:
    """The container a tab debugs, and in which context."""

    context: str
    namespace: str
    pod: str
    container: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.pod}/{self.container}"


@dataclasses.dataclass(slots=True)
class DebugTab:
    """One debug tab; the app keeps them in order."""

    mode: str
    """The app mode showing the tab's screen."""
    number: int
    target: DebugTarget
    options: LaunchOptions
    agent_namespace: str
    state: SessionState = SessionState.CONNECTING
    exit_code: int | None = None
    target_stopped: bool = False
    """Whether the session ended because the target container stopped."""
    title: str = ""
    """The window title the remote set, if any."""

    @property
    def live(self) -> bool:
        """Whether the session is starting or running (quitting would end it)."""
        return self.state in (SessionState.CONNECTING, SessionState.RUNNING)

    @property
    def state_text(self) -> str:
        """The state in words, as the label shows it."""
        if self.state is SessionState.EXITED and self.exit_code is not None:
            if self.target_stopped:
                return f"target stopped (code {self.exit_code})"
            return f"exited with code {self.exit_code}"
        return self.state.value

    def label(self) -> TabLabel:
        """What the tab bar shows: number, target, the remote's title and state."""
        text = f"{self.number} {self.target.pod}/{self.target.container}"
        if self.title:
            title = self.title
            if len(title) > TITLE_WIDTH:
                title = title[: TITLE_WIDTH - 1] + "…"
            text += f" · {title}"
        return TabLabel(self.mode, f"{text} · {self.state_text}", TONES[self.state])
