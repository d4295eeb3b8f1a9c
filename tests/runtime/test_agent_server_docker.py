"""The agent on dockerd, as clients see it: sessions and cleanup after failures."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from kdebug_agent.protocol import PullPolicy, SessionRequest, TerminalSize
from tests.fixtures.docker import Dockerd, DockerImages
from tests.runtime.agent_process import (
    AgentProcess,
    collect,
    open_session,
    run_session,
    running_agent,
    start_agent,
)
from tests.runtime.test_agent_server import wait_for

pytestmark = pytest.mark.docker

GRACE = 2.0


@pytest.fixture
def target(dockerd: Dockerd, docker_images: DockerImages) -> Iterator[str]:
    container_id = dockerd.run_container(
        docker_images.target, "sleep", "100000", options=["--ipc", "shareable"]
    )
    yield container_id
    dockerd.cli("rm", "-f", container_id, check=False)


@pytest.fixture
def agent(dockerd: Dockerd, tmp_path: Path) -> Iterator[AgentProcess]:
    with running_agent(
        dockerd.socket,
        tmp_path,
        agent_id="docker-tests",
        runtime="docker",
        extra=[f"--grace={GRACE}"],
    ) as process:
        yield process


def debug_containers(dockerd: Dockerd) -> list[str]:
    return dockerd.container_ids("label=io.kdebug.managed=true")


def request(
    target: str, images: DockerImages, *command: str, tty: bool = False
) -> SessionRequest:
    return SessionRequest(
        target=f"docker://{target}",
        image=images.tools,
        command=command,
        tty=tty,
        size=TerminalSize(width=80, height=24) if tty else None,
        pull_policy=PullPolicy.NEVER,
    )


async def test_a_session_returns_output_and_exit_code(
    agent: AgentProcess, target: str, docker_images: DockerImages, dockerd: Dockerd
) -> None:
    result = await run_session(
        agent, request(target, docker_images, "sh", "-c", "ps -o args; exit 7")
    )
    assert b"sleep 100000" in result.output
    assert result.status is not None and result.status.exit_code == 7
    wait_for(lambda: not debug_containers(dockerd), 15, "the container is removed")


async def test_a_vanished_client_leaves_nothing_after_the_grace_time(
    agent: AgentProcess, target: str, docker_images: DockerImages, dockerd: Dockerd
) -> None:
    websocket, protocol = await open_session(
        agent, request(target, docker_images, "sh", tty=True)
    )
    await websocket.send(protocol.send_input(b"echo up\r"))
    await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
    websocket.transport.abort()
    await asyncio.sleep(GRACE / 2)
    assert len(debug_containers(dockerd)) == 1
    wait_for(lambda: not debug_containers(dockerd), GRACE + 15, "the grace time ends")


async def test_a_killed_agents_orphan_is_removed_by_the_next_agent(
    dockerd: Dockerd, target: str, docker_images: DockerImages, tmp_path: Path
) -> None:
    doomed = start_agent(dockerd.socket, tmp_path, agent_id="doomed", runtime="docker")
    websocket, protocol = await open_session(
        doomed, request(target, docker_images, "sh", tty=True)
    )
    await websocket.send(protocol.send_input(b"echo up\r"))
    await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
    doomed.process.kill()
    doomed.process.wait()
    websocket.transport.abort()
    assert len(debug_containers(dockerd)) == 1
    with running_agent(
        dockerd.socket, tmp_path, agent_id="heir", runtime="docker"
    ) as heir:
        assert "Removed 1 debug containers" in heir.log_text()
    assert debug_containers(dockerd) == []


async def test_a_target_killed_mid_session_is_named_as_the_cause(
    agent: AgentProcess, target: str, docker_images: DockerImages, dockerd: Dockerd
) -> None:
    websocket, protocol = await open_session(
        agent, request(target, docker_images, "sh", "-c", "echo up; exec sleep 600")
    )
    async with websocket:
        await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
        dockerd.cli("kill", target)
        result = await asyncio.wait_for(collect(websocket, protocol), 30)
    assert result.status is not None
    assert (result.status.reason, result.status.exit_code) == ("TargetStopped", 137)
    wait_for(lambda: not debug_containers(dockerd), 15, "the container is removed")


async def test_a_command_the_debug_image_lacks_is_named(
    agent: AgentProcess, target: str, docker_images: DockerImages, dockerd: Dockerd
) -> None:
    result = await run_session(agent, request(target, docker_images, "nosuchcmd"))
    assert result.status is not None
    assert (result.status.reason, result.status.exit_code) == ("CommandNotFound", None)
    assert 'no command "nosuchcmd"' in result.status.message
    wait_for(lambda: not debug_containers(dockerd), 15, "the container is removed")
