"""The containerd backend against a real containerd with runc, without the server."""

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from cluster import images
from kdebug_agent.errors import (
    CommandNotFound,
    ImageNotPresent,
    ImagePullFailed,
    TargetNotFound,
    TargetNotRunning,
)
from kdebug_agent.protocol import PullPolicy, RegistryAuth, TerminalSize
from kdebug_agent.runtimes.base import AGENT_LABEL, DebugContainer, DebugSpec, Target
from kdebug_agent.runtimes.containerd import (
    TARGET_ROOT,
    TARGET_ROOT_ENV,
    ContainerdDebugContainer,
    ContainerdRuntime,
)
from tests.fixtures.containerd import (
    TARGET_RESOLV_CONF,
    ContainerdDaemon,
    RunningTarget,
)
from tests.fixtures.docker import REGISTRY_MARKER, Registry

pytestmark = pytest.mark.containerd

RUN_TIMEOUT = 30.0
DEFAULT_CAPABILITY_MASK = 0xA80425FB
"""CapEff of a process with containerd's 14 default capabilities."""
DEFAULT_SIZE = TerminalSize(width=80, height=24)


@pytest.fixture
async def runtime(
    containerd: ContainerdDaemon, tmp_path: Path
) -> AsyncIterator[ContainerdRuntime]:
    backend = ContainerdRuntime(
        socket=str(containerd.address), host_root=Path("/"), fifo_dir=tmp_path / "fifo"
    )
    yield backend
    await backend.close()


@pytest.fixture
async def busybox(runtime: ContainerdRuntime, busybox_target: RunningTarget) -> Target:
    return await runtime.find_target(busybox_target.container_id)


def debug_spec(
    target: Target,
    *command: str,
    tty: bool = True,
    size: TerminalSize | None = DEFAULT_SIZE,
    privileged: bool = False,
    labels: dict[str, str] | None = None,
    namespaces: tuple[str, ...] = ("pid", "net", "ipc"),
    image: str = images.TOOLS_IMAGE,
) -> DebugSpec:
    return DebugSpec(
        session_id="test-session",
        target=target,
        image=image,
        command=command,
        tty=tty,
        size=size,
        namespaces=namespaces,
        privileged=privileged,
        labels=labels or {},
    )


@contextlib.asynccontextmanager
async def debug_container(
    runtime: ContainerdRuntime, spec: DebugSpec
) -> AsyncIterator[DebugContainer]:
    container = await runtime.create_debug_container(spec)
    try:
        yield container
    finally:
        await container.remove()


async def run_to_exit(container: DebugContainer) -> tuple[str, int]:
    """Start the process, collect all its output and return it with the exit code."""
    await container.start()
    output = bytearray()

    async def drain() -> None:
        while chunk := await container.read():
            output.extend(chunk)

    _, exit_code = await asyncio.wait_for(
        asyncio.gather(drain(), container.wait()), RUN_TIMEOUT
    )
    return output.decode(errors="replace"), exit_code


async def run(runtime: ContainerdRuntime, spec: DebugSpec) -> tuple[str, int]:
    async with debug_container(runtime, spec) as container:
        return await run_to_exit(container)


class Terminal:
    """Reads a debug terminal's output in the background, to wait for text."""

    def __init__(self, container: DebugContainer) -> None:
        self.container = container
        self.output = bytearray()
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while chunk := await self.container.read():
            self.output.extend(chunk)
            self._changed.set()

    async def expect(self, text: str, timeout: float = RUN_TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while text.encode() not in self.output:
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def wait_for_process(command_line: bytes) -> None:
    """Wait until some process on the host has exactly this command line."""
    async with asyncio.timeout(RUN_TIMEOUT):
        while True:
            for entry in Path("/proc").iterdir():
                with contextlib.suppress(OSError):
                    if (entry / "cmdline").read_bytes() == command_line:
                        return
            await asyncio.sleep(0.05)


async def test_the_runtime_reports_containerds_version(
    runtime: ContainerdRuntime, containerd: ContainerdDaemon
) -> None:
    version = await runtime.version()

    assert version.startswith("containerd ")
    assert runtime.socket == str(containerd.address)


async def test_a_running_target_is_found_with_its_host_pid_and_pod_name(
    runtime: ContainerdRuntime, busybox_target: RunningTarget
) -> None:
    target = await runtime.find_target(busybox_target.container_id)

    assert target.pid == busybox_target.pid
    assert target.name == "shop/web-0/app"
    assert not target.has_user_namespace


async def test_a_stopped_target_is_refused_as_not_running(
    runtime: ContainerdRuntime, stopped_target: str
) -> None:
    with pytest.raises(TargetNotRunning, match="stopped"):
        await runtime.find_target(stopped_target)


async def test_an_unknown_container_id_is_refused_as_not_found(
    runtime: ContainerdRuntime,
) -> None:
    with pytest.raises(TargetNotFound):
        await runtime.find_target("0123456789abcdef-no-such-container")


async def test_the_debug_container_joins_the_targets_pid_net_and_ipc_namespaces(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    names = ("pid", "net", "ipc", "mnt")
    script = f"for n in {' '.join(names)}; do readlink /proc/self/ns/$n; done"

    output, exit_code = await run(runtime, debug_spec(busybox, "sh", "-c", script))

    seen = output.split()
    expected = [os.readlink(f"/proc/{busybox.pid}/ns/{name}") for name in names]
    assert exit_code == 0
    assert seen[:3] == expected[:3]
    assert seen[3] != expected[3], "the debug container needs a mount namespace"


async def test_the_uts_namespace_is_joined_when_asked_for(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    spec = debug_spec(
        busybox, "readlink", "/proc/self/ns/uts", namespaces=("pid", "net", "uts")
    )

    output, exit_code = await run(runtime, spec)

    assert exit_code == 0
    assert output.strip() == os.readlink(f"/proc/{busybox.pid}/ns/uts")


async def test_a_target_in_its_own_user_namespace_is_debugged_inside_it(
    runtime: ContainerdRuntime, userns_target: RunningTarget
) -> None:
    target = await runtime.find_target(userns_target.container_id)
    script = (
        f"readlink /proc/self/ns/user; id -u; cat {TARGET_ROOT}{images.TARGET_MARKER}"
    )

    notices: list[str] = []

    async def progress(stage: str, message: str) -> None:
        notices.append(message)

    spec = debug_spec(target, "sh", "-c", script)
    container = await runtime.create_debug_container(spec, progress=progress)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(container.remove)
        output, exit_code = await run_to_exit(container)

    assert any("user namespace" in notice for notice in notices)
    assert target.has_user_namespace
    assert exit_code == 0
    lines = output.split()
    assert lines[0] == os.readlink(f"/proc/{target.pid}/ns/user")
    assert lines[1] == "0"
    assert images.TARGET_MARKER_TEXT.strip() in output


async def test_without_the_pid_namespace_there_is_no_target_root(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    script = f'echo "root=${TARGET_ROOT_ENV}"; test -e {TARGET_ROOT} || echo absent'
    spec = debug_spec(busybox, "sh", "-c", script, namespaces=("net", "ipc"))

    output, exit_code = await run(runtime, spec)

    assert exit_code == 0
    assert "root=\r" in output or "root=\n" in output
    assert "absent" in output


async def test_ps_in_the_debug_container_shows_the_targets_processes(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    output, exit_code = await run(runtime, debug_spec(busybox, "ps"))

    assert exit_code == 0
    assert "sleep 1000000" in output


async def test_the_targets_root_is_readable_at_the_documented_path(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    script = (
        f'echo "root=${TARGET_ROOT_ENV}"; cat {TARGET_ROOT}{images.TARGET_MARKER}; '
        f"test -e {images.TARGET_MARKER} || echo own-root-is-the-debug-image"
    )

    output, exit_code = await run(runtime, debug_spec(busybox, "sh", "-c", script))

    assert exit_code == 0
    assert f"root={TARGET_ROOT}" in output
    assert images.TARGET_MARKER_TEXT.strip() in output
    assert "own-root-is-the-debug-image" in output


async def test_names_resolve_as_in_the_target_whose_network_is_shared(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    output, exit_code = await run(
        runtime, debug_spec(busybox, "cat", "/etc/resolv.conf")
    )

    assert exit_code == 0
    assert output.replace("\r\n", "\n") == TARGET_RESOLV_CONF


async def test_a_target_without_a_shell_can_be_debugged(
    runtime: ContainerdRuntime, noshell_target: RunningTarget
) -> None:
    target = await runtime.find_target(noshell_target.container_id)
    script = f"ps; ls {TARGET_ROOT}/"

    output, exit_code = await run(runtime, debug_spec(target, "sh", "-c", script))

    assert exit_code == 0
    assert "/sleep-forever" in output
    assert "sleep-forever" in output.split("PID", 1)[1]


async def test_the_debug_processs_exit_code_comes_back(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    _, exit_code = await run(runtime, debug_spec(busybox, "sh", "-c", "exit 7"))

    assert exit_code == 7


async def test_the_initial_size_is_what_stty_size_prints_first(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    size = TerminalSize(width=132, height=43)

    output, exit_code = await run(
        runtime, debug_spec(busybox, "stty", "size", size=size)
    )

    assert exit_code == 0
    assert output.startswith("43 132")


async def test_a_resize_reaches_the_debug_terminal(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    async with debug_container(runtime, debug_spec(busybox, "sh")) as container:
        await container.start()
        terminal = Terminal(container)

        await container.resize(TerminalSize(width=100, height=30))
        await container.write(b"stty size; exit\r")

        exit_code = await asyncio.wait_for(container.wait(), RUN_TIMEOUT)
        await terminal.expect("30 100")
        await terminal.close()
    assert exit_code == 0


async def test_ctrl_c_interrupts_a_sleep_in_the_shell(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    async with debug_container(runtime, debug_spec(busybox, "sh")) as container:
        await container.start()
        terminal = Terminal(container)
        await container.write(b"sleep 100\r")
        # Only once sleep has been executed is it the terminal's foreground.
        await wait_for_process(b"sleep\x00100\x00")

        await container.write(b"\x03")
        await container.write(b"echo status-$?\r")
        await terminal.expect("status-130", timeout=10)

        await container.write(b"exit 0\r")
        exit_code = await asyncio.wait_for(container.wait(), RUN_TIMEOUT)
        await terminal.close()
    assert exit_code == 0


async def test_without_a_terminal_stderr_arrives_on_its_own_stream(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    script = "echo to-stdout; echo to-stderr >&2; exit 3"
    spec = debug_spec(busybox, "sh", "-c", script, tty=False, size=None)

    async with debug_container(runtime, spec) as container:
        assert isinstance(container, ContainerdDebugContainer)
        await container.start()
        stdout, stderr, exit_code = await asyncio.wait_for(
            asyncio.gather(
                drain(container.read), drain(container.read_stderr), container.wait()
            ),
            RUN_TIMEOUT,
        )

    assert (stdout, stderr, exit_code) == (b"to-stdout\n", b"to-stderr\n", 3)


async def test_with_a_terminal_there_is_no_separate_stderr(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    spec = debug_spec(busybox, "sh", "-c", "echo to-stderr >&2")

    async with debug_container(runtime, spec) as container:
        assert isinstance(container, ContainerdDebugContainer)
        output, _ = await run_to_exit(container)

        assert await container.read_stderr() == b""
    assert "to-stderr" in output


async def drain(read: Callable[[], Awaitable[bytes]]) -> bytes:
    data = bytearray()
    while chunk := await read():
        data.extend(chunk)
    return bytes(data)


async def test_input_reaches_a_process_without_a_terminal_until_stdin_closes(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    spec = debug_spec(busybox, "cat", tty=False, size=None)
    async with debug_container(runtime, spec) as container:
        await container.start()
        await container.write(b"piped input\n")
        await container.close_stdin()

        output = bytearray()
        while chunk := await asyncio.wait_for(container.read(), RUN_TIMEOUT):
            output.extend(chunk)
        exit_code = await asyncio.wait_for(container.wait(), RUN_TIMEOUT)
    assert output == b"piped input\n"
    assert exit_code == 0


async def test_background_processes_of_the_debug_shell_do_not_outlive_it(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    spec = debug_spec(busybox, "sh", "-c", "sleep 1000 & echo started; exit 5")

    async with debug_container(runtime, spec) as container:
        output, exit_code = await run_to_exit(container)
        processes, _ = await run(runtime, debug_spec(busybox, "ps"))

    assert exit_code == 5
    assert "started" in output
    assert "sleep 1000" not in processes.replace("sleep 1000000", "")


async def test_closing_stdin_of_a_terminal_session_hangs_the_terminal_up(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    spec = debug_spec(busybox, "sleep", "100")
    async with debug_container(runtime, spec) as container:
        await container.start()

        await container.close_stdin()
        await container.write(b"dropped")

        exit_code = await asyncio.wait_for(container.wait(), RUN_TIMEOUT)
    assert exit_code == 128 + signal.SIGHUP


async def test_a_privileged_debug_container_has_every_capability_the_agent_has(
    runtime: ContainerdRuntime, busybox: Target
) -> None:
    command = ("sh", "-c", "grep CapEff /proc/self/status")

    privileged, _ = await run(runtime, debug_spec(busybox, *command, privileged=True))
    default, _ = await run(runtime, debug_spec(busybox, *command))

    own = Path("/proc/self/status").read_text().split("CapEff:")[1].split()[0]
    assert int(privileged.split()[1], 16) == int(own, 16)
    assert int(default.split()[1], 16) == DEFAULT_CAPABILITY_MASK


async def test_an_absent_image_with_pull_policy_never_is_not_present(
    runtime: ContainerdRuntime,
) -> None:
    stages: list[str] = []

    async def progress(stage: str, message: str) -> None:
        stages.append(stage)

    with pytest.raises(ImageNotPresent, match="docker.io/kdebug/absent:1"):
        await runtime.ensure_image(
            "kdebug/absent:1", policy=PullPolicy.NEVER, auth=None, progress=progress
        )
    assert stages == []


async def test_a_failed_pull_reports_the_registrys_words(
    runtime: ContainerdRuntime,
) -> None:
    async def progress(stage: str, message: str) -> None:
        pass

    # Nothing listens on port 1 of the loopback address: the pull is refused at
    # once and no traffic leaves the machine.
    with pytest.raises(ImagePullFailed, match="connection refused") as failure:
        await runtime.ensure_image(
            "127.0.0.1:1/kdebug/absent:1",
            policy=PullPolicy.IF_NOT_PRESENT,
            auth=RegistryAuth(username="user", password="secret"),
            progress=progress,
        )
    assert "secret" not in str(failure.value)


@pytest.mark.docker
async def test_a_private_image_is_pulled_server_side_with_the_given_credentials(
    runtime: ContainerdRuntime, busybox: Target, docker_registry: Registry
) -> None:
    auth = RegistryAuth(
        username=docker_registry.username,
        password=docker_registry.password,
        server=docker_registry.address,
    )
    stages: list[str] = []

    async def progress(stage: str, message: str) -> None:
        stages.append(message)

    await runtime.ensure_image(
        docker_registry.image,
        policy=PullPolicy.ALWAYS,
        auth=auth,
        progress=progress,
    )
    spec = debug_spec(busybox, "cat", REGISTRY_MARKER, image=docker_registry.image)
    output, exit_code = await run(runtime, spec)

    assert stages[-1] == f"Pulled the image {docker_registry.image}."
    assert exit_code == 0
    assert "from the registry" in output


@pytest.mark.docker
async def test_wrong_credentials_fail_the_pull_with_the_registrys_words(
    runtime: ContainerdRuntime, docker_registry: Registry
) -> None:
    auth = RegistryAuth(username=docker_registry.username, password="wrong-password")

    async def progress(stage: str, message: str) -> None:
        pass

    with pytest.raises(ImagePullFailed, match="401 Unauthorized") as failure:
        await runtime.ensure_image(
            docker_registry.image,
            policy=PullPolicy.ALWAYS,
            auth=auth,
            progress=progress,
        )
    assert "wrong-password" not in str(failure.value)


async def test_a_present_image_satisfies_pull_policy_never(
    runtime: ContainerdRuntime,
) -> None:
    messages: list[str] = []

    async def progress(stage: str, message: str) -> None:
        messages.append(message)

    await runtime.ensure_image(
        images.TOOLS_IMAGE, policy=PullPolicy.NEVER, auth=None, progress=progress
    )

    assert messages == [f"The image {images.TOOLS_IMAGE} is present on the node."]


async def test_remove_leaves_no_task_container_snapshot_lease_or_fifo(
    runtime: ContainerdRuntime,
    busybox: Target,
    containerd: ContainerdDaemon,
    tmp_path: Path,
) -> None:
    container = await runtime.create_debug_container(
        debug_spec(busybox, "sleep", "100")
    )
    await container.start()
    assert container.id in containerd.container_ids()
    assert (tmp_path / "fifo" / container.id).is_dir()

    await container.remove()
    await container.remove()

    assert containerd.task_status(container.id) is None
    assert container.id not in containerd.container_ids()
    assert container.id not in containerd.snapshot_keys()
    assert container.id not in containerd.lease_ids()
    assert not (tmp_path / "fifo" / container.id).exists()
    assert await asyncio.wait_for(container.wait(), RUN_TIMEOUT) == 137


async def test_a_container_removed_before_it_starts_leaves_nothing(
    runtime: ContainerdRuntime, busybox: Target, containerd: ContainerdDaemon
) -> None:
    container = await runtime.create_debug_container(debug_spec(busybox, "sh"))

    await container.remove()

    assert container.id not in containerd.container_ids()
    assert container.id not in containerd.snapshot_keys()
    assert container.id not in containerd.lease_ids()


async def test_a_program_missing_from_the_image_is_refused_at_creation(
    runtime: ContainerdRuntime, busybox: Target, containerd: ContainerdDaemon
) -> None:
    before = set(containerd.container_ids())

    with pytest.raises(CommandNotFound, match='no command "/no/such/program"'):
        await runtime.create_debug_container(debug_spec(busybox, "/no/such/program"))

    assert set(containerd.container_ids()) == before


async def test_a_failed_creation_leaves_nothing_behind(
    runtime: ContainerdRuntime,
    busybox: Target,
    containerd: ContainerdDaemon,
    tmp_path: Path,
) -> None:
    before = (containerd.container_ids(), containerd.snapshot_keys())
    leases = containerd.lease_ids()
    gone = dataclasses.replace(busybox, pid=_pid_of_an_exited_process())

    with pytest.raises(TargetNotRunning):
        await runtime.create_debug_container(debug_spec(gone, "sh"))

    assert (containerd.container_ids(), containerd.snapshot_keys()) == before
    assert containerd.lease_ids() == leases
    assert list((tmp_path / "fifo").glob("*")) == []


def _pid_of_an_exited_process() -> int:
    process = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True)
    return int(process.stdout)


async def test_orphans_of_dead_agents_are_removed_and_live_agents_keep_theirs(
    runtime: ContainerdRuntime, busybox: Target, containerd: ContainerdDaemon
) -> None:
    alive_spec = debug_spec(busybox, "sleep", "100", labels={AGENT_LABEL: "alive"})
    dead_spec = debug_spec(busybox, "sleep", "100", labels={AGENT_LABEL: "dead"})
    async with debug_container(runtime, alive_spec) as alive:
        dead = await runtime.create_debug_container(dead_spec)
        await alive.start()
        await dead.start()

        removed = await runtime.remove_orphans(owner_alive=lambda o: o == "alive")

        assert dead.id in removed
        assert alive.id not in removed
        assert dead.id not in containerd.container_ids()
        assert dead.id not in containerd.snapshot_keys()
        assert alive.id in containerd.container_ids()
        await dead.remove()
