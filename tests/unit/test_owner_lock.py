"""The locks that tell live agents' debug containers from orphans."""

import fcntl
from pathlib import Path

import pytest

from kdebug_agent import owners
from kdebug_agent.owners import OwnerLock


class TestOwnerLock:
    def test_a_live_agent_is_alive_and_a_released_one_is_not(
        self, tmp_path: Path
    ) -> None:
        lock = OwnerLock(tmp_path, "first")
        lock.acquire()
        checker = OwnerLock(tmp_path, "checker")
        assert checker.owner_alive("first")
        lock.release()
        assert not checker.owner_alive("first")

    def test_a_lock_file_unlinked_by_a_checker_before_the_lock_is_made_again(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Fakes flock: the checker's unlink must land inside `acquire`."""
        real_flock = fcntl.flock
        checker = OwnerLock(tmp_path, "checker")
        raced: list[bool] = []

        def flock_after_a_check(fd: int, operation: int) -> None:
            if not raced:
                raced.append(True)
                # The checker finds the new file unlocked and removes it.
                assert not checker.owner_alive("starting")
            real_flock(fd, operation)

        monkeypatch.setattr(owners.fcntl, "flock", flock_after_a_check)
        lock = OwnerLock(tmp_path, "starting")
        lock.acquire()
        monkeypatch.setattr(owners.fcntl, "flock", real_flock)
        assert checker.owner_alive("starting")
        lock.release()

    def test_a_second_agent_with_the_same_id_is_refused(self, tmp_path: Path) -> None:
        first = OwnerLock(tmp_path, "same")
        first.acquire()
        with pytest.raises(BlockingIOError):
            OwnerLock(tmp_path, "same").acquire()
        first.release()
