"""The local store of agent pod tokens.

Only the SHA-256 of a token goes into an agent pod's spec, so a client can use
an agent pod only while it knows the token. Tokens live in a file readable by
the user alone, keyed by the pod's UID, so that several kdebug-tui processes
of one user share agent pods. A token never appears in a log or a message.
"""

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import platformdirs


def new_token() -> str:
    """Return a fresh random token."""
    return secrets.token_urlsafe(32)


class TokenStore:
    """A small JSON file of pod UID to token, locked while it is changed."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = (
            path or Path(platformdirs.user_state_dir("kdebug-tui")) / "agents.json"
        )

    def get(self, pod_uid: str) -> str | None:
        """Return the token of an agent pod, if this user created it."""
        with self._locked() as data:
            return data.get(pod_uid)

    def put(self, pod_uid: str, token: str) -> None:
        """Remember the token of an agent pod."""
        with self._locked(write=True) as data:
            data[pod_uid] = token

    def forget(self, pod_uids: set[str]) -> None:
        """Drop tokens of agent pods that are gone."""
        with self._locked(write=True) as data:
            for uid in pod_uids:
                data.pop(uid, None)

    @contextlib.contextmanager
    def _locked(self, *, write: bool = False) -> Iterator[dict[str, str]]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "r+", encoding="utf-8") as file:
            fcntl.flock(file, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            text = file.read()
            try:
                data = json.loads(text) if text.strip() else {}
            except ValueError:
                # A damaged store only costs new agent pods; start afresh.
                data = {}
            if not isinstance(data, dict):
                data = {}
            yield data
            if write:
                file.seek(0)
                file.truncate()
                json.dump(data, file)
