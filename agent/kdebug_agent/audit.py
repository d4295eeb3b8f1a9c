"""The audit log: one JSON line when a session starts and one when it ends.

It records who started which session against which target, when, with which
image, and how it ended. Tokens, registry credentials and terminal input never
reach it: only the fields named here are written.
"""

import datetime
import json
import sys
import threading
from pathlib import Path
from typing import IO, Any

from kdebug_agent.protocol import SessionRequest


class AuditLog:
    """Appends audit records to a file or to stdout."""

    def __init__(self, destination: str, *, host_root: Path) -> None:
        self._lock = threading.Lock()
        self._stream: IO[str]
        if destination == "-":
            self._stream = sys.stdout
            self._owned = False
        else:
            path = host_root / destination.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("a", encoding="utf-8")
            self._owned = True

    def session_started(
        self, session_id: str, request: SessionRequest, *, peer: str
    ) -> None:
        """Record the start of a session."""
        self._write(
            event="session-started",
            session=session_id,
            user=request.user,
            peer=peer,
            target=request.target,
            labels=dict(request.labels),
            image=request.image,
            command=list(request.command),
            namespaces=list(request.namespaces),
            privileged=request.privileged,
        )

    def session_ended(self, session_id: str, *, outcome: str) -> None:
        """Record how a session ended (an exit code or a failure reason)."""
        self._write(event="session-ended", session=session_id, outcome=outcome)

    def close(self) -> None:
        """Close the file, if the log owns one."""
        if self._owned:
            self._stream.close()

    def _write(self, **fields: Any) -> None:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = json.dumps({"time": now, **fields}, sort_keys=True)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
