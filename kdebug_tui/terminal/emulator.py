"""A terminal emulator without I/O: output bytes in, events and input bytes out.

This is the object a view or a test drives. :meth:`Terminal.feed` takes bytes
from the remote and returns what the owner must act on (replies to send back,
a new title, a bell); the ``encode_*`` methods turn user actions into the bytes
the remote expects under the modes it has set.
"""

from __future__ import annotations

from dataclasses import dataclass

from kdebug_tui.terminal import keys, modes
from kdebug_tui.terminal.screen import TerminalScreen
from kdebug_tui.terminal.stream import TerminalStream


@dataclass(frozen=True, slots=True)
class ReplyReady:
    """The terminal answered a query (DA, DSR, DECRQM); send ``data`` to the remote."""

    data: bytes


@dataclass(frozen=True, slots=True)
class TitleChanged:
    """The remote set the window title (OSC 0 or 2)."""

    title: str


@dataclass(frozen=True, slots=True)
class BellRang:
    """The remote rang the bell (BEL)."""


TerminalEvent = ReplyReady | TitleChanged | BellRang


class Terminal:
    """Screen and parser together, with the encoders that depend on their modes.

    Args:
        columns: Width in cells.
        lines: Height in cells.
        scrollback: Lines kept after they scroll off the top.
    """

    def __init__(
        self, columns: int = 80, lines: int = 24, *, scrollback: int = 5000
    ) -> None:
        self.screen = TerminalScreen(columns, lines, scrollback=scrollback)
        self.stream = TerminalStream(self.screen)
        self._title = ""

    @property
    def title(self) -> str:
        """The window title the remote set last."""
        return self.screen.title

    def feed(self, data: bytes) -> list[TerminalEvent]:
        """Parse output from the remote.

        Args:
            data: Any slice of the byte stream; sequences and UTF-8 characters
                may be split across calls.

        Returns:
            What the owner must act on, in order: replies, title, bell.
        """
        self.stream.feed_bytes(data)
        return self.take_events()

    def take_events(self) -> list[TerminalEvent]:
        """Collect the events produced since the last call."""
        screen = self.screen
        events: list[TerminalEvent] = []
        if screen.replies:
            events.append(ReplyReady("".join(screen.replies).encode()))
            screen.replies.clear()
        if screen.title != self._title:
            self._title = screen.title
            events.append(TitleChanged(screen.title))
        if screen.bells:
            screen.bells = 0
            events.append(BellRang())
        return events

    def resize(self, columns: int, lines: int) -> None:
        """Change the size in cells."""
        self.screen.resize(lines=lines, columns=columns)

    def has_mode(self, mode: int) -> bool:
        """Whether a mode from :mod:`kdebug_tui.terminal.modes` is set."""
        return mode in self.screen.mode

    @property
    def mouse_tracking(self) -> bool:
        """Whether the remote asked for mouse reports (?1000, ?1002 or ?1003)."""
        return not modes.MOUSE_TRACKING.isdisjoint(self.screen.mode)

    def reports_motion(self, *, button_held: bool) -> bool:
        """Whether a mouse motion should be reported, given the modes set."""
        if self.has_mode(modes.MOUSE_MOTION):
            return True
        return button_held and self.has_mode(modes.MOUSE_DRAG)

    def encode_key(self, key: str, character: str | None) -> bytes | None:
        """Encode a key press under the current cursor-key mode."""
        application = self.has_mode(modes.CURSOR_KEYS)
        return keys.encode_key(key, character, application_cursor=application)

    def encode_paste(self, text: str) -> bytes:
        """Encode pasted text, bracketed if the remote asked for it (?2004)."""
        return keys.encode_paste(text, bracketed=self.has_mode(modes.BRACKETED_PASTE))

    def encode_mouse(
        self,
        action: keys.MouseAction,
        cell: tuple[int, int],
        *,
        button: int = 0,
        modifiers: frozenset[str] = frozenset(),
    ) -> bytes | None:
        """Encode a mouse report in the protocol the remote asked for."""
        sgr = self.has_mode(modes.MOUSE_SGR)
        return keys.encode_mouse(
            action, cell, button=button, modifiers=modifiers, sgr=sgr
        )

    def encode_focus(self, focused: bool) -> bytes | None:
        """Encode a focus change if the remote asked for reports (?1004)."""
        return keys.encode_focus(focused) if self.has_mode(modes.FOCUS_EVENTS) else None
