"""Record a short shell session, as a debug tab receives it, for the tab snapshot.

It runs bash in a pseudo-terminal of 100x26 cells with a prompt that sets the
window title (OSC 0), types a few commands a user types in a debug container,
and stores every byte bash wrote in `debug_shell.bin`.

Run from the repository: `.venv/bin/python tests/tui/captured/record_shell.py`.
"""

import fcntl
import os
import pty
import select
import struct
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS, LINES = 100, 26
PROMPT = (
    r"\[\e]0;root@web: \W\a\]\[\e[1;32m\]root@web\[\e[0m\]:\[\e[1;34m\]\W\[\e[0m\]# "
)
COMMANDS = ["cd target", "ls --color=always -F", "ps -o pid,user,comm", "stty size"]
TARGET = ("bin/", "etc/", "usr/", "var/", "app.py", "run.sh*", "config@")


def read_for(fd: int, seconds: float) -> bytes:
    """Read what the shell writes during `seconds`."""
    data = bytearray()
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                data += os.read(fd, 65536)
            except OSError:
                break
    return bytes(data)


def make_target(path: Path) -> None:
    """A small root filesystem for `ls` to list."""
    for entry in TARGET:
        name = path / entry.rstrip("/*@")
        if entry.endswith("/"):
            name.mkdir(parents=True)
        elif entry.endswith("@"):
            name.symlink_to("etc")
        else:
            name.write_text("")
            name.chmod(0o755 if entry.endswith("*") else 0o644)


def main() -> None:
    """Record the session."""
    root = Path(tempfile.mkdtemp()) / "root"
    make_target(root / "target")
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(root)
        env = {
            "TERM": "xterm-256color",
            "PS1": PROMPT,
            "HOME": "/root",
            "PATH": "/usr/bin:/bin",
        }
        os.execvpe("bash", ["bash", "--norc", "--noprofile", "-i"], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    recorded = read_for(fd, 1.0)
    for command in COMMANDS:
        os.write(fd, command.encode() + b"\r")
        recorded += read_for(fd, 1.0)
    os.write(fd, b"exit\r")
    read_for(fd, 0.5)
    (HERE / "debug_shell.bin").write_bytes(recorded)


if __name__ == "__main__":
    main()
