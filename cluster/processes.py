"""Starting the cluster's daemons in the background and stopping them by PID.

Each daemon runs in its own session so that it outlives the command that started
it; its PID and kernel start time go into a file under the run directory, and only
a process matching both is ever signalled, so a recycled PID is never mistaken for
ours. Output goes to one log file per daemon.
"""

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from cluster import layout
from cluster.errors import ClusterError

logger = logging.getLogger(__name__)


def start_daemon(
    name: str,
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start a daemon detached from this process and record its PID.

    Returns:
        The daemon's PID.

    Raises:
        ClusterError: The program could not be started or exited at once.
    """
    layout.PID_DIR.mkdir(parents=True, exist_ok=True)
    layout.LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = log_file(name)
    command = [str(part) for part in argv]
    with log_path.open("ab") as log:
        log.write(f"\n=== {time.ctime()}: {' '.join(command)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=None if env is None else dict(env),
                start_new_session=True,
            )
        except OSError as error:
            raise ClusterError(f"Starting {name} failed: {error}.") from error

    _pid_file(name).write_text(f"{process.pid} {_start_time(process.pid)}\n")
    time.sleep(0.2)
    if process.poll() is not None:
        raise ClusterError(
            f"{name} exited at once with status {process.returncode}; "
            f"see {log_path}:\n{tail(log_path)}"
        )
    logger.info("Started %s (PID %d), logging to %s.", name, process.pid, log_path)
    return process.pid


def daemon_pid(name: str) -> int | None:
    """Return the PID of a daemon we started if that very process still runs."""
    try:
        pid_text, start_text = _pid_file(name).read_text().split()
    except (FileNotFoundError, ValueError):
        return None

    pid = int(pid_text)
    if _start_time(pid) != start_text or _is_zombie(pid):
        return None
    return pid


def recorded_daemons() -> list[str]:
    """Return the names of all daemons with a PID file, running or not."""
    return sorted(path.stem for path in layout.PID_DIR.glob("*.pid"))


def stop_daemon(name: str, *, timeout: float = 20) -> None:
    """Stop a daemon with SIGTERM, then SIGKILL, and forget its PID."""
    pid = daemon_pid(name)
    if pid is not None:
        logger.info("Stopping %s (PID %d).", name, pid)
        stop_process(pid, timeout=timeout)
    _pid_file(name).unlink(missing_ok=True)


def stop_process(pid: int, *, timeout: float = 20) -> None:
    """Stop one process by PID: SIGTERM, a grace period, then SIGKILL."""
    start = _start_time(pid)
    if start is None:
        return

    def still_ours() -> bool:
        return _start_time(pid) == start and not _is_zombie(pid)

    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while still_ours() and time.monotonic() < deadline:
        time.sleep(0.1)
    if still_ours():
        logger.info("PID %d ignored SIGTERM for %.0f s; killing it.", pid, timeout)
        _signal(pid, signal.SIGKILL)
        while still_ours():
            time.sleep(0.05)


def log_file(name: str) -> Path:
    """Return the log file of a daemon."""
    return layout.LOG_DIR / f"{name}.log"


def tail(path: Path, *, lines: int = 15) -> str:
    """Return the last lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _signal(pid: int, signum: signal.Signals) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _pid_file(name: str) -> Path:
    return layout.PID_DIR / f"{name}.pid"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in parentheses may itself contain spaces and parentheses.
    return text[text.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return None if fields is None else fields[19]


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")
