"""What the benchmarks share: figures, process memory, the machine's load.

Importing this module puts the checkout's root on ``sys.path``, so that a
benchmark run as ``.venv/bin/python bench/NAME.py`` can reuse the test fixtures
(``tests.fixtures``, ``tests.runtime``) and the cluster package (``cluster``)
the way the tests do. Every figure is printed as one ``name: value unit`` line;
nothing here asserts a timing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import select
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

CLUSTER_SCRIPT = REPO_DIR / "scripts" / "cluster"
CLUSTER_UP_TIMEOUT = 1800.0
"""Seconds `scripts/cluster up` may take when it has to build images."""


def figure(name: str, value: float | int | str, unit: str = "") -> None:
    """Print one figure as ``name: value unit``."""
    if isinstance(value, float):
        value = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    print(f"{name}: {value} {unit}".rstrip(), flush=True)


def note(sentence: str) -> None:
    """Print a sentence about the run (setup, cleanup, a caveat) on stderr."""
    print(sentence, file=sys.stderr, flush=True)


def load_average(name: str) -> None:
    """Print the 1, 5 and 15 minute load averages: the machine is shared."""
    one, five, fifteen = os.getloadavg()
    figure(name, f"{one:.2f} {five:.2f} {fifteen:.2f}", "(1/5/15 min)")


def machine() -> None:
    """Print the cores and memory this run had."""
    figure("cores", os.cpu_count() or 0)
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    figure("memory", pages / 2**30, "GiB")


def status_kib(pid: int, field: str) -> int:
    """Return a ``/proc/PID/status`` field in KiB (``VmRSS``, ``VmHWM``), 0 if gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scheduler_times(pid: int) -> tuple[float, float]:
    """Seconds a process's threads have run on a CPU, and waited for one.

    The wait is the time they were ready to run while the CPUs were busy with
    other work: on this shared machine, it tells how much of a latency is the
    load of other processes rather than the program's own work.
    """
    running = waiting = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (task / "schedstat").read_text().split()
                running += int(fields[0])
                waiting += int(fields[1])
    return running / 1e9, waiting / 1e9


class RssSampler:
    """Samples a process's resident memory in a thread and keeps the highest."""

    def __init__(self, pid: int, *, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = status_kib(pid, "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._sample, name="rss-sampler", daemon=True
        )

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile (``fraction`` 0.99 for p99)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(math.ceil(fraction * len(ordered)) - 1, 0)
    return ordered[rank]


def latencies(prefix: str, seconds: Sequence[float]) -> None:
    """Print count, p50, p99 and max of latencies, in milliseconds."""
    figure(f"{prefix}_samples", len(seconds))
    if not seconds:
        return
    figure(f"{prefix}_p50", statistics.median(seconds) * 1000, "ms")
    figure(f"{prefix}_p99", percentile(seconds, 0.99) * 1000, "ms")
    figure(f"{prefix}_max", max(seconds) * 1000, "ms")


def ensure_cluster() -> None:
    """Reuse the running test cluster, or bring it up if none runs; never take it down.

    The cluster is shared: `scripts/cluster up` clears a cluster it finds partly
    running before starting afresh, which would pull it from under whoever is
    using it, so `up` runs only when no daemon of it runs at all.

    Raises:
        SystemExit: the cluster runs only in part, or could not be brought up.
    """
    state = json.loads(_cluster("status", "--json").stdout)
    running = [name for name, pid in state["daemons"].items() if pid is not None]
    if len(running) == len(state["daemons"]) and state["node"] == "Ready":
        note("The test cluster runs; the benchmark uses it as it is.")
        return
    if running:
        raise SystemExit(
            f"The test cluster runs only in part ({', '.join(running)}; node "
            f"{state['node']}). The benchmark leaves it alone: bring it up with "
            "`scripts/cluster up` once nobody else uses it, then run again."
        )
    note("No test cluster runs; bringing it up (scripts/cluster up).")
    started = time.monotonic()
    result = _cluster("up", timeout=CLUSTER_UP_TIMEOUT)
    if result.returncode != 0:
        note(result.stdout[-4000:])
        raise SystemExit("The test cluster could not be brought up; see above.")
    note(f"The cluster was up after {time.monotonic() - started:.0f} s.")


def _cluster(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLUSTER_SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if args[0] == "up" else None,
        text=True,
        timeout=timeout,
        check=args[0] != "up",
    )


TARGET_CONTAINER = "app"
"""The container of the target pods the benchmarks make."""
IDLE_SCRIPT = "trap 'exit 0' TERM; while true; do sleep 1; done"


def create_target(namespace: str, pod: str = "target") -> None:
    """Create a namespace of the benchmark's own and a running shell pod in it.

    The benchmarks never touch the demo pods: `kubectl debug` adds ephemeral
    containers that cannot be removed again, so it gets a pod that goes away
    with its namespace.
    """
    from cluster.image_set import image_names
    from cluster.kubectl import kubectl
    from cluster.workloads import as_list

    manifests = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod, "namespace": namespace},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": TARGET_CONTAINER,
                        "image": image_names().shell,
                        "imagePullPolicy": "Never",
                        "command": ["sh", "-c", IDLE_SCRIPT],
                    }
                ],
            },
        },
    ]
    note(f"Creating namespace {namespace} with a target pod {pod}.")
    kubectl("apply", "-f", "-", input_text=as_list(manifests))
    kubectl(
        "wait", "-n", namespace, "--for=condition=Ready", f"pod/{pod}", "--timeout=120s"
    )


def delete_namespace(namespace: str) -> None:
    """Delete a namespace the benchmark made and wait until it is gone.

    Raises:
        SystemExit: the API server did not answer (the shared cluster may have
            been taken down meanwhile, which removes the namespace too).
    """
    from cluster.errors import ClusterError
    from cluster.kubectl import kubectl

    note(f"Deleting namespace {namespace}.")
    try:
        kubectl(
            "delete",
            "namespace",
            namespace,
            "--ignore-not-found",
            "--wait",
            timeout=600,
        )
    except ClusterError as error:
        raise SystemExit(
            f"Namespace {namespace} could not be deleted ({error}). If the cluster "
            f"still runs, delete it with `kubectl delete namespace {namespace}`."
        ) from error


def delete_agent_pods(names: set[str], namespace: str = "default") -> None:
    """Delete the agent pods a benchmark started that are still there, and wait."""
    from cluster.kubectl import kubectl

    if names:
        kubectl(
            "delete",
            "pod",
            "-n",
            namespace,
            "--ignore-not-found",
            "--wait",
            *names,
            timeout=120,
        )


@dataclasses.dataclass(frozen=True)
class LocalAgent:
    """A private containerd, a running target in it, and a kdebug-agent on it."""

    containerd: Any
    """The `tests.fixtures.containerd.ContainerdDaemon`."""
    target: str
    """The container ID of a running busybox `sleep`."""
    agent: Any
    """The `tests.runtime.agent_process.AgentProcess`."""


@contextlib.contextmanager
def local_agent(directory: Path, *, agent_id: str) -> Iterator[LocalAgent]:
    """Start what the runtime tests start, with their own code; remove it after.

    The test images are built (or taken from their cache) and imported into a
    containerd of its own under `directory`, which must be empty.
    """
    from cluster import images
    from tests.fixtures import containerd as fixture
    from tests.runtime.agent_process import start_agent

    # Root in a debug container must be able to pass through, as in the tests.
    directory.chmod(0o711)
    note(f"Starting a private containerd in {directory}.")
    tars = fixture._build_images(directory)
    daemon = fixture._start(directory, tars)
    agent = None
    try:
        fixture._wait_until_ready(daemon)
        fixture._check_cri_plugin(daemon)
        for tar in tars.values():
            images.import_image(tar, address=daemon.address)
        target = fixture._run_target(daemon, images.BUSYBOX_IMAGE, "sleep", "1000000")
        agent = start_agent(daemon.address, directory / "agent", agent_id=agent_id)
        yield LocalAgent(containerd=daemon, target=target.container_id, agent=agent)
    finally:
        if agent is not None:
            agent.stop()
        note("Stopping the private containerd and removing its directory.")
        fixture._stop(daemon)


def _controlling_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PseudoTerminal:
    """A program on a pseudo-terminal of our own, as in a user's terminal.

    Everything the program writes is read and kept, so a benchmark can wait for
    a piece of output and tell when it arrived, and render the screen with
    pyte when something it waited for never came.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        environment: dict[str, str],
        columns: int,
        lines: int,
    ) -> None:
        self.columns, self.lines = columns, lines
        self.master, slave = os.openpty()
        size = struct.pack("HHHH", lines, columns, 0, 0)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)
        self.output = b""
        """What the program wrote since the last key or drain."""
        self.transcript = bytearray()

    def read(self) -> bytes:
        """Read what the program wrote, keeping a transcript.

        Raises:
            EOFError: the program closed the terminal (it exited); the message
                shows its last screen.
        """
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:
            data = b""
        if not data:
            raise EOFError(
                f"The program exited ({self.process.wait()}); its screen shows:\n"
                f"{self.screen_text()}"
            )
        self.transcript += data
        return data

    def screen_text(self) -> str:
        """The screen as the transcript draws it, to say what the program showed."""
        import pyte

        screen = pyte.Screen(self.columns, self.lines)
        pyte.ByteStream(screen).feed(bytes(self.transcript))
        return "\n".join(line.rstrip() for line in screen.display if line.strip())

    def wait_for(self, text: bytes, timeout: float) -> float:
        """Read until `text` is in the output; return the time it arrived.

        Raises:
            TimeoutError: it did not arrive; the message shows the screen.
        """
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{text!r} did not appear; the screen shows:\n{self.screen_text()}"
                )
            if select.select([self.master], [], [], remaining)[0]:
                self.output += self.read()
        return time.monotonic()

    def drain(self, quiet: float = 0.3) -> None:
        """Read until the program has written nothing for `quiet` seconds."""
        while select.select([self.master], [], [], quiet)[0]:
            self.read()
        self.output = b""

    def press(self, key: str) -> float:
        """Write a key and forget earlier output; return when it was written."""
        self.output = b""
        os.write(self.master, key.encode())
        return time.monotonic()

    def close(
        self, quit_keys: Sequence[str] = ("\x11",), timeout: float = 20.0
    ) -> None:
        """Type `quit_keys` a moment apart and wait; kill our child if it hangs."""
        with contextlib.suppress(OSError, EOFError):
            for key in quit_keys:
                os.write(self.master, key.encode())
                self.drain(0.5)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.2)[0]:
                with contextlib.suppress(EOFError):
                    self.read()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self.master)
