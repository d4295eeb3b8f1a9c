"""Record which bytes tmux sends for the cursor keys, in both cursor-key modes.

tmux is the independent terminal here. In an 80x24 pane running bash, the
session switches the cursor keys to application mode (DECCKM, `ESC [ ? 1 h`),
starts `od` on the raw terminal, and has tmux press up, down, right and left:
`od` prints the bytes tmux sent. Then the same in normal mode. Everything the
pane's programs write goes to `cursor_keys.bin` (`pipe-pane`); at each
checkpoint `cursor_keys.json` gets tmux's screen and the byte offset reached,
as `tests/captured/record.py` records its sessions.

Run from the repository: `.venv/bin/python tests/tui/captured/record_cursor_keys.py`.
Needs tmux, bash and od.
"""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "cursor_keys"
SOCKET = "kdebug-record-keys"
COLUMNS, LINES = 80, 24
ARROWS = ("Up", "Down", "Right", "Left")
# od waits for the four keys' bytes: three each in either mode.
READ_KEYS = "stty -icanon -echo; od -An -c -N 12; stty sane"
STEPS: list[tuple[str, str]] = [
    ("type", rf"printf '\033[?1h\033='; {READ_KEYS}" + "\n"),
    ("checkpoint", "application mode, od waiting"),
    *[("key", arrow) for arrow in ARROWS],
    ("checkpoint", "application mode, keys read"),
    ("type", rf"printf '\033[?1l\033>'; {READ_KEYS}" + "\n"),
    ("checkpoint", "normal mode, od waiting"),
    *[("key", arrow) for arrow in ARROWS],
    ("checkpoint", "normal mode, keys read"),
]


def tmux(*args: str) -> str:
    """Run a tmux command on the recording's own server."""
    command = ["tmux", "-L", SOCKET, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def wait_quiet(path: Path, *, quiet: float = 0.5, limit: float = 10.0) -> int:
    """Wait until the recording has stopped growing; return its size."""
    deadline = time.monotonic() + limit
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        current = path.stat().st_size if path.exists() else 0
        if current != size:
            size, since = current, time.monotonic()
        elif current and time.monotonic() - since >= quiet:
            break
        time.sleep(0.05)
    return size


def checkpoint(name: str, output: Path) -> dict[str, object]:
    """tmux's view of the pane now, with the recording's length."""
    offset = wait_quiet(output)
    screen = tmux("capture-pane", "-p", "-t", NAME).split("\n")[:LINES]
    cursor = tmux("display", "-p", "-t", NAME, "#{cursor_x} #{cursor_y}")
    modes = tmux("display", "-p", "-t", NAME, "#{alternate_on} #{keypad_cursor_flag}")
    alternate, application = (flag == "1" for flag in modes.split())
    x, y = (int(value) for value in cursor.split())
    return {
        "name": name,
        "offset": offset,
        "screen": screen,
        "cursor": [x, y],
        "alternate": alternate,
        "application_cursor_keys": application,
    }


def main() -> None:
    """Record the session."""
    output = HERE / f"{NAME}.bin"
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as home:
        # The pause lets pipe-pane attach before the first prompt is drawn.
        shell = (
            f"sleep 1; cd {home}; exec env -i PS1='$ ' TERM=xterm-256color "
            f"HOME={home} PATH={os.environ['PATH']} LANG=C.UTF-8 "
            "bash --norc --noprofile -i"
        )
        size = ["-x", str(COLUMNS), "-y", str(LINES)]
        tmux("new-session", "-d", "-s", NAME, *size, shell)
        try:
            tmux("set-option", "-t", NAME, "status", "off")
            tmux("pipe-pane", "-t", NAME, "-o", f"cat >> {output}")
            wait_quiet(output)
            checkpoints = []
            for kind, value in STEPS:
                if kind == "type":
                    tmux("send-keys", "-t", NAME, "-l", value)
                elif kind == "key":
                    tmux("send-keys", "-t", NAME, value)
                else:
                    checkpoints.append(checkpoint(value, output))
        finally:
            tmux("kill-server")
    document = {"size": [COLUMNS, LINES], "checkpoints": checkpoints}
    (HERE / f"{NAME}.json").write_text(json.dumps(document, indent=1) + "\n")


if __name__ == "__main__":
    main()
