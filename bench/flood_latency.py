"""Key to screen in one debug tab while another tab floods: p50 and p99.

The design's target: while tab B prints as fast as it can, a key typed in tab A
is on screen within 50 ms at the 99th percentile. The benchmark starts a
private containerd and a real ``kdebug-agent`` with the runtime tests' own code
(no cluster is needed for what is measured here: the app's event loop, the
terminal views and the relay), then runs the app on a pseudo-terminal of its
own, 160x48, as a user's terminal. The app is the product's ``KdebugApp`` with
the test suite's fixed pod records for the browser and a session opener that
connects to the local agent instead of port-forwarding to an agent pod; the
sessions, their screens, the terminal views and the driver are the product's.

Tab B runs ``yes`` (or ``sleep`` for the reference), tab A a shell; the
benchmark types a comment line into tab A one key at a time and times each
key from writing it to the terminal to the first output of the app that shows
the line with that key, i.e. when the frame with the echo was painted. The
same is done first with tab B idle, in the same run, as the reference. Tab B's
received output is counted, to show the flood went on throughout. The app
also notes when tab A's session sent each key and got its echo, which splits
each key's time into the app's input path, the round trip through the agent
and the shell, and parsing plus painting (:func:`stages`); when a key never
shows, the error says whether it was sent and echoed.

Run: ``.venv/bin/python bench/flood_latency.py [--keys 300]``.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    PseudoTerminal,
    figure,
    latencies,
    load_average,
    local_agent,
    machine,
    note,
    scheduler_times,
)
from websockets.asyncio.client import connect

from cluster import images
from kdebug_agent.protocol import (
    AUTHORIZATION_HEADER,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SESSION_PATH,
    SUBPROTOCOL,
    ClientSideSession,
    Event,
    OutputReceived,
    PullPolicy,
    SessionRequest,
)
from kdebug_tui.app import Clock, KdebugApp, tune_garbage_collector
from kdebug_tui.backend.agents import AgentPod
from kdebug_tui.backend.connection import MAX_MESSAGE_SIZE
from kdebug_tui.backend.session import DebugSession, LaunchOptions, SessionState
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.targets import Target
from kdebug_tui.connections import Connections
from kdebug_tui.screens.pods import PodsScreen
from kdebug_tui.tabs import DebugTarget
from tests.runtime.agent_process import TOKEN
from tests.tui.fixed_cluster import FixedBrowser, write_kubeconfig

COLUMNS, LINES = 160, 48
KEYS_PER_LINE = 30
PAUSE = 0.03
"""Seconds between two keys: a fast typist, and no key waits behind another."""
START_TIMEOUT = 60.0
KEY_TIMEOUT = 10.0
PROMPT = b"/ # "
LETTERS = "abcdefghijklmnopqrstuvwxyz"
LEADER = "\x1d"
"""Ctrl-], the app's default leader key; then `q` quits and `y` confirms."""
TAB_B_COMMANDS = {"quiet": "sleep 1000000", "flood": "exec yes"}
STATUS_INTERVAL = 0.5
"""Seconds between two status files written by the app."""


def run_scenario(
    name: str,
    *,
    port: int,
    target: str,
    keys: int,
    scratch: Path,
    agent_pid: int,
    profile: Path | None = None,
) -> None:
    """Run the app with tab B quiet or flooding, type in tab A, print figures."""
    status = scratch / f"{name}-status.json"
    argv = [
        sys.executable,
        __file__,
        "--app",
        f"--port={port}",
        f"--target={target}",
        f"--tab-b={TAB_B_COMMANDS[name]}",
        f"--status={status}",
        f"--scratch={scratch / name}",
    ]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        argv.append(f"--profile={profile / f'{name}.prof'}")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KDEBUG_")}
    environment.update(
        TERM="xterm-256color",
        XDG_CONFIG_HOME=str(scratch / name / "config"),
        XDG_STATE_HOME=str(scratch / name / "state"),
    )
    terminal = PseudoTerminal(
        argv, environment=environment, columns=COLUMNS, lines=LINES
    )
    try:
        terminal.wait_for(PROMPT, START_TIMEOUT)
        # Let the flood get going before the first key.
        time.sleep(2.0)
        terminal.drain()
        before = read_status(status)
        running, waiting = scheduler_times(terminal.process.pid)
        agent_ran, _ = scheduler_times(agent_pid)
        started = time.monotonic()
        try:
            presses = type_lines(terminal, keys)
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{explain_missing_key(status)}") from None
        elapsed = time.monotonic() - started
        ran, waited = scheduler_times(terminal.process.pid)
        agent_running, _ = scheduler_times(agent_pid)
        # The app writes its status every half second.
        time.sleep(2 * STATUS_INTERVAL)
        after = read_status(status)
        latencies(f"{name}_key_to_screen", [p.painted - p.pressed for p in presses])
        stages(name, presses, after.get("timeline", {}))
        # How busy the app was, and how long its threads waited for a CPU
        # that other processes had: both per second of typing.
        figure(f"{name}_app_cpu", (ran - running) / elapsed, "s/s")
        figure(f"{name}_app_runqueue_wait", (waited - waiting) / elapsed, "s/s")
        figure(f"{name}_agent_cpu", (agent_running - agent_ran) / elapsed, "s/s")
        # Collections of the oldest generation stop the app for their whole
        # length: they show in the tail, not in the median.
        pauses = after.get("collections", [])[len(before.get("collections", [])) :]
        figure(f"{name}_app_full_collections", len(pauses))
        if pauses:
            figure(f"{name}_app_full_collection_max", max(pauses) * 1000, "ms")
        counts, counts_before = after["counts"], before["counts"]
        received = counts.get("flood", 0) - counts_before.get("flood", 0)
        messages = counts.get("flood-messages", 0) - counts_before.get(
            "flood-messages", 0
        )
        figure(f"{name}_tab_b_received", received / 1e6, "MB")
        figure(f"{name}_tab_b_rate", received / 1e6 / elapsed, "MB/s")
        # Output arrives one WebSocket message per read of the agent: their
        # size tells how much per-message work the flood costs both sides.
        figure(f"{name}_tab_b_messages", messages)
        if messages:
            figure(f"{name}_tab_b_message_size", received / messages, "bytes")
    finally:
        terminal.close((LEADER, "q", "y"))


@dataclasses.dataclass(frozen=True)
class Press:
    """One key typed in tab A."""

    key: str
    pressed: float
    """When it was written to the app's terminal (``time.monotonic``)."""
    painted: float
    """When the app first wrote a frame showing its echo."""


def type_lines(terminal: PseudoTerminal, keys: int) -> list[Press]:
    """Type comment lines key by key; when each key went in and its echo came out."""
    presses: list[Press] = []
    line = 0
    while len(presses) < keys:
        # Each line starts at another letter, so no earlier line looks alike.
        terminal.press("# ")
        terminal.wait_for(PROMPT + b"# ", KEY_TIMEOUT)
        typed = ""
        for index in range(min(KEYS_PER_LINE, keys - len(presses))):
            key = LETTERS[(line + index) % len(LETTERS)]
            typed += key
            time.sleep(PAUSE)
            pressed = terminal.press(key)
            painted = terminal.wait_for(f"# {typed}".encode(), KEY_TIMEOUT)
            presses.append(Press(key, pressed, painted))
        terminal.press("\r")
        terminal.wait_for(PROMPT, KEY_TIMEOUT)
        terminal.drain(0.1)
        line += 1
    return presses


def stages(name: str, presses: list[Press], timeline: dict[str, list[Any]]) -> None:
    """Split each key's time into the app's input, the round trip, and painting.

    The app records (with the same monotonic clock, which every process on the
    machine shares) when tab A's session sent each key to the agent and when
    output came back. Only one key is in flight at a time, so the first send
    of that key after its press, and the first output holding it after that
    send, belong to it.
    """
    sent = timeline.get("sent", [])
    echoed = timeline.get("echoed", [])
    to_send: list[float] = []
    round_trip: list[float] = []
    to_paint: list[float] = []
    for press in presses:
        send = next(
            (t for t, data in sent if press.pressed <= t and press.key in data), None
        )
        if send is None:
            continue
        echo = next((t for t, data in echoed if send <= t and press.key in data), None)
        if echo is None or echo > press.painted:
            continue
        to_send.append(send - press.pressed)
        round_trip.append(echo - send)
        to_paint.append(press.painted - echo)
    figure(f"{name}_keys_traced", len(to_send))
    latencies(f"{name}_key_to_sent", to_send)
    latencies(f"{name}_sent_to_echo_received", round_trip)
    latencies(f"{name}_echo_received_to_screen", to_paint)


def explain_missing_key(status: Path) -> str:
    """Say whether tab A sent the last keys and got their echo, for a timeout."""
    time.sleep(2 * STATUS_INTERVAL)
    timeline = read_status(status).get("timeline", {})
    sent = [data for _, data in timeline.get("sent", [])[-5:]]
    echoed = [data for _, data in timeline.get("echoed", [])[-5:]]
    return (
        f"Tab A's session last sent {sent} and last received {echoed} (oldest "
        "first): a key sent but not echoed was lost on the way to the shell or "
        "back; a key echoed but not shown was lost in the view."
    )


def read_status(path: Path) -> dict[str, Any]:
    """What the app last wrote: bytes received by tab, and tab A's timeline."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"counts": {}}
    return data


# The app side, run in the child process on the pseudo-terminal.


class CountingSession(DebugSession):
    """The product's session, counting what it receives for the status file.

    Tab A's session (container ``shell``) also notes when it sends input and
    when output comes back, for :func:`stages`.
    """

    def __init__(
        self,
        *args: Any,
        counts: dict[str, int],
        timeline: dict[str, list[tuple[float, str]]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.counts = counts
        self.timeline = timeline if self.target.container == "shell" else None

    async def receive(self) -> Event:
        """The next event, counted when it is output."""
        event = await super().receive()
        if isinstance(event, OutputReceived):
            container = self.target.container
            self.counts[container] = self.counts.get(container, 0) + len(event.data)
            messages = f"{container}-messages"
            self.counts[messages] = self.counts.get(messages, 0) + 1
            if self.timeline is not None:
                text = event.data.decode(errors="replace")
                self.timeline["echoed"].append((time.monotonic(), text))
        return event

    async def send(self, data: bytes) -> None:
        """Send input, noting when tab A sent what."""
        if self.timeline is not None:
            text = data.decode(errors="replace")
            self.timeline["sent"].append((time.monotonic(), text))
        await super().send(data)


class Disconnected:
    """Stands in for the port-forward, which a local session does not have."""

    def close(self) -> None:
        """Nothing to close."""


class LocalSessions:
    """Opens sessions on the local agent, as `SessionManager.open` does on a pod.

    It stands in for what this benchmark does not measure (reading the target
    pod, finding the agent pod, the port-forward); the session request and the
    WebSocket settings are the product's.
    """

    def __init__(self, *, port: int, target: str) -> None:
        self.port = port
        self.target = target
        self.counts: dict[str, int] = {}
        """Bytes received so far, by tab container name."""
        self.timeline: dict[str, list[tuple[float, str]]] = {"sent": [], "echoed": []}
        """When tab A sent input and received output, with what."""

    async def open(
        self, *, container: str, options: LaunchOptions, **_: object
    ) -> DebugSession:
        """Connect to the local agent and send the session request."""
        request = SessionRequest(
            target=f"containerd://{self.target}",
            image=options.image,
            command=options.command,
            tty=options.tty,
            size=options.size,
            namespaces=options.namespaces,
            pull_policy=PullPolicy(options.pull_policy),
            privileged=options.privileged,
            user="bench",
        )
        websocket = await connect(
            f"ws://127.0.0.1:{self.port}{SESSION_PATH}",
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            additional_headers={
                AUTHORIZATION_HEADER: f"Bearer {TOKEN}",
                PROTOCOL_HEADER: str(PROTOCOL_VERSION),
            },
            compression=None,
            max_size=MAX_MESSAGE_SIZE,
            max_queue=64,
        )
        protocol = ClientSideSession(request)
        await websocket.send(protocol.opening_message())
        return CountingSession(
            self,
            target=Target("shop", "web", container, request.target, "local"),
            agent=AgentPod("local", "local-agent", "", "local", token=TOKEN),
            connection=Disconnected(),
            websocket=websocket,
            protocol=protocol,
            counts=self.counts,
            timeline=self.timeline,
        )

    async def session_closed(self, session: DebugSession) -> None:
        """Nothing to tidy up: the local agent is the benchmark's."""

    async def collect_garbage(self) -> list[str]:
        """There are no agent pods to collect."""
        return []


class TwoTabApp(KdebugApp):
    """The product's app, which opens tab B, then tab A, once the pods show.

    Tab A opens only once tab B runs: a tab starts its session when its view
    first gets a size, which needs it to have been on screen.
    """

    # Textual finds a relative CSS path beside the subclass's module.
    CSS_PATH = str(Path(inspect.getfile(KdebugApp)).with_name("app.tcss"))

    def __init__(
        self,
        settings: Settings,
        *,
        connections: Connections,
        tab_b_script: str,
        status_path: Path,
        sessions: LocalSessions,
    ) -> None:
        super().__init__(settings, connections=connections, clock=Clock())
        self.tab_b_script = tab_b_script
        self.status_path = status_path
        self.sessions = sessions

    def on_mount(self) -> None:
        """Start as the product does, then watch for the moment to open tabs."""
        super().on_mount()
        self.set_interval(STATUS_INTERVAL, self.write_status)
        self.set_interval(0.1, self.open_tabs)

    def open_tabs(self) -> None:
        """Open tab B once the pods show, and tab A once tab B runs."""
        if not self.tabs and isinstance(self.screen, PodsScreen):
            self.open_tab(
                self.tab_target("flood"), self.tab_options(self.tab_b_script), ""
            )
        elif len(self.tabs) == 1 and self.tabs[0].state is SessionState.RUNNING:
            self.open_tab(self.tab_target("shell"), self.tab_options("exec sh"), "")

    def tab_target(self, container: str) -> DebugTarget:
        """A target in the fixed records; only its container name is used."""
        return DebugTarget("dev", "shop", "web-7d4f9c6b5-x2k8p", container)

    def tab_options(self, script: str) -> LaunchOptions:
        """Options for a shell script in the debug container."""
        return LaunchOptions.from_settings(self.settings, command=("sh", "-c", script))

    def write_status(self) -> None:
        """Tell the benchmark how much each tab has received, and tab A's timeline."""
        status = {
            "counts": self.sessions.counts,
            "timeline": self.sessions.timeline,
            "collections": FULL_COLLECTIONS,
        }
        self.status_path.write_text(json.dumps(status))


FULL_COLLECTIONS: list[float] = []
"""Seconds each collection of the oldest generation took in the app, in order."""


def time_full_collections() -> None:
    """Note how long each collection of the oldest generation takes."""
    started = 0.0

    def timer(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info["generation"] != 2:
            return
        if phase == "start":
            started = time.perf_counter()
        else:
            FULL_COLLECTIONS.append(time.perf_counter() - started)

    gc.callbacks.append(timer)


def run_app(options: argparse.Namespace) -> None:
    """Run the product's app with two tabs on the local agent."""
    scratch = Path(options.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        kubeconfig=str(write_kubeconfig(scratch / "kubeconfig")),
        image=images.TOOLS_IMAGE,
        pull_policy="Never",
    )
    connections = Connections(settings, browser_factory=lambda kube: FixedBrowser())
    sessions = LocalSessions(port=options.port, target=options.target)
    # Every tab's session comes from the local agent.
    connections.sessions = lambda context, namespace: sessions  # type: ignore
    time_full_collections()
    app = TwoTabApp(
        settings,
        connections=connections,
        tab_b_script=options.tab_b,
        status_path=Path(options.status),
        sessions=sessions,
    )
    # As `kdebug_tui.app.run_app` does before it runs the app.
    tune_garbage_collector()
    if not options.profile:
        app.run()
        return
    profiler = cProfile.Profile()
    profiler.runcall(app.run)
    profiler.dump_stats(options.profile)


def main() -> None:
    """Parse options; run the benchmark, or the app when asked to (`--app`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument(
        "--profile",
        type=Path,
        help="write cProfile statistics of the app to DIR/quiet.prof, DIR/flood.prof",
        metavar="DIR",
    )
    parser.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--tab-b", help=argparse.SUPPRESS)
    parser.add_argument("--status", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.app:
        run_app(options)
        return
    machine()
    load_average("load_average_start")
    directory = Path(tempfile.mkdtemp(prefix="kdebug-bench-containerd-"))
    try:
        with local_agent(directory, agent_id="flood") as local:
            for name in TAB_B_COMMANDS:
                note(f"Typing in tab A while tab B runs {TAB_B_COMMANDS[name]!r}.")
                run_scenario(
                    name,
                    port=local.agent.port,
                    target=local.target,
                    keys=options.keys,
                    scratch=directory / "app",
                    agent_pid=local.agent.process.pid,
                    profile=options.profile,
                )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    load_average("load_average_end")


if __name__ == "__main__":
    main()
