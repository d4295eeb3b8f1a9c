"""The architecture's layers, as import-linter enforces them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_linter_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


HEADLESS_IMPORTS = """
import sys
import kdebug_tui.cli
from kdebug_tui.backend import kube, session
from kdebug_tui import headless
heavy = ("textual", "kubernetes.client.api.", "kubernetes.client.models.")
print(" ".join(sorted(m for m in sys.modules if m.startswith(heavy))))
"""


def test_the_headless_session_imports_neither_textual_nor_the_api_models() -> None:
    """Both cost `kdebug-tui debug` a large part of its start-up before a shell."""
    # A process of its own: this one has imported everything already.
    result = subprocess.run(
        [sys.executable, "-c", HEADLESS_IMPORTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split() == []
