"""Helpers for driving the app through its pilot."""

import asyncio
import time
from collections.abc import Callable

from textual import events
from textual.app import App
from textual.pilot import Pilot

from kdebug_tui.widgets.resource_table import ResourceTable

WAIT_SECONDS = 30.0
"""Longest wait for a condition; the first connection imports the client (~5 s)."""
KEY_NAMES = {
    " ": "space",
    "'": "apostrophe",
    ";": "semicolon",
    "-": "minus",
    "/": "slash",
    ":": "colon",
}
"""Textual's names of the punctuation the tests type."""
NAMED_KEYS = {
    "tab": "\t",
    "shift+tab": None,
    "enter": "\r",
    "escape": "\x1b",
    "end": None,
    "left": None,
    "right": None,
    "ctrl+right_square_bracket": "\x1d",
    "ctrl+u": "\x15",
}
"""Keys typed by name, with the character the terminal sends for each."""
PACES = {"at once": None, "a loop turn apart": 0.0, "1 ms apart": 0.001}
"""How far apart the keys of a burst arrive, as the terminal driver may post them."""


async def wait_until(
    pilot: Pilot[object], condition: Callable[[], bool], *, what: str
) -> None:
    """Let the app run until `condition` holds, or fail saying what was awaited."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Timed out waiting for {what}.\n{screen_text(pilot.app)}"
            )
        await pilot.pause(0.05)


def screen_text(app: App[object]) -> str:
    """The characters on screen, one line per row, without styles."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def table_keys(app: App[object], selector: str = "ResourceTable") -> list[str]:
    """The keys of the rows a table shows, in order."""
    return [row.key for row in app.screen.query_one(selector, ResourceTable).rows]


async def wait_for_rows(pilot: Pilot[object], selector: str = "ResourceTable") -> None:
    """Wait until a table of the current screen shows rows."""
    await wait_until(
        pilot,
        lambda: (
            bool(pilot.app.screen.query(selector))
            and bool(table_keys(pilot.app, selector))
        ),
        what=f"rows in {selector}",
    )


def notices(app: App[object]) -> list[str]:
    """The messages of the notifications on screen, oldest first."""
    return [notification.message for notification in app._notifications]


async def wait_for_pods(pilot: Pilot[object]) -> None:
    """Wait until the pods view the app opens on shows its pods."""
    from kdebug_tui.screens.pods import PodsScreen

    await wait_until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, PodsScreen)
            # A screen that was just pushed may not have composed its table yet.
            and bool(pilot.app.screen.query(ResourceTable))
            and bool(table_keys(pilot.app))
        ),
        what="the pods the app opens on",
    )


async def type_fast(app: App[object], *keys: str, pace: float | None) -> None:
    """Post keys the way the terminal driver posts a fast typist's or a paste's.

    Each argument is a key name (`tab`, `enter`) or a string typed letter by
    letter. `pace` None posts them all before any is handled; a number waits
    that long (0: one turn of the event loop) between two keys. `Pilot.press`
    instead waits until each key is handled, as no user waits.
    """
    for key in keys:
        if key in NAMED_KEYS:
            pairs: list[tuple[str, str | None]] = [(key, NAMED_KEYS[key])]
        else:
            pairs = [(KEY_NAMES.get(letter, letter), letter) for letter in key]
        for name, character in pairs:
            app.post_message(events.Key(name, character))
            if pace is not None:
                await asyncio.sleep(pace)
