"""The stages of starting a debug session, each with the time it took.

Users of other tools complain of silent waits (an image that cannot be pulled,
a pod that cannot be scheduled); here every stage shows as it starts, the one in
progress counts its seconds, and a failure says where it happened.
"""

import dataclasses
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK = 0.1
"""Seconds between redraws while a stage is in progress."""


@dataclasses.dataclass(slots=True)
class Stage:
    """One stage: what happens, when it began and when it ended."""

    name: str
    message: str
    started: float
    ended: float | None = None
    failed: bool = False

    def duration(self, now: float) -> float:
        """Seconds spent in the stage so far."""
        return (self.ended if self.ended is not None else now) - self.started


class ProgressLog(Widget):
    """A list of stages; the last one is in progress until `finish` or `fail`."""

    DEFAULT_CSS = """
    ProgressLog {
        height: auto;
        padding: 1 2;
        & > .progress-log--done { color: $success; }
        & > .progress-log--current { color: $accent; }
        & > .progress-log--failed { color: $error; text-style: bold; }
        & > .progress-log--time { color: $text-muted; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "progress-log--done",
        "progress-log--current",
        "progress-log--failed",
        "progress-log--time",
    }

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.clock = clock
        self.stages: list[Stage] = []
        self.started = clock()
        self.ended: float | None = None
        self.outcome = ""
        """A closing sentence: ready, or what failed."""
        self._ticker: Timer | None = None

    def on_mount(self) -> None:
        """Count the seconds of the stage in progress."""
        if self.ended is None:
            self._ticker = self.set_interval(TICK, self.refresh)

    def report(self, name: str, message: str) -> None:
        """Record that a stage began; a repeated stage name only updates its text."""
        now = self.clock()
        current = self.stages[-1] if self.stages else None
        if current is not None and current.ended is None:
            if current.name == name:
                current.message = message
                self.refresh(layout=True)
                return
            current.ended = now
        self.stages.append(Stage(name, message, started=now))
        self.refresh(layout=True)

    def finish(self, outcome: str) -> None:
        """End the stage in progress; the launch succeeded."""
        self._close(outcome, failed=False)

    def fail(self, outcome: str) -> None:
        """Mark the stage in progress as the one that failed."""
        self._close(outcome, failed=True)

    def _close(self, outcome: str, *, failed: bool) -> None:
        now = self.clock()
        if self.stages and self.stages[-1].ended is None:
            self.stages[-1].ended = now
            self.stages[-1].failed = failed
        self.ended = now
        self.outcome = outcome
        if self._ticker is not None:
            self._ticker.stop()
        self.refresh(layout=True)

    @property
    def failed(self) -> bool:
        """Whether the launch failed."""
        return any(stage.failed for stage in self.stages)

    def render(self) -> Text:
        """One line per stage: a mark, its duration and its message."""
        now = self.clock()
        time_style = self.get_component_rich_style("progress-log--time")
        text = Text()
        for stage in self.stages:
            if stage.failed:
                mark, style = "✗", "progress-log--failed"
            elif stage.ended is not None:
                mark, style = "✓", "progress-log--done"
            else:
                frame = int((now - stage.started) / TICK) % len(SPINNER)
                mark, style = SPINNER[frame], "progress-log--current"
            text.append(f"{mark} ", self.get_component_rich_style(style))
            text.append(f"{stage.duration(now):6.2f} s  ", time_style)
            text.append(f"{stage.message}\n")
        if self.ended is not None:
            total = f"{self.ended - self.started:.2f} s"
            if self.failed:
                failed = self.get_component_rich_style("progress-log--failed")
                text.append(f"\nFailed after {total}:\n", failed)
                text.append(self.outcome)
            else:
                done = self.get_component_rich_style("progress-log--done")
                text.append(f"\n{self.outcome} ({total})", done)
        return text
