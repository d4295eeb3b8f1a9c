"""Running the host's programs and waiting for things to become true."""

import logging
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cluster.errors import ClusterError

logger = logging.getLogger(__name__)

OUTPUT_TAIL = 2000
"""How much of a failed command's output an error message quotes."""


def run(
    argv: Sequence[str | Path],
    *,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a program to completion and return what it printed.

    Raises:
        ClusterError: The program could not be started, timed out, or (with
            `check`) exited non-zero; the message quotes the end of its output.
    """
    command = [str(part) for part in argv]
    try:
        result = subprocess.run(
            command,
            input=input_text,
            capture_output=True,
            text=True,
            env=None if env is None else dict(env),
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ClusterError(f"Running {' '.join(command)} failed: {error}.") from error

    if check and result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip())[-OUTPUT_TAIL:]
        raise ClusterError(
            f"{' '.join(command)} exited with status {result.returncode}: {output}"
        )
    return result


def wait_until(
    condition: Callable[[], str | None],
    *,
    what: str,
    timeout: float,
    interval: float = 0.5,
) -> None:
    """Poll a condition until it holds.

    Args:
        condition: Returns None once the awaited state is reached, otherwise a
            short description of what is still missing, quoted if time runs out.
        what: The awaited state, as the end of the sentence "Timed out waiting
            for ...".
        timeout: Seconds to wait at most.
        interval: Seconds between two polls.

    Raises:
        ClusterError: The condition did not hold within the timeout.
    """
    deadline = time.monotonic() + timeout
    missing = condition()
    while missing is not None:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"Timed out after {timeout:.0f} s waiting for {what}: {missing}"
            )
        time.sleep(interval)
        missing = condition()
