"""Locks that tell the debug containers of live agents from those of dead ones.

Each agent holds an exclusive `flock` on a file named after its instance id in
a host directory shared by every agent on the node. The kernel drops the lock
when the agent dies, however it dies, so a new agent can tell whose containers
are orphans without trusting any clock or process id.
"""

import fcntl
import logging
import os
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# Another agent checking this lock holds it for a moment and may unlink the
# file just created; a few retries tell that from a second agent with our id.
ACQUIRE_ATTEMPTS = 50
ACQUIRE_RETRY_DELAY = 0.01


class OwnerLock:
    """This agent's lock, plus the check for other agents' locks."""

    def __init__(self, directory: Path, agent_id: str) -> None:
        self._directory = directory
        self._agent_id = agent_id
        self._fd: int | None = None

    def acquire(self) -> None:
        """Create and lock this agent's file; held until `release` or death.

        Raises:
            BlockingIOError: another live agent holds a lock with this id.
        """
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._path(self._agent_id)
        for attempt in range(ACQUIRE_ATTEMPTS):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if _locked_in_place(fd, path):
                self._fd = fd
                return
            os.close(fd)
            if attempt + 1 < ACQUIRE_ATTEMPTS:
                time.sleep(ACQUIRE_RETRY_DELAY)
        raise BlockingIOError(f"Another agent holds the lock {path}.")

    def release(self) -> None:
        """Drop the lock and remove the file."""
        if self._fd is None:
            return
        self._path(self._agent_id).unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def owner_alive(self, agent_id: str) -> bool:
        """Tell whether the agent with this id still holds its lock."""
        if agent_id == self._agent_id:
            return True
        if not agent_id or "/" in agent_id or agent_id.startswith("."):
            return False
        path = self._path(agent_id)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            logger.info("Agent %s is gone; its lock file is removed.", agent_id)
            path.unlink(missing_ok=True)
            return False
        finally:
            os.close(fd)

    def _path(self, agent_id: str) -> Path:
        return self._directory / f"{agent_id}.lock"


def _locked_in_place(fd: int, path: Path) -> bool:
    """Lock `fd` and tell whether it is still the file at `path`.

    A checker that found the file unlocked, between its creation and the lock,
    took its owner for dead and unlinked it; a lock on that file would then be
    invisible, and the agent's containers would pass for orphans.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
