"""Time to shell on the real cluster: warm, cold, and `kubectl debug` side by side.

Time to shell is measured from the request to the first byte of output of
``echo x`` run in the debug container, which is as soon as a user could type:

- cold: no agent pod of this client exists (the agent image and the debug
  image are on the node); a new ``SessionManager`` with an empty token store
  opens the session, so it checks permissions, creates an agent pod, waits
  for it and connects. Also as the real ``kdebug-tui debug`` command, started
  as a new process, whose figure includes Python's start-up.
- kubectl: ``kubectl debug --target`` with an ephemeral container of the same
  image on the same pod, from the start of the process to the first byte of
  its output. Cold and kubectl runs alternate, so a busy moment on this shared
  machine weighs on both.
- warm: one shell stays open in the background, so the agent pod stays; then
  ``open`` is timed again and again on the same manager (a second tab in the
  TUI), on a new manager that shares the token store (a second client of the
  same user), and as the ``kdebug-tui debug`` command.

The target is a pod of the benchmark's own, in namespace ``kdebug-bench-shell``,
which is deleted at the end with the ephemeral containers kubectl left in it;
the agent pods are deleted by the client as it ends each session, and by the
benchmark if one is left. Prints medians and the cold/kubectl ratio.

Run: ``.venv/bin/python bench/time_to_shell.py [--repeats 5] [--warm-repeats 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from harness import (
    TARGET_CONTAINER,
    create_target,
    delete_agent_pods,
    delete_namespace,
    ensure_cluster,
    figure,
    load_average,
    machine,
    note,
)

from cluster import layout
from cluster.image_set import image_names
from cluster.kubectl import binaries_dir
from kdebug_agent.protocol import (
    OutputReceived,
    ProgressReceived,
    SessionEnded,
    TerminalSize,
)
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.session import DebugSession, LaunchOptions, SessionManager
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.tokens import TokenStore

NAMESPACE = "kdebug-bench-shell"
POD = "target"
KDEBUG = str(Path(sys.executable).parent / "kdebug-tui")
RUN_TIMEOUT = 180.0
AGENT_POD_NAME = re.compile(r"agent pod [\w-]+/([\w-]+)")
Stages = dict[str, list[float]]
"""Seconds from the start of an open to each stage of the launch, by stage."""


@dataclasses.dataclass
class Run:
    """The setup shared by every measurement."""

    settings: Settings
    state_dir: Path
    """Scratch for token stores and the CLI's XDG directories."""
    agent_pods: set[str] = dataclasses.field(default_factory=set)
    """Agent pods seen, to delete any the clients left."""
    cold_stages: Stages = dataclasses.field(default_factory=dict)
    """When the cold opens reached each stage of the launch."""
    exits: Stages = dataclasses.field(default_factory=dict)
    """Seconds from the output to the command's exit, by series."""

    def environment(self, state: Path) -> dict[str, str]:
        """The environment of a `kdebug-tui` user of the cluster, state in `state`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KDEBUG_")}
        env.update(
            KUBECONFIG=self.settings.kubeconfig,
            XDG_STATE_HOME=str(state),
            XDG_CONFIG_HOME=str(state / "config"),
            KDEBUG_IMAGE=self.settings.image,
            KDEBUG_AGENT_IMAGE=self.settings.agent_image,
            KDEBUG_RUNTIME_SOCKET=self.settings.runtime_socket,
        )
        return env


def token_store(state: Path) -> TokenStore:
    """The token store the CLI uses when its XDG_STATE_HOME is `state`."""
    return TokenStore(state / "kdebug-tui" / "agents.json")


async def time_open(
    run: Run, manager: SessionManager, *, stages: Stages | None = None
) -> float:
    """Open `echo x` on the target; seconds until its first output byte.

    When the launch reports a stage (the client's, then the agent's), the
    seconds since the start are added to `stages` under its name, the first
    time each stage is reported.
    """
    options = LaunchOptions.from_settings(
        run.settings, command=("echo", "x"), tty=False
    )
    started = time.monotonic()
    seen: dict[str, float] = {}

    def reached(stage: str, message: str = "") -> None:
        seen.setdefault(stage, time.monotonic() - started)

    session = await manager.open(
        namespace=NAMESPACE,
        pod=POD,
        container=TARGET_CONTAINER,
        options=options,
        progress=reached,
    )
    reached("session-opened")
    run.agent_pods.add(session.agent.name)
    first_output = None
    try:
        while True:
            event = await session.receive()
            if isinstance(event, ProgressReceived):
                reached(f"agent-reports-{event.progress.stage}")
            elif isinstance(event, OutputReceived) and first_output is None:
                first_output = time.monotonic() - started
            elif isinstance(event, SessionEnded):
                break
    finally:
        await session.close()
    if first_output is None or event.status.exit_code != 0:
        raise RuntimeError(f"echo x did not print and succeed: {event.status}")
    if stages is not None:
        for stage, seconds in seen.items():
            stages.setdefault(stage, []).append(seconds)
    return first_output


async def time_command(
    argv: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run a command; seconds to the line `x` on its stdout, then to its exit.

    `kubectl debug` prints notes on stdout before the debug container's
    output, so the time runs to the echoed line rather than to any first byte.
    The time after it is what the user waits for the prompt back. Returns
    both and the command's stderr.
    """
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    elapsed = None
    while line := await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT):
        if line == b"x\n" and elapsed is None:
            elapsed = time.monotonic() - started
    _, errors = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    ended = time.monotonic() - started
    if elapsed is None or process.returncode != 0:
        raise RuntimeError(
            f"{argv[0]} did not print x or exited with {process.returncode}: "
            f"{errors.decode(errors='replace')[-500:]}"
        )
    return elapsed, ended - elapsed, errors.decode(errors="replace")


def kubectl_debug() -> list[str]:
    """`kubectl debug` with an ephemeral container running `echo x`."""
    return [
        str(binaries_dir() / "kubectl"),
        f"--kubeconfig={layout.ADMIN_KUBECONFIG}",
        "debug",
        "-n",
        NAMESPACE,
        POD,
        f"--image={image_names().tools}",
        "--image-pull-policy=IfNotPresent",
        f"--target={TARGET_CONTAINER}",
        # Privileged, as the kdebug-tui debug container is by default.
        "--profile=sysadmin",
        "-i",
        "--",
        "echo",
        "x",
    ]


def cli_debug() -> list[str]:
    """The headless `kdebug-tui debug` running `echo x` without a terminal.

    With `-v` it names the agent pods it creates, which the benchmark must
    know to wait for their deletion.
    """
    # Options go before the pod: the CLI takes everything after it as the command.
    return [
        KDEBUG,
        "debug",
        "-v",
        "-n",
        NAMESPACE,
        "-c",
        TARGET_CONTAINER,
        POD,
        "--",
        "echo",
        "x",
    ]


async def time_cli(run: Run, state: Path, series: str) -> float:
    """Time `kdebug-tui debug` and remember the agent pods it names."""
    elapsed, exiting, errors = await time_command(cli_debug(), run.environment(state))
    run.agent_pods.update(AGENT_POD_NAME.findall(errors))
    run.exits.setdefault(series, []).append(exiting)
    return elapsed


async def wait_until_agents_gone(run: Run, kube: Kube) -> None:
    """Wait until no agent pod this run saw is left (the next cold run needs it)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pods = await asyncio.to_thread(
            kube.core.list_namespaced_pod,
            run.settings.agent_namespace,
            label_selector="app.kubernetes.io/managed-by=kdebug-tui",
        )
        if not {pod.metadata.name for pod in pods.items} & run.agent_pods:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("Agent pods of this benchmark were not deleted within 120 s.")


async def cold_and_kubectl(
    run: Run, kube: Kube, repeats: int
) -> dict[str, list[float]]:
    """Alternate cold opens, cold CLI runs and `kubectl debug` runs."""
    times: dict[str, list[float]] = {"cold": [], "cold_cli": [], "kubectl_debug": []}
    for repeat in range(repeats):
        state = run.state_dir / f"cold-{repeat}"
        manager = SessionManager(kube, run.settings, tokens=token_store(state))
        times["cold"].append(await time_open(run, manager, stages=run.cold_stages))
        await wait_until_agents_gone(run, kube)
        elapsed, exiting, _ = await time_command(kubectl_debug())
        times["kubectl_debug"].append(elapsed)
        run.exits.setdefault("kubectl_debug", []).append(exiting)
        cli_state = run.state_dir / f"cold-cli-{repeat}"
        times["cold_cli"].append(await time_cli(run, cli_state, "cold_cli"))
        await wait_until_agents_gone(run, kube)
        note(
            f"Round {repeat + 1}: cold {times['cold'][-1]:.2f} s, cold CLI "
            f"{times['cold_cli'][-1]:.2f} s, kubectl debug "
            f"{times['kubectl_debug'][-1]:.2f} s."
        )
    return times


async def warm(run: Run, kube: Kube, repeats: int) -> dict[str, list[float]]:
    """Keep a shell open in the background and time opens against its agent."""
    state = run.state_dir / "warm"
    tokens = token_store(state)
    manager = SessionManager(kube, run.settings, tokens=tokens)
    options = LaunchOptions.from_settings(
        run.settings, command=("sh",), size=TerminalSize(width=80, height=24)
    )
    background = await manager.open(
        namespace=NAMESPACE,
        pod=POD,
        container=TARGET_CONTAINER,
        options=options,
        progress=lambda stage, message: None,
    )
    run.agent_pods.add(background.agent.name)
    drain = asyncio.create_task(drain_output(background))
    times: dict[str, list[float]] = {"warm": [], "warm_new_client": [], "warm_cli": []}
    try:
        measurements: dict[str, Callable[[], Awaitable[float]]] = {
            "warm": lambda: time_open(run, manager),
            "warm_new_client": lambda: time_open(
                run, SessionManager(kube, run.settings, tokens=tokens)
            ),
            "warm_cli": lambda: time_cli(run, state, "warm_cli"),
        }
        for name, measure in measurements.items():
            count = repeats if name != "warm_cli" else max(repeats // 4, 3)
            for _ in range(count):
                times[name].append(await measure())
            note(f"Measured {name} {count} times.")
    finally:
        await background.close_stdin()
        await asyncio.wait({drain}, timeout=10)
        drain.cancel()
        await background.close()
    return times


async def drain_output(session: DebugSession) -> None:
    """Read the background shell's output until it ends."""
    while not isinstance(await session.receive(), SessionEnded):
        pass


def medians(times: dict[str, list[float]]) -> None:
    """Print the median and the spread of each series."""
    for name, values in times.items():
        if values:
            figure(f"{name}_median", statistics.median(values), "s")
            figure(f"{name}_min", min(values), "s")
            figure(f"{name}_max", max(values), "s")


async def measure(run: Run, repeats: int, warm_repeats: int) -> None:
    """Every measurement, cold ones first (no agent of this client exists yet)."""
    kube = await asyncio.to_thread(Kube.connect, kubeconfig=run.settings.kubeconfig)
    cold = await cold_and_kubectl(run, kube, repeats)
    medians(cold)
    ratio = statistics.median(cold["cold"]) / statistics.median(cold["kubectl_debug"])
    figure("cold_over_kubectl_debug", ratio, "x")
    cli_ratio = statistics.median(cold["cold_cli"]) / statistics.median(
        cold["kubectl_debug"]
    )
    figure("cold_cli_over_kubectl_debug", cli_ratio, "x")
    # Where a cold open spends its time: when each stage was reached.
    for stage, seconds in sorted(run.cold_stages.items(), key=lambda s: min(s[1])):
        figure(f"cold_stage_{stage.replace('-', '_')}", statistics.median(seconds), "s")
    medians(await warm(run, kube, warm_repeats))
    # From the output to the exit: the shell has ended and the user waits.
    for series, seconds in run.exits.items():
        figure(f"{series}_exit_after_output", statistics.median(seconds), "s")


def main() -> None:
    """Set up the target, measure, and remove what the benchmark made."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warm-repeats", type=int, default=20)
    options = parser.parse_args()
    machine()
    load_average("load_average_start")
    ensure_cluster()
    images = image_names()
    settings = Settings(
        kubeconfig=str(layout.USER_KUBECONFIG),
        image=images.tools,
        agent_image=images.agent,
        runtime_socket=str(layout.CONTAINERD_SOCKET),
        agent_namespace=layout.AGENT_NAMESPACE,
    )
    with tempfile.TemporaryDirectory(prefix="kdebug-bench-") as scratch:
        run = Run(settings=settings, state_dir=Path(scratch))
        create_target(NAMESPACE, POD)
        try:
            asyncio.run(measure(run, options.repeats, options.warm_repeats))
        finally:
            delete_agent_pods(run.agent_pods, settings.agent_namespace)
            delete_namespace(NAMESPACE)
    load_average("load_average_end")


if __name__ == "__main__":
    main()
