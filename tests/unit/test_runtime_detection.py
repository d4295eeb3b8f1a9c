"""Which runtimes the agent tries on a node, and what it says when none answers."""

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import asyncio, sys
from pathlib import Path
from kdebug_agent.errors import RuntimeUnavailable
from kdebug_agent.runtimes import open_runtimes

try:
    asyncio.run(open_runtimes("auto", host_root=Path(sys.argv[1]), state_dir="/s"))
except RuntimeUnavailable as error:
    print(error)
print("docker imported:", "kdebug_agent.runtimes.docker" in sys.modules)
"""


def test_without_a_docker_socket_the_docker_backend_is_not_even_imported(
    tmp_path: Path,
) -> None:
    """Importing it costs a starting agent about a second on a busy node."""
    # A process of its own: other tests may have imported the backend already.
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    message, imported = result.stdout.strip().splitlines()
    assert "dockerd's socket /var/run/docker.sock does not exist" in message
    assert "containerd" in message.split("dockerd")[0]
    assert imported == "docker imported: False"
