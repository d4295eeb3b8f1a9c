"""Ctrl-C before a session: the CLI ends quietly with 130, never a traceback."""

import os
import subprocess
import sys
import textwrap

# Stands for a Ctrl-C that arrives while the CLI's modules are still loading:
# the import of the backend raises KeyboardInterrupt as the signal would.
INTERRUPTED_IMPORT = textwrap.dedent(
    """
    import sys

    class Interrupting:
        def find_spec(self, name, path=None, target=None):
            if name == "kdebug_tui.backend.settings":
                raise KeyboardInterrupt
            return None

    sys.meta_path.insert(0, Interrupting())
    from kdebug_tui.cli import main

    main(["debug", "web"])
    """
)


class TestCtrlCWhileLoading:
    def test_ctrl_c_during_the_imports_exits_130_without_a_traceback(self) -> None:
        result = subprocess.run(
            [sys.executable, "-c", INTERRUPTED_IMPORT],
            capture_output=True,
            text=True,
            env=os.environ,
            timeout=60,
            check=False,
        )
        assert (result.returncode, result.stderr) == (130, "")
