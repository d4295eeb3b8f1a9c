"""Container runtime backends and how the agent picks the ones a node has."""

import logging
from pathlib import Path

from kdebug_agent.errors import RuntimeUnavailable
from kdebug_agent.runtimes.base import ContainerRuntime

logger = logging.getLogger(__name__)

DOCKER_SOCKET = "/var/run/docker.sock"
"""The host path of dockerd's socket unless the agent is told another."""


def _containerd(
    *, socket: str | None, host_root: Path, state_dir: str
) -> ContainerRuntime:
    from kdebug_agent.runtimes.containerd import ContainerdRuntime

    return ContainerdRuntime(
        socket=socket, host_root=host_root, fifo_dir=f"{state_dir}/fifo"
    )


async def open_runtimes(
    wanted: str,
    *,
    host_root: Path,
    state_dir: str,
    containerd_socket: str | None = None,
    docker_socket: str | None = None,
) -> dict[str, ContainerRuntime]:
    """Connect to the runtimes that answer on this node.

    Args:
        wanted: `containerd`, `docker`, or `auto` for every runtime that answers.

    Returns:
        The runtimes that answered, keyed by their scheme in container IDs.

    Raises:
        RuntimeUnavailable: none answered; the message says what was tried.
    """
    candidates: dict[str, ContainerRuntime] = {}
    if wanted in ("auto", "containerd"):
        candidates["containerd"] = _containerd(
            socket=containerd_socket, host_root=host_root, state_dir=state_dir
        )
    skipped: list[str] = []
    docker_path = docker_socket or DOCKER_SOCKET
    if wanted == "auto" and not (host_root / docker_path.lstrip("/")).is_socket():
        # The Engine API client (aiohttp) takes the agent a second to import
        # on a busy node, in front of every first session: not for nothing.
        skipped.append(f"dockerd's socket {docker_path} does not exist on this node.")
    elif wanted in ("auto", "docker"):
        from kdebug_agent.runtimes.docker import DockerRuntime

        candidates["docker"] = DockerRuntime(socket=docker_socket, host_root=host_root)

    found: dict[str, ContainerRuntime] = {}
    failures: list[str] = []
    for name, runtime in candidates.items():
        try:
            version = await runtime.version()
        except RuntimeUnavailable as error:
            failures.append(str(error))
            await runtime.close()
            continue
        logger.info("The %s runtime answers: %s.", name, version)
        found[name] = runtime
    if not found:
        raise RuntimeUnavailable(" ".join(failures + skipped))
    return found
