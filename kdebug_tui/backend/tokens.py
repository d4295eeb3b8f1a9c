"""The local store of agent pod tokens.

Only the SHA-256 of a token goes into an agent pod's spec, so a client can use
an agent pod only while it knows the token. Tokens live in a file readable by
the user alone, keyed by the pod's UID, so that several kdebug-tui processes
of one user share agent pods. Each token is kept until its pod's lifetime ends,
when the pod is gone for sure, or until this client deletes the pod; a pod that
ended otherwise leaves its token for at most that long. A token never appears
in a log or a message.
"""

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeGuard

import platformdirs


def new_token() -> str:
    """Return a fresh random token."""
    return secrets.token_urlsafe(32)


class TokenStore:
    """A small JSON file of pod UID to token and expiry, locked while it changes.

    An entry is `{"token": ..., "expires": seconds since the epoch}`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = (
            path or Path(platformdirs.user_state_dir("kdebug-tui")) / "agents.json"
        )

    def get(self, pod_uid: str) -> str | None:
        """Return the token of an agent pod, if this user created it."""
        with self._locked() as data:
            entry = data.get(pod_uid)
        if not _live(entry, time.time()):
            return None
        token = entry.get("token")
        return token if isinstance(token, str) else None

    def put(self, pod_uid: str, token: str, *, expires: float) -> None:
        """Remember the token of an agent pod that ends by `expires` (epoch)."""
        with self._locked(write=True) as data:
            data[pod_uid] = {"token": token, "expires": expires}

    def forget(self, pod_uids: set[str]) -> None:
        """Drop tokens of agent pods that are gone."""
        with self._locked(write=True) as data:
            for uid in pod_uids:
                data.pop(uid, None)

    @contextlib.contextmanager
    def _locked(self, *, write: bool = False) -> Iterator[dict[str, object]]:
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
                now = time.time()
                for uid, entry in list(data.items()):
                    if not _live(entry, now):
                        del data[uid]
                file.seek(0)
                file.truncate()
                json.dump(data, file)


def _live(entry: object, now: float) -> TypeGuard[dict[str, object]]:
    """Tell whether a store entry holds a token whose pod may still live.

    An entry of another shape (a damaged or older store) counts as gone: it
    costs only a new agent pod.
    """
    if not isinstance(entry, dict):
        return False
    expires = entry.get("expires", 0)
    return isinstance(expires, int | float) and expires >= now
