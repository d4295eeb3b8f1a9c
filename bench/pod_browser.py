"""The pod browser with 10 000 pods: load time, filter key to redraw, memory.

The design's target: with 10 000 pods, a key typed in the `/` filter is drawn
within 50 ms, and the TUI stays under 250 MB resident. The benchmark creates
the pods in the real cluster, in a namespace of its own (``kdebug-bench-pods``):
Pending pods whose ``schedulerName`` no scheduler serves, so they cost the
node nothing, named like a Deployment's pods of twenty apps. They are created
with the Python client from a pool of threads, and deleted with their
namespace at the end.

It then runs the real ``kdebug-tui`` binary on a pseudo-terminal of its own
(200x50, as a user's terminal) and reads what the app writes, so every figure
includes the real input parsing, rendering and terminal output:

- initial load: from starting the process to the first frame that says
  ``pods (10000)``; ``kubectl get pods`` of the same namespace is timed in
  the same run as a reference;
- filter key to redraw: after `/`, each key of ``bill``, a backspace and Esc,
  from writing the key to the first output that shows the new count of
  matching pods (``pods (N/10000)``, computed here with the app's own filter
  rules); the round is repeated;
- resident memory of the app: sampled throughout; the peak is the kernel's
  high-water mark.

Run: ``.venv/bin/python bench/pod_browser.py [--pods 10000] [--rounds 40]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    PseudoTerminal,
    RssSampler,
    delete_namespace,
    ensure_cluster,
    figure,
    latencies,
    load_average,
    machine,
    note,
    scheduler_times,
    status_kib,
)
from kubernetes import client, config

from cluster import layout
from cluster.image_set import image_names
from cluster.kubectl import binaries_dir, kubectl
from kdebug_tui.widgets.resource_table import compile_filter

NAMESPACE = "kdebug-bench-pods"
SCHEDULER = "kdebug-bench-nobody"
"""A scheduler name nothing serves, so the pods stay Pending."""
APPS = (
    "web api worker cache queue search billing checkout cart catalog payments "
    "shipping users auth gateway metrics logging notifier scheduler reports"
).split()
SUFFIX_LETTERS = "bcdfghjklmnpqrstvwxz2456789"
"""The alphabet Kubernetes uses for generated name suffixes."""
CREATE_THREADS = 16
COLUMNS, LINES = 200, 50
KDEBUG = str(Path(sys.executable).parent / "kdebug-tui")
LOAD_TIMEOUT = 300.0
KEY_TIMEOUT = 10.0
FILTER_KEYS = ("b", "i", "l", "l", "\x7f", "\x1b")
"""Typed after `/` each round: a word, one backspace, Esc to clear the filter.

Letters only, none of them in an age (`s`, `m`, `h`, `d`, `y`) or in the
other cells of these pods (`0/1`, `Pending`, `0`), so the count of matching
rows depends on the names alone.
"""
KEY_NAMES = {"\x7f": "backspace", "\x1b": "escape"}


def pod_names(count: int) -> list[str]:
    """Unique names like a Deployment's pods: `app-replicaset-suffix`."""
    rng = random.Random(10_000)

    def suffix(length: int) -> str:
        return "".join(rng.choice(SUFFIX_LETTERS) for _ in range(length))

    replica_sets = {app: suffix(10) for app in APPS}
    names: dict[str, None] = {}
    while len(names) < count:
        app = APPS[len(names) % len(APPS)]
        names[f"{app}-{replica_sets[app]}-{suffix(5)}"] = None
    return list(names)


def pod_manifest(name: str, image: str) -> dict[str, object]:
    """A pod that no scheduler will ever place."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name.split("-")[0]}},
        "spec": {
            "schedulerName": SCHEDULER,
            "automountServiceAccountToken": False,
            "containers": [{"name": "app", "image": image}],
        },
    }


def create_pods(names: list[str]) -> None:
    """Create the namespace and the pods, in parallel through the API."""
    # A namespace left by an interrupted run goes first, with its pods.
    delete_namespace(NAMESPACE)
    note(f"Creating namespace {NAMESPACE} and {len(names)} Pending pods.")
    kubectl("create", "namespace", NAMESPACE)
    # The service account admission needs the namespace's default account.
    for _ in range(120):
        if kubectl("get", "serviceaccount", "-n", NAMESPACE, "default", check=False):
            break
        time.sleep(0.5)
    configuration = client.Configuration()
    config.load_kube_config(
        config_file=str(layout.ADMIN_KUBECONFIG), client_configuration=configuration
    )
    configuration.connection_pool_maxsize = CREATE_THREADS
    core = client.CoreV1Api(client.ApiClient(configuration))
    image = image_names().shell

    def create(name: str) -> None:
        for attempt in range(5):
            try:
                core.create_namespaced_pod(
                    NAMESPACE, pod_manifest(name, image), _preload_content=False
                )
                return
            except client.exceptions.ApiException as error:
                if error.status == 409:
                    return
                if attempt == 4:
                    raise
                time.sleep(1)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(CREATE_THREADS) as pool:
        list(pool.map(create, names))
    figure("pods_created", len(names))
    figure("pods_create_time", time.monotonic() - started, "s")


def time_kubectl_get() -> float:
    """The reference: `kubectl get pods` of the namespace, to the last line."""
    started = time.monotonic()
    subprocess.run(
        [
            str(binaries_dir() / "kubectl"),
            f"--kubeconfig={layout.USER_KUBECONFIG}",
            "get",
            "pods",
            "-n",
            NAMESPACE,
        ],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.monotonic() - started


def expected_counts(names: list[str]) -> list[bytes]:
    """The crumbs each key of a round should bring, as the app counts rows."""
    texts = ["\t".join((name, "0/1", "Pending", "0", "", "")) for name in names]
    total = len(names)
    typed = ""
    expected = []
    for key in FILTER_KEYS:
        typed = "" if key == "\x1b" else typed[:-1] if key == "\x7f" else typed + key
        pattern, inverted = compile_filter(typed)
        if pattern is None:
            expected.append(f"pods ({total})".encode())
            continue
        shown = sum((pattern.search(text) is None) == inverted for text in texts)
        expected.append(f"pods ({shown}/{total})".encode())
    return expected


def run_app(
    names: list[str], rounds: int, scratch: Path, *, profile: Path | None = None
) -> None:
    """Start the app, wait for the pods, type filters, and read the figures."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KDEBUG_")}
    environment.update(
        TERM="xterm-256color",
        KUBECONFIG=str(layout.USER_KUBECONFIG),
        KDEBUG_NAMESPACE=NAMESPACE,
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_STATE_HOME=str(scratch / "state"),
        XDG_CACHE_HOME=str(scratch / "cache"),
    )
    argv = [KDEBUG]
    if profile is not None:
        argv = [sys.executable, "-m", "cProfile", "-o", str(profile), KDEBUG]
    terminal = PseudoTerminal(
        argv, environment=environment, columns=COLUMNS, lines=LINES
    )
    pid = terminal.process.pid
    total = len(names)
    try:
        with RssSampler(pid) as sampler:
            loaded = terminal.wait_for(f"pods ({total})".encode(), LOAD_TIMEOUT)
            figure("initial_load", loaded - terminal.started, "s")
            figure("tui_rss_loaded", status_kib(pid, "VmRSS") / 1024, "MiB")
            terminal.drain(1.0)
            expected = expected_counts(names)
            typed: list[float] = []
            cpu: list[float] = []
            queued: list[float] = []
            by_key: dict[str, list[float]] = {}
            for _ in range(rounds):
                terminal.press("/")
                terminal.drain()
                for key, crumbs in zip(FILTER_KEYS, expected, strict=True):
                    running, waiting = scheduler_times(pid)
                    pressed = terminal.press(key)
                    elapsed = terminal.wait_for(crumbs, KEY_TIMEOUT) - pressed
                    ran, waited = scheduler_times(pid)
                    if key != "\x1b":
                        cpu.append(ran - running)
                        queued.append(waited - waiting)
                    if key != "\x1b":
                        typed.append(elapsed)
                    by_key.setdefault(KEY_NAMES.get(key, key), []).append(elapsed)
                    terminal.drain(0.1)
            # Esc is reported apart: a terminal app must wait a moment after
            # a bare Esc to tell it from the start of an escape sequence.
            latencies("filter_key_to_redraw", typed)
            latencies("filter_escape_to_redraw", by_key["escape"])
            # The app's own CPU time per key, and its time waiting for a CPU
            # taken by other processes: the load of this shared machine.
            latencies("filter_key_app_cpu", cpu)
            latencies("filter_key_app_runqueue_wait", queued)
            for name, values in by_key.items():
                figure(f"filter_key_{name}_p50", statistics.median(values) * 1000, "ms")
            figure("tui_rss_after_filtering", status_kib(pid, "VmRSS") / 1024, "MiB")
        peak = max(sampler.peak_kib, status_kib(pid, "VmHWM"))
        figure("tui_rss_peak", peak / 1024, "MiB")
    finally:
        terminal.close()


def main() -> None:
    """Create the pods, measure, and delete the namespace."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--profile",
        type=Path,
        help="run the app under cProfile and write its statistics to FILE",
        metavar="FILE",
    )
    options = parser.parse_args()
    machine()
    load_average("load_average_start")
    ensure_cluster()
    names = pod_names(options.pods)
    try:
        create_pods(names)
        figure("kubectl_get_pods", time_kubectl_get(), "s")
        with tempfile.TemporaryDirectory(prefix="kdebug-bench-") as scratch:
            run_app(names, options.rounds, Path(scratch), profile=options.profile)
    finally:
        delete_namespace(NAMESPACE)
    load_average("load_average_end")


if __name__ == "__main__":
    main()
