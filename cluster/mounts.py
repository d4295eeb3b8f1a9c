"""Finding and removing the mounts below a directory."""

import ctypes
import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

MNT_DETACH = 2


def mounts_below(*directories: Path) -> list[str]:
    """Return the mount points at or below any of the directories."""
    roots = [str(directory) for directory in directories]
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        if any(point == root or point.startswith(f"{root}/") for root in roots):
            points.append(point)
    return points


def unmount_below(*directories: Path) -> None:
    """Detach every mount at or below the directories, deepest first."""
    libc = ctypes.CDLL(None, use_errno=True)
    # Mounts may be stacked on one point, so go round until none is left.
    for _ in range(10):
        points = mounts_below(*directories)
        if not points:
            return
        for point in sorted(points, key=len, reverse=True):
            if libc.umount2(point.encode(), MNT_DETACH) != 0:
                error = os.strerror(ctypes.get_errno())
                logger.info("Unmounting %s failed: %s.", point, error)


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)
