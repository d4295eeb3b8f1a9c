"""One agent, many sessions at once: how many complete, how long, how much memory.

The target is the design's "one agent: 100 concurrent sessions, none lost". The
benchmark starts what the runtime tests start, with their own code: a private
containerd with runc and the test images (``tests.fixtures.containerd``), a
running busybox target, and a real ``kdebug-agent`` process on a loopback port
(``tests.runtime.agent_process``). After one warm-up session it opens N
sessions at once, each a shell on a terminal in its own debug container; once
every shell has answered (so all N run together), each runs ``echo`` and
``exit``. A session counts as completed when its output and its exit code 0
came back. The agent's resident memory is read before, sampled throughout for
its peak, and divided by N for the cost of a session. Everything is removed at
the end, containerd included.

Run: ``.venv/bin/python bench/agent_sessions.py [--sessions 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import (
    RssSampler,
    cpu_seconds,
    figure,
    load_average,
    local_agent,
    machine,
    note,
    percentile,
    status_kib,
)

from cluster import images
from kdebug_agent.protocol import (
    OutputReceived,
    PullPolicy,
    SessionEnded,
    SessionRequest,
    TerminalSize,
)
from tests.fixtures import containerd as containerd_fixture
from tests.runtime.agent_process import AgentProcess, open_session

SESSION_TIMEOUT = 600.0
"""Seconds one session may take from opening to its exit status."""
SETTLE_TIMEOUT = 120.0
"""Seconds the agent has to remove every debug container after the run."""


@dataclasses.dataclass
class Outcome:
    """How one session went."""

    opened_after: float | None = None
    """Seconds from the start of the run to the shell's first output."""
    completed: bool = False
    failure: str = ""


def shell_request(target: str) -> SessionRequest:
    """A shell on an 80x24 terminal in the tools image, joined to the target."""
    return SessionRequest(
        target=f"containerd://{target}",
        image=images.TOOLS_IMAGE,
        command=("sh",),
        tty=True,
        size=TerminalSize(width=80, height=24),
        pull_policy=PullPolicy.NEVER,
        user="bench",
    )


async def run_session(
    agent: AgentProcess,
    target: str,
    number: int,
    *,
    started: float,
    opened: asyncio.Event,
    everyone_open: asyncio.Event,
    outcome: Outcome,
) -> None:
    """Open a shell, wait until every shell is open, then echo and exit."""
    websocket, protocol = await open_session(agent, shell_request(target))
    marker = f"kdebug-{number + 1000}".encode()
    output = b""
    async with websocket:
        async for message in websocket:
            for event in protocol.receive(message):
                if isinstance(event, OutputReceived):
                    output += event.data
                    if outcome.opened_after is None:
                        outcome.opened_after = time.monotonic() - started
                        opened.set()
                        await everyone_open.wait()
                        # The marker is computed by the shell, so its typed
                        # echo never matches it.
                        command = f"echo kdebug-$(({number}+1000)); exit\r"
                        await websocket.send(protocol.send_input(command.encode()))
                elif isinstance(event, SessionEnded):
                    code = event.status.exit_code
                    if code == 0 and marker in output:
                        outcome.completed = True
                    else:
                        outcome.failure = (
                            f"exit code {code}, marker seen: {marker in output}, "
                            f"{event.status.reason}: {event.status.message}"
                        )
                    return
    outcome.failure = "the connection closed without a status"


async def run_all(
    agent: AgentProcess,
    target: str,
    count: int,
    *,
    debug_containers: Callable[[], int],
) -> list[Outcome]:
    """Run ``count`` sessions at once and report when all were open together.

    While all are open, the debug containers in containerd are counted too:
    each session must have its own.
    """
    started = time.monotonic()
    outcomes = [Outcome() for _ in range(count)]
    everyone_open = asyncio.Event()
    opened_events = [asyncio.Event() for _ in range(count)]

    async def one(number: int) -> None:
        try:
            await asyncio.wait_for(
                run_session(
                    agent,
                    target,
                    number,
                    started=started,
                    opened=opened_events[number],
                    everyone_open=everyone_open,
                    outcome=outcomes[number],
                ),
                SESSION_TIMEOUT,
            )
        except Exception as error:
            outcomes[number].failure = f"{type(error).__name__}: {error}"
        finally:
            # A failed session must not keep the others waiting.
            opened_events[number].set()

    tasks = [asyncio.create_task(one(number)) for number in range(count)]
    await asyncio.gather(*(event.wait() for event in opened_events))
    open_together = sum(outcome.opened_after is not None for outcome in outcomes)
    figure("sessions_open_together", open_together)
    figure("all_open_after", time.monotonic() - started, "s")
    figure("agent_rss_all_open", status_kib(agent.process.pid, "VmRSS") / 1024, "MiB")
    figure("debug_containers_all_open", await asyncio.to_thread(debug_containers))
    everyone_open.set()
    await asyncio.gather(*tasks)
    figure("total_time", time.monotonic() - started, "s")
    return outcomes


def warm_up(agent: AgentProcess, target: str) -> None:
    """One session first, so the figures do not include first-use costs."""
    outcome = Outcome()
    ready = asyncio.Event()
    ready.set()

    async def single() -> None:
        await run_session(
            agent,
            target,
            0,
            started=time.monotonic(),
            opened=asyncio.Event(),
            everyone_open=ready,
            outcome=outcome,
        )

    asyncio.run(asyncio.wait_for(single(), SESSION_TIMEOUT))
    if not outcome.completed:
        raise SystemExit(f"The warm-up session failed: {outcome.failure}")


def debug_container_ids(daemon: containerd_fixture.ContainerdDaemon) -> list[str]:
    """The agent's debug containers in containerd now."""
    return [c for c in daemon.container_ids() if c.startswith("kdebug-")]


def wait_until_settled(daemon: containerd_fixture.ContainerdDaemon) -> int:
    """Wait until the agent has removed its debug containers; return how many remain."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        left = debug_container_ids(daemon)
        if not left or time.monotonic() > deadline:
            return len(left)
        time.sleep(0.5)


def report(outcomes: list[Outcome], *, count: int) -> None:
    """Print completed and failed sessions, open times and failure reasons."""
    completed = sum(outcome.completed for outcome in outcomes)
    figure("sessions_completed", completed)
    figure("sessions_failed", count - completed)
    opened = [o.opened_after for o in outcomes if o.opened_after is not None]
    if opened:
        figure("open_time_p50", statistics.median(opened), "s")
        figure("open_time_p99", percentile(opened, 0.99), "s")
    reasons = collections.Counter(o.failure for o in outcomes if not o.completed)
    for reason, times in reasons.most_common(5):
        note(f"{times} sessions failed: {reason}")


def benchmark(count: int, directory: Path) -> None:
    """Set up containerd, a target and the agent, run the sessions, tidy up."""
    with local_agent(directory, agent_id="bench") as local:
        agent, target, daemon = local.agent, local.target, local.containerd
        pid = agent.process.pid
        figure("agent_rss_at_start", status_kib(pid, "VmRSS") / 1024, "MiB")
        warm_up(agent, target)
        wait_until_settled(daemon)
        before = status_kib(pid, "VmRSS")
        cpu_before = cpu_seconds(pid)
        figure("agent_rss_before", before / 1024, "MiB")
        note(f"Opening {count} sessions at once on agent PID {pid}.")
        with RssSampler(pid) as sampler:
            outcomes = asyncio.run(
                run_all(
                    agent,
                    target,
                    count,
                    debug_containers=lambda: len(debug_container_ids(daemon)),
                )
            )
        report(outcomes, count=count)
        peak = max(sampler.peak_kib, status_kib(pid, "VmHWM"))
        figure("agent_rss_peak", peak / 1024, "MiB")
        figure("agent_rss_per_session", (peak - before) / count, "KiB")
        figure("agent_cpu", cpu_seconds(pid) - cpu_before, "s")
        figure("debug_containers_left", wait_until_settled(daemon))
        figure("agent_rss_after", status_kib(pid, "VmRSS") / 1024, "MiB")


def main() -> None:
    """Parse options, run the benchmark, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    options = parser.parse_args()
    machine()
    load_average("load_average_start")
    directory = Path(tempfile.mkdtemp(prefix="kdebug-bench-containerd-"))
    try:
        benchmark(options.sessions, directory)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(directory)
    load_average("load_average_end")


if __name__ == "__main__":
    main()
