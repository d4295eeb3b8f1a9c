"""Terminal parse throughput at 200x50: our screen and stream against stock pyte.

Three workloads, the ones that dominate real sessions: plain ``ls -l``-like
lines, the same with 16-colour, 256-colour and truecolour SGR, and full-screen
redraws that address every row (as ``top`` and editors do); a fourth,
``gradient``, gives every truecolour anew, the worst case for the style cache.
Each is fed in the slices the terminal view parses at a time
(``PARSE_SLICE``) through the view's parse path
(:class:`~kdebug_tui.terminal.Terminal`, with the view's scrollback) and
through pyte's ``ByteStream`` on a stock ``Screen`` in the same run, each the
best of the same number of runs. Prints ``name: value unit`` lines.

Run: ``.venv/bin/python bench/terminal_throughput.py [--megabytes N]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import pyte

from kdebug_tui.terminal import Terminal
from kdebug_tui.widgets.terminal_view import PARSE_SLICE

COLUMNS, LINES = 200, 50
SCROLLBACK = 5000
"""The view's default scrollback: lines scrolled off are kept, as in a session."""

_WORDS = "drwxr-xr-x root kube 4096 Dec 3 18:30 etc var log pod container".split()
_NAMES = "nginx.conf kubelet.log containerd.sock resolv.conf hosts passwd".split()


def _listing_line(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 9))]
    return " ".join(words) + " " + rng.choice(_NAMES)


_THEME = [
    (rng_seed * 53 % 256, rng_seed * 97 % 256, rng_seed * 29 % 256)
    for rng_seed in range(24)
]


def _colour(rng: random.Random, *, unique_truecolour: bool = False) -> str:
    """One SGR: 16 colours with bold, one of 256, or a truecolour.

    Truecolours come from a 24-colour theme, as syntax highlighters and
    prompts use them, unless ``unique_truecolour`` draws each at random (a
    gradient, the worst case for any style cache).
    """
    kind = rng.randrange(3)
    if kind == 0:
        return f"\x1b[{rng.choice((0, 1))};{rng.randint(30, 37)}m"
    if kind == 1:
        return f"\x1b[38;5;{rng.randrange(256)}m"
    if unique_truecolour:
        red, green, blue = (rng.randrange(256) for _ in range(3))
    else:
        red, green, blue = rng.choice(_THEME)
    return f"\x1b[38;2;{red};{green};{blue}m"


def plain_text(size: int, rng: random.Random) -> bytes:
    """``ls -l``-like lines, ``CR LF`` terminated."""
    lines: list[str] = []
    total = 0
    while total < size:
        line = _listing_line(rng) + "\r\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()


def coloured_text(
    size: int, rng: random.Random, *, unique_truecolour: bool = False
) -> bytes:
    """Lines whose words are coloured with 16-colour, 256-colour and truecolour SGR."""
    lines: list[str] = []
    total = 0
    while total < size:
        words = _listing_line(rng).split()
        line = " ".join(
            _colour(rng, unique_truecolour=unique_truecolour) + word for word in words
        )
        lines.append(line + "\x1b[0m\r\n")
        total += len(lines[-1])
    return "".join(lines).encode()


def gradient_text(size: int, rng: random.Random) -> bytes:
    """Like :func:`coloured_text`, but every truecolour is new."""
    return coloured_text(size, rng, unique_truecolour=True)


def full_screen_redraws(size: int, rng: random.Random) -> bytes:
    """Frames that home the cursor, then address and rewrite every row."""
    frames: list[str] = []
    total = 0
    while total < size:
        rows = [
            f"\x1b[{y + 1};1H\x1b[{7 if y == 0 else 0}m"
            + _listing_line(rng)[:COLUMNS].ljust(COLUMNS // 2)
            + "\x1b[K"
            for y in range(LINES)
        ]
        frame = "\x1b[H" + "".join(rows)
        frames.append(frame)
        total += len(frame)
    return "".join(frames).encode()


def _feed_ours(data: bytes) -> None:
    terminal = Terminal(COLUMNS, LINES, scrollback=SCROLLBACK)
    for start in range(0, len(data), PARSE_SLICE):
        terminal.feed(data[start : start + PARSE_SLICE])


def _feed_pyte(data: bytes) -> None:
    stream = pyte.ByteStream(pyte.Screen(COLUMNS, LINES))
    for start in range(0, len(data), PARSE_SLICE):
        stream.feed(data[start : start + PARSE_SLICE])


def _rate(feed: Callable[[bytes], None], data: bytes, repeats: int) -> float:
    """Best of ``repeats`` runs, in MB/s (10^6 bytes) of this process's CPU time.

    CPU time rather than wall time keeps the figure steady on a busy machine.
    """
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        feed(data)
        best = min(best, time.process_time() - started)
    return len(data) / best / 1e6


def main() -> None:
    """Run every workload through both parsers and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pyte-megabytes", type=float, default=0.5)
    options = parser.parse_args()
    size = int(options.megabytes * 1e6)
    pyte_size = int(options.pyte_megabytes * 1e6)
    workloads = {
        "plain": plain_text,
        "coloured": coloured_text,
        "gradient": gradient_text,
        "full_screen": full_screen_redraws,
    }
    for name, make in workloads.items():
        data = make(size, random.Random(42))
        ours = _rate(_feed_ours, data, options.repeats)
        stock = _rate(_feed_pyte, make(pyte_size, random.Random(42)), options.repeats)
        print(f"{name}_ours: {ours:.1f} MB/s")
        print(f"{name}_pyte: {stock:.2f} MB/s")
        print(f"{name}_ratio: {ours / stock:.1f} x")


if __name__ == "__main__":
    main()
