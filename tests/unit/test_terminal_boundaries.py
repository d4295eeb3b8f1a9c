"""The terminal engine stays Sans-I/O: it imports neither Textual nor asyncio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHECK = """
import sys
import kdebug_tui.terminal
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("textual", "asyncio", "kdebug_tui")
    and not name.startswith("kdebug_tui.terminal")
    and name != "kdebug_tui"
)
print(",".join(loaded))
"""


def test_importing_the_engine_loads_no_textual_asyncio_or_other_client_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _CHECK],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.strip() == ""
