"""Terminal modes the screen records, numbered the way pyte stores them.

pyte keeps ANSI modes as their number and DEC private modes shifted left by
five bits, all in one set (``screen.mode``). The names here cover the private
modes pyte has no constant for and that the view must honour.
"""

from pyte import modes as _pyte_modes

INSERT = _pyte_modes.IRM
"""IRM (4): drawn characters push the rest of the line to the right."""

NEWLINE = _pyte_modes.LNM
"""LNM (20): a line feed also returns the carriage."""

CURSOR_KEYS = 1 << 5
"""DECCKM (?1): cursor keys send application sequences (``ESC O A``)."""

REVERSE_VIDEO = _pyte_modes.DECSCNM
"""DECSCNM (?5): the whole screen is drawn in reverse video."""

ORIGIN = _pyte_modes.DECOM
"""DECOM (?6): cursor addressing is relative to the scrolling region."""

AUTOWRAP = _pyte_modes.DECAWM
"""DECAWM (?7): text reaching the right margin continues on the next line."""

CURSOR_VISIBLE = _pyte_modes.DECTCEM
"""DECTCEM (?25): the cursor is shown."""

ALTERNATE_SCREEN_47 = 47 << 5
"""?47: switch to the alternate screen without clearing it."""

ALTERNATE_SCREEN_1047 = 1047 << 5
"""?1047: alternate screen, cleared when left."""

SAVE_CURSOR_1048 = 1048 << 5
"""?1048: save the cursor on set, restore it on reset."""

ALTERNATE_SCREEN_1049 = 1049 << 5
"""?1049: save the cursor, switch to a cleared alternate screen; undo on reset."""

MOUSE_CLICKS = 1000 << 5
"""?1000: report button presses and releases."""

MOUSE_DRAG = 1002 << 5
"""?1002: also report motion while a button is held."""

MOUSE_MOTION = 1003 << 5
"""?1003: report all motion."""

FOCUS_EVENTS = 1004 << 5
"""?1004: report focus in and out (``CSI I``, ``CSI O``)."""

MOUSE_SGR = 1006 << 5
"""?1006: encode mouse reports as ``CSI < b ; x ; y M/m``."""

ALTERNATE_SCROLL = 1007 << 5
"""?1007: on the alternate screen, the wheel sends cursor up and down keys."""

BRACKETED_PASTE = 2004 << 5
"""?2004: wrap pasted text in ``CSI 200~`` and ``CSI 201~``."""

SYNCHRONIZED_OUTPUT = 2026 << 5
"""?2026: hold repaints until the application resets the mode."""

ALTERNATE_SCREENS = frozenset(
    {ALTERNATE_SCREEN_47, ALTERNATE_SCREEN_1047, ALTERNATE_SCREEN_1049}
)
MOUSE_TRACKING = frozenset({MOUSE_CLICKS, MOUSE_DRAG, MOUSE_MOTION})
