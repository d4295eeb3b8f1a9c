"""Record real programs' output and tmux's view of it, for replay tests.

Each session runs ``bash`` in a detached tmux pane of a fixed size with
``TERM=xterm-256color``, copies everything the pane's programs write into
``<name>.bin`` (``pipe-pane``), types keys into it, and at each checkpoint
waits for the output to settle, then stores tmux's own rendering of the pane
(text, cursor, alternate screen) with the byte offset reached. tmux is an
independent terminal emulator, so its screens are the expected ones.

Run from the repository: ``.venv/bin/python tests/captured/record.py [NAME...]``.
Needs tmux, bash, vim, less and top (procps).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOCKET = "kdebug-record"
COLUMNS, LINES = 80, 24

Step = tuple[str, str]

_LONG_JAPANESE = "日本語のテキストが端末の右端で折り返されるかどうか確認する行"

SESSIONS: dict[str, list[Step]] = {
    "vim_edit": [
        ("type", "printf 'before vim\\n'\n"),
        ("checkpoint", "shell"),
        ("type", "vim -u NONE -N -i NONE -n notes.txt\n"),
        ("checkpoint", "vim opened"),
        ("keys", "G"),
        ("type", "oadded line"),
        ("keys", "Escape"),
        ("keys", "Up"),
        ("keys", "Up"),
        ("type", "x"),
        ("checkpoint", "vim edited"),
        ("type", ":wq\n"),
        ("checkpoint", "vim left"),
    ],
    "less_pager": [
        ("type", "seq 1 200 | less\n"),
        ("checkpoint", "first page"),
        ("keys", "Space"),
        ("checkpoint", "second page"),
        ("type", "q"),
        ("checkpoint", "less left"),
    ],
    "top_refresh": [
        ("type", "top -d 1\n"),
        ("checkpoint", "first frame"),
        ("wait", "2.5"),
        ("checkpoint", "later frame"),
        ("type", "q"),
        ("checkpoint", "top left"),
    ],
    "ls_colour": [
        ("type", "ls --color=always -F tree\n"),
        ("checkpoint", "listing"),
    ],
    "wide_combining": [
        ("type", "printf '\\344\\270\\255\\346\\226\\207 wide\\n'\n"),
        ("type", "printf 'e\\314\\201 cafe\\314\\201 n\\314\\203o\\n'\n"),
        ("type", "printf '%s\\n' " + _LONG_JAPANESE + "\n"),
        ("checkpoint", "text"),
    ],
}


def _tmux(*args: str) -> str:
    command = ["tmux", "-L", SOCKET, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _prepare_home(home: Path) -> None:
    (home / "notes.txt").write_text("".join(f"note {n}\n" for n in range(1, 31)))
    tree = home / "tree"
    for directory in ("bin", "etc", "var"):
        (tree / directory).mkdir(parents=True)
    (tree / "run.sh").write_text("#!/bin/sh\n")
    (tree / "run.sh").chmod(0o755)
    (tree / "readme.txt").write_text("hello\n")
    (tree / "link").symlink_to("readme.txt")


def _wait_quiet(path: Path, quiet: float = 0.4, limit: float = 10.0) -> int:
    """Wait until the recording has started and stopped growing; return its size."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        current = path.stat().st_size if path.exists() else 0
        if current == 0:
            time.sleep(0.05)
            continue
        if current != size:
            size, since = current, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return size
        time.sleep(0.05)
    return size


def _checkpoint(name: str, output: Path) -> dict[str, object]:
    offset = _wait_quiet(output)
    screen = _tmux("capture-pane", "-p", "-t", "record").split("\n")[:LINES]
    cursor = _tmux("display", "-p", "-t", "record", "#{cursor_x} #{cursor_y}")
    alternate = _tmux("display", "-p", "-t", "record", "#{alternate_on}")
    x, y = (int(value) for value in cursor.split())
    return {
        "name": name,
        "offset": offset,
        "screen": screen,
        "cursor": [x, y],
        "alternate": alternate.strip() == "1",
    }


def record(name: str, steps: list[Step]) -> None:
    """Run one session and write ``<name>.bin`` and ``<name>.json``."""
    output = HERE / f"{name}.bin"
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as directory:
        home = Path(directory)
        _prepare_home(home)
        environment = {
            "TERM": "xterm-256color",
            "HOME": str(home),
            "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8",
        }
        # The pause lets pipe-pane attach before the first prompt is drawn.
        shell = f"sleep 1; cd {home}; exec env -i PS1='$ ' "
        shell += " ".join(f"{key}={value}" for key, value in environment.items())
        shell += " bash --norc --noprofile -i"
        size = ["-x", str(COLUMNS), "-y", str(LINES)]
        _tmux("new-session", "-d", "-s", "record", *size, shell)
        try:
            _tmux("set-option", "-t", "record", "status", "off")
            _tmux("pipe-pane", "-t", "record", "-o", f"cat >> {output}")
            checkpoints = _run_steps(steps, output)
        finally:
            _tmux("kill-server")
    document = {"size": [COLUMNS, LINES], "checkpoints": checkpoints}
    (HERE / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")


def _run_steps(steps: list[Step], output: Path) -> list[dict[str, object]]:
    checkpoints = []
    _wait_quiet(output)
    for kind, value in steps:
        if kind == "type":
            _tmux("send-keys", "-t", "record", "-l", value)
        elif kind == "keys":
            _tmux("send-keys", "-t", "record", value)
        elif kind == "wait":
            time.sleep(float(value))
        elif kind == "checkpoint":
            checkpoints.append(_checkpoint(value, output))
    return checkpoints


def main() -> None:
    """Record the sessions named on the command line, or all of them."""
    if shutil.which("tmux") is None:
        sys.exit("tmux is needed to record sessions")
    for name in sys.argv[1:] or list(SESSIONS):
        record(name, SESSIONS[name])
        print(f"recorded {name}")


if __name__ == "__main__":
    main()
