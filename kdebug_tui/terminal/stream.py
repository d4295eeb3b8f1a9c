"""The parser: one compiled pattern finds whole tokens, pyte's parser does the rest.

pyte's :class:`~pyte.streams.Stream` sends every character of every escape
sequence through a generator, one ``send`` each. Here a single regular
expression matches a whole token at a time: a run of one-cell characters
(optionally with the line's ``CR LF``), a complete CSI, OSC or DCS sequence, or
one control character; each goes straight to the screen. Anything else (C1
controls, malformed sequences) is handed to pyte's generator character by
character, which stays the general path. A sequence cut by the end of a chunk
is held back, up to ``PENDING_LIMIT`` characters, and parsed with the next one.

It also avoids pyte parser bugs: ``CSI > 4 ; 2 m`` (vim's modifyOtherKeys) is
not taken for SGR, extra parameters never raise ``TypeError``, OSC 10/11 do not
set the icon name, DCS strings are not drawn, and ``ESC ( 0`` works in UTF-8.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import cache

from pyte.screens import wcwidth
from pyte.streams import Stream

from kdebug_tui.terminal.screen import TerminalScreen

PENDING_LIMIT = 1 << 20
"""Longest unfinished escape sequence held back for the next chunk."""

_ESC_FINALS = "0-OQ-WYZ\\\\`a-~"
_INCOMPLETE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[P_^X][^\x1b]*\x1b?|[ -/]*)?\Z"
)


@cache
def narrow_class() -> str:
    """Build a regex class body of the printable characters one cell wide.

    ASCII plus every character from U+00A0 to U+2FFF that ``wcwidth`` gives
    width 1: Latin, Greek, Cyrillic, box drawing, blocks and most symbols, so
    ``ls`` in any European language and every TUI border take the fast path.
    """
    ranges = [" -~"]
    start = None
    for code in range(0xA0, 0x3001):
        narrow = code < 0x3000 and wcwidth(chr(code)) == 1
        if narrow and start is None:
            start = code
        elif not narrow and start is not None:
            ranges.append(f"\\u{start:04x}-\\u{code - 1:04x}")
            start = None
    return "".join(ranges)


@cache
def _token_pattern() -> re.Pattern[str]:
    narrow = narrow_class()
    return re.compile(
        f"((?:(?:[{narrow}]++|\x1b\\[[0-9;:]*+m)*+\r\n)+)"  # 1: whole lines
        f"|((?:[{narrow}]+|\x1b\\[[0-9;:]*m)+)"  # 2: text with SGR
        "|\x1b\\[([0-?]*)([ -/]*)([@-~])"  # 3, 4, 5: CSI
        "|([\x00-\x1a\x1c-\x1f\x7f])"  # 6: one C0 control
        "|\x1b\\]([^\x07\x1b]*)(\x07|\x1b\\\\)"  # 7, 8: OSC
        f"|\x1b([ -/]*)([{_ESC_FINALS}])"  # 9, 10: other ESC sequences
        "|\x1b[P_^X][^\x1b]*(\x1b\\\\)"  # 11: DCS, APC, PM, SOS: ignored
        f"|([^\x00-\x1f\x7f-\x9f{narrow}]+)"  # 12: wide and combining text
    )


def _numbers(params: str) -> list[int]:
    """Split CSI parameters like pyte: empty is 0, values cap at 9999."""
    numbers = []
    for part in params.split(";"):
        head = part.split(":", 1)[0]
        numbers.append(min(int(head), 9999) if head.isdigit() else 0)
    return numbers


class TerminalStream(Stream):
    """Parses text from the remote into calls on a :class:`TerminalScreen`."""

    escape = {**Stream.escape, "=": "keypad_application", ">": "keypad_numeric"}

    def __init__(self, screen: TerminalScreen) -> None:
        self._pending = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.screen = screen
        super().__init__(screen)
        self._token = _token_pattern()
        self._csi = self._csi_table(screen)

    @staticmethod
    def _csi_table(
        screen: TerminalScreen,
    ) -> dict[str, tuple[Callable[..., None], int]]:
        """Map plain CSI finals to a screen method and how many numbers it takes."""
        return {
            "@": (screen.insert_characters, 1),
            "A": (screen.cursor_up, 1),
            "B": (screen.cursor_down, 1),
            "C": (screen.cursor_forward, 1),
            "D": (screen.cursor_back, 1),
            "E": (screen.cursor_down1, 1),
            "F": (screen.cursor_up1, 1),
            "G": (screen.cursor_to_column, 1),
            "H": (screen.cursor_position, 2),
            "I": (screen.cursor_forward_tab, 1),
            "J": (screen.erase_in_display, 1),
            "K": (screen.erase_in_line, 1),
            "L": (screen.insert_lines, 1),
            "M": (screen.delete_lines, 1),
            "P": (screen.delete_characters, 1),
            "S": (screen.scroll_up, 1),
            "T": (screen.scroll_down, 1),
            "X": (screen.erase_characters, 1),
            "Z": (screen.cursor_back_tab, 1),
            "`": (screen.cursor_to_column, 1),
            "a": (screen.cursor_forward, 1),
            "b": (screen.repeat_character, 1),
            "c": (screen.report_device_attributes, 1),
            "d": (screen.cursor_to_line, 1),
            "e": (screen.cursor_down, 1),
            "f": (screen.cursor_position, 2),
            "g": (screen.clear_tab_stop, 1),
            "n": (screen.report_device_status, 1),
            "r": (screen.set_margins, 2),
            "s": (screen.save_cursor, 0),
            "u": (screen.restore_cursor, 0),
        }

    def feed_bytes(self, data: bytes) -> None:
        """Decode UTF-8 (keeping a character split across chunks) and parse it."""
        self.feed(self._decoder.decode(data))

    def feed(self, data: str) -> None:
        """Parse text, drawing and dispatching to the screen as it goes."""
        if self._pending:
            data = self._pending + data
            self._pending = ""
        screen = self.screen
        put_text = screen.draw_text
        draw_lines = screen.draw_lines
        draw_styled = screen.draw_styled
        csi = self._dispatch_csi
        match = self._token.match
        end = len(data)
        pos = 0 if self._taking_plain_text else self._feed_general(data, 0)
        while pos < end:
            token = match(data, pos)
            if token is None:
                if end - pos < PENDING_LIMIT and _INCOMPLETE.match(data, pos):
                    self._pending = data[pos:]
                    return
                pos = self._feed_general(data, pos)
                continue
            pos = token.end()
            kind = token.lastindex
            if kind == 1:
                draw_lines(token.group(1))
            elif kind == 2:
                text = token.group(2)
                if "\x1b" in text:
                    draw_styled(text)
                else:
                    put_text(text)
            elif kind == 5:
                params, intermediates, final = token.group(3, 4, 5)
                if intermediates or params[:1] >= "<":
                    csi(params, intermediates, final)
                elif final == "m":
                    screen.set_pen(params)
                elif final == "H":
                    line, _, column = params.partition(";")
                    screen.cursor_position(
                        int(line) if line.isdigit() else 0,
                        int(column) if column.isdigit() else 0,
                    )
                elif final == "K":
                    screen.erase_in_line(int(params) if params.isdigit() else 0)
                else:
                    csi(params, intermediates, final)
            elif kind == 6:
                self._control(token.group(6))
            elif kind == 8:
                self._osc(token.group(7))
            elif kind == 10:
                self._escape(token.group(9), token.group(10))
            elif kind == 12:
                screen.draw(token.group(12))

    def _feed_general(self, data: str, pos: int) -> int:
        """Send characters to pyte's parser until it is back in plain text.

        pyte's parser raises ``TypeError`` when a sequence has more parameters
        than the screen method takes; it resets itself, and the sequence is
        dropped here as malformed, as a terminal would.
        """
        send = self._send_to_parser
        end = len(data)
        plain = self._taking_plain_text
        while pos < end:
            try:
                plain = send(data[pos])
            except TypeError:
                plain = True
            pos += 1
            if plain:
                break
        self._taking_plain_text = plain
        return pos

    def _control(self, char: str) -> None:
        screen = self.screen
        if char == "\n" or char == "\x0b" or char == "\x0c":
            screen.linefeed()
        elif char == "\r":
            screen.cursor.x = 0
        elif char == "\x08":
            screen.backspace()
        elif char == "\t":
            screen.tab()
        elif char == "\x07":
            screen.bell()

    def _escape(self, intermediates: str, final: str) -> None:
        screen = self.screen
        if intermediates in ("(", ")"):
            screen.define_charset(final, intermediates)
        elif intermediates == "#" and final == "8":
            screen.alignment_display()
        elif intermediates:
            return
        elif final == "E":
            screen.cursor.x = 0
            screen.index()
        elif final in self.escape:
            getattr(screen, self.escape[final])()

    def _osc(self, body: str) -> None:
        command, _, text = body.partition(";")
        if command in ("0", "1"):
            self.screen.set_icon_name(text)
        if command in ("0", "2"):
            self.screen.set_title(text)

    def _dispatch_csi(self, params: str, intermediates: str, final: str) -> None:
        screen = self.screen
        prefix = params[:1] if params[:1] in ("<", "=", ">", "?") else ""
        numbers = _numbers(params[len(prefix) :])
        if not prefix and not intermediates:
            entry = self._csi.get(final)
            if final == "h" or final == "l":
                self._modes(numbers, final == "h", private=False)
            elif entry is not None and not (final == "T" and len(numbers) > 1):
                method, count = entry
                method(*numbers[:count])
        elif prefix == "?" and not intermediates and final in "hl":
            self._modes(numbers, final == "h", private=True)
        elif prefix == "?" and final in "JK" and not intermediates:
            self._csi[final][0](numbers[0])
        elif prefix == ">" and final == "c" and not intermediates:
            screen.report_device_attributes(numbers[0], secondary=True)
        elif intermediates == "$" and final == "p" and prefix in ("", "?"):
            screen.report_mode(numbers[0], private=prefix == "?")
        elif intermediates == " " and final == "q" and not prefix:
            screen.set_cursor_shape(numbers[0])
        elif intermediates == "!" and final == "p" and not prefix:
            screen.soft_reset()

    def _modes(self, numbers: list[int], on: bool, *, private: bool) -> None:
        if on:
            self.screen.set_mode(*numbers, private=private)
        else:
            self.screen.reset_mode(*numbers, private=private)
