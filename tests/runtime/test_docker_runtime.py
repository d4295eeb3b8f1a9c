"""The dockerd backend against a real dockerd: targets, images, terminals, cleanup."""

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cluster.images import TARGET_MARKER, TARGET_MARKER_TEXT, TOOLS_MARKER
from kdebug_agent.errors import (
    ImageNotPresent,
    ImagePullFailed,
    RuntimeFailure,
    RuntimeUnavailable,
    TargetNotFound,
    TargetNotRunning,
)
from kdebug_agent.protocol import PullPolicy, RegistryAuth, TerminalSize
from kdebug_agent.runtimes.base import (
    AGENT_LABEL,
    MANAGED_LABEL,
    DebugContainer,
    DebugSpec,
    Target,
)
from kdebug_agent.runtimes.docker import SANDBOX_LABEL, DockerRuntime
from tests.fixtures.docker import REGISTRY_MARKER, Dockerd, DockerImages, Registry

pytestmark = pytest.mark.docker

AGENT_ID = "agent-under-test"
OUTPUT_TIMEOUT = 20.0
INITIAL_SIZE = TerminalSize(width=100, height=30)


class Terminal:
    """A started debug container with the output read so far."""

    def __init__(self, container: DebugContainer) -> None:
        self.container = container
        self.output = bytearray()
        self.ended = False

    async def expect(self, pattern: bytes, *, after: int = 0) -> int:
        """Read until `pattern` appears past offset `after`; return its end."""
        async with asyncio.timeout(OUTPUT_TIMEOUT):
            while (found := self.output.find(pattern, after)) < 0:
                assert not self.ended, f"output ended without {pattern!r}: {self.text}"
                await self._read()
        return found + len(pattern)

    async def read_to_end(self) -> bytes:
        """Read until the output ends and return all of it."""
        async with asyncio.timeout(OUTPUT_TIMEOUT):
            while not self.ended:
                await self._read()
        return bytes(self.output)

    async def type(self, keys: bytes) -> None:
        """Write keys one per write, as a person types them."""
        for key in keys:
            await self.container.write(bytes([key]))
            await asyncio.sleep(0.02)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def _read(self) -> None:
        chunk = await self.container.read()
        self.ended = not chunk
        self.output += chunk


@pytest.fixture
async def runtime(dockerd: Dockerd) -> AsyncIterator[DockerRuntime]:
    """A DockerRuntime on the test daemon; checks nothing of ours is left after."""
    docker = DockerRuntime(socket=str(dockerd.socket), host_root=Path("/"))
    yield docker
    await docker.close()
    assert dockerd.container_ids(f"label={MANAGED_LABEL}") == []


@pytest.fixture
def containers(dockerd: Dockerd) -> Iterator[list[str]]:
    """Container IDs a test started by hand; removed after the test."""
    started: list[str] = []
    yield started
    if started:
        dockerd.cli("rm", "-f", *started, check=False)


@pytest.fixture
def target_id(
    dockerd: Dockerd, docker_images: DockerImages, containers: list[str]
) -> str:
    """A running target: BusyBox sleeping, no network but loopback."""
    options = ["--network", "none", "--ipc", "shareable"]
    container_id = dockerd.run_container(
        docker_images.target, "sleep", "31337", options=options
    )
    containers.append(container_id)
    return container_id


@pytest.fixture
def pulled_image(dockerd: Dockerd, docker_registry: Registry) -> Iterator[str]:
    """The registry's image, absent from the daemon before and after the test."""
    assert not dockerd.has_image(docker_registry.image)
    yield docker_registry.image
    dockerd.cli("rmi", docker_registry.image, check=False)


async def start_debug(
    runtime: DockerRuntime,
    target: Target,
    image: str,
    *command: str,
    tty: bool = True,
    size: TerminalSize | None = INITIAL_SIZE,
    agent: str = AGENT_ID,
    start: bool = True,
) -> Terminal:
    """Create (and by default start) a debug container against `target`."""
    session = uuid.uuid4().hex[:12]
    spec = DebugSpec(
        session_id=session,
        target=target,
        image=image,
        command=command,
        tty=tty,
        size=size if tty else None,
        namespaces=("pid", "net", "ipc"),
        privileged=False,
        labels={MANAGED_LABEL: "true", AGENT_LABEL: agent},
    )
    container = await runtime.create_debug_container(spec)
    if start:
        await container.start()
    return Terminal(container)


@contextlib.asynccontextmanager
async def debugging(
    runtime: DockerRuntime,
    target: Target,
    image: str,
    *command: str,
    tty: bool = True,
    size: TerminalSize | None = INITIAL_SIZE,
) -> AsyncIterator[Terminal]:
    """A started debug container, removed when the block ends."""
    terminal = await start_debug(runtime, target, image, *command, tty=tty, size=size)
    try:
        yield terminal
    finally:
        await terminal.container.remove()


async def run_to_end(
    runtime: DockerRuntime,
    target: Target,
    image: str,
    *command: str,
    size: TerminalSize | None = INITIAL_SIZE,
) -> tuple[str, int]:
    """Run a one-shot debug command; return its output and exit code."""
    async with debugging(runtime, target, image, *command, size=size) as terminal:
        output = await terminal.read_to_end()
        return output.decode(errors="replace"), await terminal.container.wait()


async def no_progress(stage: str, message: str) -> None:
    """A progress callback for calls whose progress the test ignores."""


async def test_the_runtime_reports_dockerd_and_its_api_version(
    runtime: DockerRuntime, dockerd: Dockerd
) -> None:
    """version() names dockerd's version and API version."""
    pattern = rf"dockerd {re.escape(dockerd.version)} \(API 1\.\d+\)"
    assert re.fullmatch(pattern, await runtime.version())


async def test_a_missing_socket_makes_the_runtime_unavailable(tmp_path: Path) -> None:
    """A socket path where nothing listens gives RuntimeUnavailable."""
    runtime = DockerRuntime(socket=str(tmp_path / "docker.sock"), host_root=Path("/"))
    with pytest.raises(RuntimeUnavailable, match="does not exist"):
        await runtime.version()


async def test_an_unknown_container_id_is_not_found(runtime: DockerRuntime) -> None:
    """An ID dockerd does not know gives TargetNotFound."""
    with pytest.raises(TargetNotFound):
        await runtime.find_target("0" * 64)


async def test_a_container_name_does_not_count_as_an_id(
    runtime: DockerRuntime, dockerd: Dockerd, target_id: str
) -> None:
    """Only IDs name targets, though dockerd would also answer to names."""
    record = dockerd.inspect(target_id)
    assert record is not None
    name = str(record["Name"]).lstrip("/")
    with pytest.raises(TargetNotFound):
        await runtime.find_target(name)


async def test_a_stopped_target_is_not_running_and_its_state_is_named(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    docker_images: DockerImages,
    containers: list[str],
) -> None:
    """An exited container gives TargetNotRunning naming its state."""
    container_id = dockerd.run_container(docker_images.target, "true", options=[])
    containers.append(container_id)
    dockerd.cli("wait", container_id)
    with pytest.raises(TargetNotRunning, match="exited"):
        await runtime.find_target(container_id)


async def test_a_running_target_is_found_with_its_host_pid(
    runtime: DockerRuntime, dockerd: Dockerd, target_id: str
) -> None:
    """find_target returns the full ID and the host pid of the main process."""
    target = await runtime.find_target(target_id[:20])
    record = dockerd.inspect(target_id)
    assert record is not None
    assert target.container_id == target_id
    assert target.pid == record["State"]["Pid"]


async def test_the_debug_shell_sees_the_targets_processes(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """ps in the debug container lists the target's sleep."""
    target = await runtime.find_target(target_id)
    output, code = await run_to_end(runtime, target, docker_images.tools, "ps")
    assert "sleep 31337" in output
    assert code == 0


async def test_the_debug_shell_is_in_the_targets_network_namespace(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """/proc/self/ns/net in the debug container is the target's."""
    target = await runtime.find_target(target_id)
    output, _ = await run_to_end(
        runtime, target, docker_images.tools, "readlink", "/proc/self/ns/net"
    )
    assert output.strip() == os.readlink(f"/proc/{target.pid}/ns/net")


async def test_the_debug_shell_is_in_a_shareable_targets_ipc_namespace(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """A target with shareable IPC has its IPC namespace joined."""
    target = await runtime.find_target(target_id)
    output, _ = await run_to_end(
        runtime, target, docker_images.tools, "readlink", "/proc/self/ns/ipc"
    )
    assert output.strip() == os.readlink(f"/proc/{target.pid}/ns/ipc")


async def test_the_targets_marker_file_is_readable_at_the_target_root(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """/target and $KDEBUG_TARGET_ROOT lead to the target's files, not the image's."""
    target = await runtime.find_target(target_id)
    script = (
        f'cat /target{TARGET_MARKER} "$KDEBUG_TARGET_ROOT{TARGET_MARKER}"; '
        f"test -e {TOOLS_MARKER} && test ! -e {TARGET_MARKER} && echo own-root-ok"
    )
    output, code = await run_to_end(
        runtime, target, docker_images.tools, "sh", "-c", script
    )
    assert output.count(TARGET_MARKER_TEXT.strip()) == 2
    assert "own-root-ok" in output
    assert code == 0


async def test_the_exit_code_of_the_debug_process_comes_back(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """sh -c 'exit 7' ends with exit code 7."""
    target = await runtime.find_target(target_id)
    _, code = await run_to_end(
        runtime, target, docker_images.tools, "sh", "-c", "exit 7"
    )
    assert code == 7


async def test_stty_prints_the_initial_size_first_and_follows_a_resize(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """The terminal has its size before the process runs, and resizes reach it."""
    target = await runtime.find_target(target_id)
    script = "stty size; read line; stty size"
    async with debugging(
        runtime, target, docker_images.tools, "sh", "-c", script
    ) as terminal:
        first = await terminal.expect(b"\r\n")
        assert terminal.output[:first].strip() == b"30 100"

        await terminal.container.resize(TerminalSize(width=120, height=40))
        await terminal.container.write(b"\n")
        await terminal.read_to_end()
        assert terminal.text.split() == ["30", "100", "40", "120"]


async def test_a_debug_image_without_a_shell_runs_unwrapped_and_the_user_is_told(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """Without /bin/sh to wait for the size, the image's command runs as it is."""
    target = await runtime.find_target(target_id)
    notices: list[str] = []

    async def progress(stage: str, message: str) -> None:
        notices.append(message)

    spec = DebugSpec(
        session_id="noshell",
        target=target,
        image=docker_images.noshell,
        command=(),
        tty=True,
        size=INITIAL_SIZE,
        namespaces=("pid",),
        privileged=False,
        labels={MANAGED_LABEL: "true", AGENT_LABEL: AGENT_ID},
    )
    container = await runtime.create_debug_container(spec, progress=progress)
    try:
        await container.start()
        await container.resize(TerminalSize(width=90, height=20))
    finally:
        await container.remove()
    assert any("/bin/sh" in notice for notice in notices)


async def test_ctrl_c_interrupts_a_foreground_sleep_and_the_shell_goes_on(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """0x03 stops `sleep 100` at once; the same shell then runs the next command."""
    target = await runtime.find_target(target_id)
    async with debugging(runtime, target, docker_images.tools, "sh") as terminal:
        await terminal.container.write(b"sleep 100\n")
        typed = await terminal.expect(b"sleep 100\r\n")
        await asyncio.sleep(0.5)

        await terminal.type(b"\x03")
        await terminal.container.write(b"echo alive-$((6 * 7))\n")
        async with asyncio.timeout(10):
            await terminal.expect(b"alive-42", after=typed)

        await terminal.container.write(b"exit 3\n")
        await terminal.read_to_end()
        assert await terminal.container.wait() == 3


async def test_ctrl_p_ctrl_q_and_nul_reach_the_shell_and_nothing_detaches(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """Docker's detach keys never take the user's keys, typed one at a time."""
    target = await runtime.find_target(target_id)
    script = "stty -ixon -echo; cat -v"
    async with debugging(
        runtime, target, docker_images.tools, "sh", "-c", script
    ) as terminal:
        await asyncio.sleep(0.3)
        await terminal.type(b"\x10a\x10\x11\n")
        await terminal.expect(b"^Pa^P^Q")

        await terminal.type(b"\x00x\x10\n")
        await terminal.expect(b"^@x^P")

        await terminal.type(b"\x04")
        await terminal.read_to_end()
        assert await terminal.container.wait() == 0


# Two hundred containers take a minute or two here; more on a loaded machine.
@pytest.mark.timeout(600)
async def test_two_hundred_one_shot_sessions_lose_no_output(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """A short command's output arrives whole, with and without an initial size."""
    target = await runtime.find_target(target_id)
    lanes = asyncio.Semaphore(4)

    async def one_shot(number: int) -> tuple[int, str, int]:
        # Odd sessions have no initial size, so nothing holds the command back.
        size = INITIAL_SIZE if number % 2 == 0 else None
        async with lanes:
            output, code = await run_to_end(
                runtime,
                target,
                docker_images.tools,
                "echo",
                f"one-shot-{number}",
                size=size,
            )
            return number, output, code

    results = await asyncio.gather(*(one_shot(n) for n in range(200)))
    lost = [n for n, output, code in results if output != f"one-shot-{n}\r\n"]
    assert lost == []
    assert {code for _, _, code in results} == {0}


async def test_without_a_terminal_input_can_be_closed_and_stderr_arrives(
    runtime: DockerRuntime, target_id: str, docker_images: DockerImages
) -> None:
    """close_stdin gives the process end of input; stdout and stderr both come."""
    target = await runtime.find_target(target_id)
    script = "cat; echo on-stderr >&2"
    async with debugging(
        runtime, target, docker_images.tools, "sh", "-c", script, tty=False
    ) as terminal:
        await terminal.container.write(b"piped input\n")
        await terminal.container.close_stdin()
        output = await terminal.read_to_end()
        assert output == b"piped input\non-stderr\n"
        assert await terminal.container.wait() == 0


async def test_a_pod_sharing_a_sandbox_has_its_namespaces_and_root_joined(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    docker_images: DockerImages,
    containers: list[str],
) -> None:
    """A target in a pod (pid, net and IPC of its sandbox) is debugged like one."""
    sandbox = dockerd.run_container(
        docker_images.pause, options=["--network", "none", "--ipc", "shareable"]
    )
    containers.append(sandbox)
    joined = f"container:{sandbox}"
    pod_options = ["--pid", joined, "--network", joined, "--ipc", joined]
    pod_options += ["--label", f"{SANDBOX_LABEL}={sandbox}"]
    member = dockerd.run_container(
        docker_images.target, "sleep", "4242", options=pod_options
    )
    containers.append(member)
    target = await runtime.find_target(member)

    script = f"readlink /proc/self/ns/ipc; cat /target{TARGET_MARKER}"
    output, _ = await run_to_end(
        runtime, target, docker_images.tools, "sh", "-c", script
    )
    assert output.split("\r\n")[0] == os.readlink(f"/proc/{target.pid}/ns/ipc")
    assert TARGET_MARKER_TEXT.strip() in output


async def test_a_private_ipc_target_joins_its_pods_sandbox_ipc_namespace(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    docker_images: DockerImages,
    containers: list[str],
) -> None:
    """With a private IPC namespace, the sandbox named by its label is joined."""
    sandbox = dockerd.run_container(
        docker_images.pause, options=["--network", "none", "--ipc", "shareable"]
    )
    containers.append(sandbox)
    options = ["--network", "none", "--ipc", "private"]
    options += ["--label", f"{SANDBOX_LABEL}={sandbox}"]
    member = dockerd.run_container(
        docker_images.target, "sleep", "4243", options=options
    )
    containers.append(member)
    target = await runtime.find_target(member)
    record = dockerd.inspect(sandbox)
    assert record is not None
    sandbox_pid = record["State"]["Pid"]

    output, _ = await run_to_end(
        runtime, target, docker_images.tools, "readlink", "/proc/self/ns/ipc"
    )
    assert output.strip() == os.readlink(f"/proc/{sandbox_pid}/ns/ipc")


async def test_without_a_shareable_ipc_namespace_the_user_is_told(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    docker_images: DockerImages,
    containers: list[str],
) -> None:
    """A private target outside a pod gets a debug container all the same."""
    options = ["--network", "none", "--ipc", "private"]
    member = dockerd.run_container(
        docker_images.target, "sleep", "4244", options=options
    )
    containers.append(member)
    target = await runtime.find_target(member)
    notices: list[tuple[str, str]] = []

    async def progress(stage: str, message: str) -> None:
        notices.append((stage, message))

    spec = DebugSpec(
        session_id="private-ipc",
        target=target,
        image=docker_images.tools,
        command=("true",),
        tty=True,
        size=None,
        namespaces=("pid", "net", "ipc"),
        privileged=False,
        labels={MANAGED_LABEL: "true", AGENT_LABEL: AGENT_ID},
    )
    container = await runtime.create_debug_container(spec, progress=progress)
    await container.remove()
    assert [stage for stage, _ in notices] == ["create"]
    assert "IPC namespace of its own" in notices[0][1]


async def test_pulling_from_the_registry_with_credentials_works(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    docker_registry: Registry,
    pulled_image: str,
    target_id: str,
) -> None:
    """An Always pull with the right credentials brings the image, which runs."""
    messages: list[str] = []

    async def progress(stage: str, message: str) -> None:
        messages.append(message)

    auth = RegistryAuth(
        username=docker_registry.username, password=docker_registry.password
    )
    await runtime.ensure_image(
        pulled_image, policy=PullPolicy.ALWAYS, auth=auth, progress=progress
    )
    assert dockerd.has_image(pulled_image)
    assert messages[0].startswith("Pulling")
    assert messages[-1].startswith("Pulled the debug image")

    target = await runtime.find_target(target_id)
    output, _ = await run_to_end(runtime, target, pulled_image, "cat", REGISTRY_MARKER)
    assert "from the registry" in output


async def test_wrong_credentials_fail_with_the_registrys_words(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    docker_registry: Registry,
    pulled_image: str,
) -> None:
    """A refused pull gives ImagePullFailed with the registry's message."""
    auth = RegistryAuth(username=docker_registry.username, password="wrong")
    with pytest.raises(ImagePullFailed) as raised:
        await runtime.ensure_image(
            pulled_image,
            policy=PullPolicy.IF_NOT_PRESENT,
            auth=auth,
            progress=no_progress,
        )
    assert "unauthorized" in str(raised.value).lower()
    assert "wrong" not in str(raised.value)
    assert not dockerd.has_image(pulled_image)


async def test_never_with_an_absent_image_is_image_not_present(
    runtime: DockerRuntime, dockerd: Dockerd, pulled_image: str
) -> None:
    """The Never policy does not pull: an absent image is an error."""
    with pytest.raises(ImageNotPresent):
        await runtime.ensure_image(
            pulled_image, policy=PullPolicy.NEVER, auth=None, progress=no_progress
        )
    assert not dockerd.has_image(pulled_image)


async def test_if_not_present_leaves_a_present_image_alone(
    runtime: DockerRuntime, docker_images: DockerImages
) -> None:
    """An image on the node is used as it is, with no registry asked."""
    messages: list[str] = []

    async def progress(stage: str, message: str) -> None:
        messages.append(message)

    await runtime.ensure_image(
        docker_images.tools,
        policy=PullPolicy.IF_NOT_PRESENT,
        auth=None,
        progress=progress,
    )
    assert messages == [f"The debug image {docker_images.tools} is on this node."]


async def test_remove_after_the_process_exited_leaves_no_container(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    target_id: str,
    docker_images: DockerImages,
) -> None:
    """An exited debug container is removed, and removing again is harmless."""
    target = await runtime.find_target(target_id)
    terminal = await start_debug(runtime, target, docker_images.tools, "true")
    await terminal.read_to_end()
    assert await terminal.container.wait() == 0

    await terminal.container.remove()
    await terminal.container.remove()
    assert dockerd.inspect(terminal.container.id) is None


async def test_remove_while_the_process_runs_leaves_no_container(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    target_id: str,
    docker_images: DockerImages,
) -> None:
    """A running debug process is killed and its container removed."""
    target = await runtime.find_target(target_id)
    terminal = await start_debug(runtime, target, docker_images.tools, "sleep", "100")
    waiting = asyncio.create_task(terminal.container.wait())
    await asyncio.sleep(0.3)

    await terminal.container.remove()
    assert dockerd.inspect(terminal.container.id) is None
    assert await terminal.read_to_end() == b""
    # The killed process's wait ends too, with SIGKILL's code or an error.
    async with asyncio.timeout(OUTPUT_TIMEOUT):
        with contextlib.suppress(RuntimeFailure):
            assert await waiting == 137


async def test_remove_before_start_leaves_no_container(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    target_id: str,
    docker_images: DockerImages,
) -> None:
    """A debug container that never started is removed all the same."""
    target = await runtime.find_target(target_id)
    terminal = await start_debug(runtime, target, docker_images.tools, start=False)
    await terminal.container.remove()
    assert dockerd.inspect(terminal.container.id) is None


async def test_orphans_of_dead_agents_are_removed_and_live_ones_stay(
    runtime: DockerRuntime,
    dockerd: Dockerd,
    target_id: str,
    docker_images: DockerImages,
) -> None:
    """remove_orphans removes exactly the containers whose owner is dead."""
    target = await runtime.find_target(target_id)
    dead = await start_debug(
        runtime, target, docker_images.tools, "sleep", "100", agent="dead-agent"
    )
    live = await start_debug(
        runtime, target, docker_images.tools, "sleep", "100", agent="live-agent"
    )
    try:
        removed = await runtime.remove_orphans(
            owner_alive=lambda owner: owner == "live-agent"
        )
        assert removed == [dead.container.id]
        assert dockerd.inspect(dead.container.id) is None
        assert dockerd.inspect(live.container.id) is not None
    finally:
        await live.container.remove()
        await dead.container.remove()
