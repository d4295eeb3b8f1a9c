"""Reusable widgets of the TUI."""

from kdebug_tui.widgets.terminal_view import TerminalView

__all__ = ["TerminalView"]
