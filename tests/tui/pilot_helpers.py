"""Helpers for driving the app through its pilot."""

import time
from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot

from kdebug_tui.widgets.resource_table import ResourceTable

WAIT_SECONDS = 30.0
"""Longest wait for a condition; the first connection imports the client (~5 s)."""


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
            isinstance(pilot.app.screen, PodsScreen) and bool(table_keys(pilot.app))
        ),
        what="the pods the app opens on",
    )
