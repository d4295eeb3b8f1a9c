"""The agent as clients see it: a real `kdebug-agent` on a real containerd."""

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from cluster import images
from kdebug_agent.protocol import (
    Channel,
    ClientSideSession,
    OutputReceived,
    PullPolicy,
    SessionRequest,
    TerminalSize,
)
from tests.fixtures.containerd import ContainerdDaemon, RunningTarget
from tests.runtime.agent_process import (
    TOKEN,
    AgentProcess,
    collect,
    connect_agent,
    open_session,
    run_session,
    running_agent,
    start_agent,
)

pytestmark = pytest.mark.containerd

GRACE = 2.0


@pytest.fixture(scope="module")
def agent(
    containerd: ContainerdDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    directory = tmp_path_factory.mktemp("agent")
    with running_agent(
        containerd.address, directory, agent_id="tests", extra=[f"--grace={GRACE}"]
    ) as process:
        yield process


def request(
    target: RunningTarget | str,
    *command: str,
    tty: bool = False,
    size: TerminalSize | None = None,
    policy: PullPolicy = PullPolicy.NEVER,
) -> SessionRequest:
    container_id = target if isinstance(target, str) else target.container_id
    return SessionRequest(
        target=f"containerd://{container_id}",
        image=images.TOOLS_IMAGE,
        command=command,
        tty=tty,
        size=size,
        pull_policy=policy,
        user="tester",
    )


def settled_containers(containerd: ContainerdDaemon) -> list[str]:
    """Wait until earlier sessions' debug containers are gone; return the rest."""
    wait_for(
        lambda: not any(c.startswith("kdebug-") for c in containerd.container_ids()),
        30,
        "the debug containers of finished sessions are removed",
    )
    return containerd.container_ids()


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"Timed out after {timeout} s waiting until {what}.")


class TestPlainEndpoints:
    def test_healthz_answers_once_the_runtime_answers(
        self, agent: AgentProcess
    ) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/healthz") as answer:
            assert answer.status == 200

    def test_version_names_agent_protocol_and_runtimes(
        self, agent: AgentProcess
    ) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/version") as answer:
            version = json.load(answer)
        assert version["protocol"] == [1]
        assert version["runtimes"] == ["containerd"]
        assert version["agent"]


class TestSessions:
    async def test_the_exit_code_comes_back_on_the_status_channel(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        result = await run_session(agent, request(busybox_target, "sh", "-c", "exit 7"))
        assert result.status is not None
        assert result.status.exit_code == 7
        assert result.status.reason == "NonZeroExitCode"

    async def test_progress_is_reported_before_the_process_starts(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        result = await run_session(agent, request(busybox_target, "true"))
        assert result.stages == ["target", "image", "create", "start"]

    async def test_ps_shows_the_targets_processes_and_its_file_is_readable(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        script = f"ps -o pid,args; cat /target{images.TARGET_MARKER}"
        result = await run_session(agent, request(busybox_target, "sh", "-c", script))
        text = result.output.decode()
        assert "sleep 1000000" in text
        assert images.TARGET_MARKER_TEXT.strip() in text
        assert result.status is not None and result.status.exit_code == 0

    async def test_stty_size_prints_the_initial_size_first_then_follows_resizes(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        size = TerminalSize(width=132, height=43)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=size)
        )
        async with websocket:
            await websocket.send(protocol.send_input(b"stty size\r"))
            first = await asyncio.wait_for(
                collect(websocket, protocol, until=b"43 132"), 30
            )
            assert b"43 132" in first.output
            await websocket.send(protocol.resize(TerminalSize(width=100, height=30)))
            await websocket.send(protocol.send_input(b"stty size\r"))
            later = await asyncio.wait_for(
                collect(websocket, protocol, until=b"30 100"), 30
            )
            assert b"30 100" in later.output
            await websocket.send(protocol.send_input(b"exit 0\r"))
            end = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert end.status is not None and end.status.exit_code == 0

    async def test_the_very_first_output_is_the_requested_size(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        size = TerminalSize(width=201, height=51)
        result = await run_session(
            agent, request(busybox_target, "stty", "size", tty=True, size=size)
        )
        assert result.output.startswith(b"51 201")

    async def test_ctrl_c_interrupts_a_foreground_sleep_and_the_shell_goes_on(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        async with websocket:
            await websocket.send(protocol.send_input(b"sleep 100\r"))
            await asyncio.sleep(0.5)
            await websocket.send(protocol.send_input(b"\x03"))
            await websocket.send(protocol.send_input(b"echo still-$((6*7))\r"))
            alive = await asyncio.wait_for(
                collect(websocket, protocol, until=b"still-42"), 10
            )
            assert b"still-42" in alive.output
            await websocket.send(protocol.send_input(b"exit\r"))
            await asyncio.wait_for(collect(websocket, protocol), 30)

    async def test_stdin_is_streamed_to_a_command_without_a_terminal(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        result = await run_session(
            agent, request(busybox_target, "sh"), stdin=b"echo from-stdin; exit 3\n"
        )
        assert b"from-stdin" in result.output
        assert result.status is not None and result.status.exit_code == 3

    async def test_two_hundred_one_shot_sessions_lose_no_output(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        async def one(index: int) -> bytes:
            result = await run_session(
                agent, request(busybox_target, "echo", f"session-{index}")
            )
            assert result.status is not None and result.status.exit_code == 0
            return result.output

        outputs: list[bytes] = []
        for start in range(0, 200, 10):
            outputs += await asyncio.gather(*(one(i) for i in range(start, start + 10)))
        assert outputs == [f"session-{i}\n".encode() for i in range(200)]

    async def test_a_flood_of_short_lines_on_a_terminal_arrives_whole_and_in_order(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        # One write per line, as a program on a terminal makes them: the agent
        # gathers them into fewer messages, and must keep every byte in order.
        result = await run_session(
            agent,
            request(busybox_target, "seq", "1", "60000", tty=True),
            timeout=120,
        )
        assert result.status is not None and result.status.exit_code == 0
        expected = b"".join(b"%d\r\n" % number for number in range(1, 60001))
        assert result.output == expected

    async def test_floods_on_stdout_and_stderr_each_arrive_whole_and_in_order(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        script = "seq 1 30000 & seq 30001 60000 >&2; wait"
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", "-c", script)
        )
        streams: dict[Channel, bytes] = {Channel.STDOUT: b"", Channel.STDERR: b""}
        async with websocket:
            await websocket.send(protocol.close_stdin())
            async with asyncio.timeout(120):
                async for message in websocket:
                    for event in protocol.receive(message):
                        if isinstance(event, OutputReceived):
                            streams[event.channel] += event.data
        assert streams[Channel.STDOUT] == b"".join(
            b"%d\n" % number for number in range(1, 30001)
        )
        assert streams[Channel.STDERR] == b"".join(
            b"%d\n" % number for number in range(30001, 60001)
        )

    async def test_twenty_concurrent_sessions_all_complete_correctly(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        async def one(index: int) -> None:
            script = f"sleep 1; echo done-$(({index}*2)); exit {index % 5}"
            result = await run_session(
                agent, request(busybox_target, "sh", "-c", script)
            )
            assert result.output == f"done-{index * 2}\n".encode()
            assert result.status is not None and result.status.exit_code == index % 5

        await asyncio.gather(*(one(i) for i in range(20)))


class TestTheTargetStops:
    async def test_a_target_killed_mid_session_is_named_as_the_cause(
        self,
        agent: AgentProcess,
        containerd: ContainerdDaemon,
        doomed_target: RunningTarget,
    ) -> None:
        websocket, protocol = await open_session(
            agent, request(doomed_target, "sh", "-c", "echo up; exec sleep 600")
        )
        async with websocket:
            await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
            containerd.ctr(
                "tasks", "kill", "--signal", "SIGKILL", doomed_target.container_id
            )
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert result.status is not None
        assert (result.status.reason, result.status.exit_code) == (
            "TargetStopped",
            137,
        )
        assert "target container stopped" in result.status.message

    async def test_a_debug_process_killed_while_the_target_runs_is_an_exit(
        self,
        agent: AgentProcess,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
    ) -> None:
        kill_itself = request(busybox_target, "sh", "-c", "kill -9 $$")
        result = await run_session(agent, kill_itself)
        assert result.status is not None
        assert (result.status.reason, result.status.exit_code) == (
            "NonZeroExitCode",
            137,
        )
        status = containerd.task_status(busybox_target.container_id)
        assert status is not None and status[1] == "RUNNING"


class TestRefusals:
    async def test_a_wrong_token_gets_401_and_nothing_starts(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        with pytest.raises(InvalidStatus) as refused:
            await open_session(agent, request(busybox_target, "true"), token="wrong")
        assert refused.value.response.status_code == 401
        assert containerd.container_ids() == before

    async def test_an_unknown_protocol_version_is_refused_naming_both_sides(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        with pytest.raises(InvalidStatus) as refused:
            await open_session(agent, request(busybox_target, "true"), version="2")
        body = refused.value.response.body.decode()
        assert refused.value.response.status_code == 400
        assert "'2'" in body and "only version 1" in body

    @pytest.mark.parametrize(
        ("target", "reason"),
        [("stopped", "TargetNotRunning"), ("0" * 64, "TargetNotFound")],
    )
    async def test_a_stopped_or_unknown_target_gets_a_clear_error_and_nothing_starts(
        self,
        agent: AgentProcess,
        containerd: ContainerdDaemon,
        stopped_target: str,
        target: str,
        reason: str,
    ) -> None:
        before = settled_containers(containerd)
        container_id = stopped_target if target == "stopped" else target
        result = await run_session(agent, request(container_id, "true"))
        assert result.status is not None
        assert (result.status.reason, result.status.exit_code) == (reason, None)
        assert result.status.message
        assert containerd.container_ids() == before

    @pytest.mark.parametrize("command", ["nosuchcmd", "/bin/nosuchcmd"])
    async def test_a_command_the_debug_image_lacks_is_named_and_nothing_is_left(
        self,
        agent: AgentProcess,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
        command: str,
    ) -> None:
        before = settled_containers(containerd)
        result = await run_session(agent, request(busybox_target, command))
        assert result.status is not None
        assert (result.status.reason, result.status.exit_code) == (
            "CommandNotFound",
            None,
        )
        assert result.status.message.startswith(
            f'The debug image has no command "{command}" ('
        )
        assert settled_containers(containerd) == before

    async def test_an_absent_image_with_pull_policy_never_is_refused(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        absent = SessionRequest(
            target=f"containerd://{busybox_target.container_id}",
            image="docker.io/kdebug/absent:1",
            command=("true",),
            pull_policy=PullPolicy.NEVER,
        )
        result = await run_session(agent, absent)
        assert result.status is not None and result.status.reason == "ImageNotPresent"

    async def test_a_malformed_request_is_refused_and_nothing_starts(
        self, agent: AgentProcess, containerd: ContainerdDaemon
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(agent, request("abc", "true"))
        async with websocket:
            pass
        bad = request("abc", "true")
        websocket, protocol = await open_session(agent, bad)
        async with websocket:
            await websocket.send(b"\x09garbage")
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert result.status is not None
        assert containerd.container_ids() == before

    async def test_a_malformed_frame_mid_session_ends_it_and_removes_the_container(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        async with websocket:
            await websocket.send(protocol.send_input(b"echo ready\r"))
            await asyncio.wait_for(collect(websocket, protocol, until=b"ready"), 30)
            await websocket.send(b"\x04{not json")
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert result.status is not None and result.status.reason == "BadRequest"
        wait_for(
            lambda: containerd.container_ids() == before, 10, "the container is gone"
        )


class TestMalformedInput:
    async def test_a_request_nested_too_deeply_gets_a_bad_request_status(
        self, agent: AgentProcess, containerd: ContainerdDaemon
    ) -> None:
        before = settled_containers(containerd)
        protocol = ClientSideSession(request("abc", "true"))
        async with await connect_agent(agent) as websocket:
            await websocket.send("[" * 100_000)
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert result.status is not None
        assert result.status.reason == "BadRequest"
        assert "nested too deeply" in result.status.message
        assert containerd.container_ids() == before
        assert "RecursionError" not in agent.log_text()

    async def test_a_resize_nested_too_deeply_ends_the_session_with_a_status(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        async with websocket:
            await websocket.send(protocol.send_input(b"echo ready\r"))
            await asyncio.wait_for(collect(websocket, protocol, until=b"ready"), 30)
            await websocket.send(b"\x04" + b"[" * 100_000)
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert result.status is not None
        assert result.status.reason == "BadRequest"
        assert "nested too deeply" in result.status.message
        wait_for(
            lambda: containerd.container_ids() == before, 10, "the container is gone"
        )

    async def test_a_frame_over_one_mib_ends_the_session_at_once_with_a_status(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        async with websocket:
            await websocket.send(protocol.send_input(b"echo ready\r"))
            await asyncio.wait_for(collect(websocket, protocol, until=b"ready"), 30)
            await websocket.send(protocol.send_input(b"x" * (2 << 20)))
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
            sent_at = time.monotonic()
        assert result.status is not None
        assert result.status.reason == "BadRequest"
        assert "too big" in result.status.message
        wait_for(
            lambda: containerd.container_ids() == before,
            GRACE,
            "the debug container is removed before the grace time ends",
        )
        assert time.monotonic() - sent_at < GRACE

    async def test_a_frame_too_big_to_receive_closes_with_1009_and_no_grace_time(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        await websocket.send(protocol.send_input(b"echo ready\r"))
        await asyncio.wait_for(collect(websocket, protocol, until=b"ready"), 30)
        # The agent drops the connection while the frame is still being sent,
        # so no closing handshake is left to do on this side.
        with pytest.raises(ConnectionClosedError):
            await websocket.send(protocol.send_input(b"x" * (8 << 20)))
            await asyncio.wait_for(collect(websocket, protocol), 30)
        sent_at = time.monotonic()
        assert websocket.close_code == 1009
        wait_for(
            lambda: containerd.container_ids() == before,
            GRACE,
            "the debug container is removed before the grace time ends",
        )
        assert time.monotonic() - sent_at < GRACE

    async def test_no_request_within_ten_seconds_gets_a_status_that_says_so(
        self, agent: AgentProcess
    ) -> None:
        protocol = ClientSideSession(request("abc", "true"))
        async with await connect_agent(agent) as websocket:
            result = await asyncio.wait_for(collect(websocket, protocol), 30)
        assert result.status is not None
        assert result.status.reason == "BadRequest"
        assert result.status.message == "No session request arrived within 10 s."


class TestCleanup:
    async def test_a_vanished_client_leaves_nothing_after_the_grace_time(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        await websocket.send(protocol.send_input(b"echo up\r"))
        await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
        assert len(containerd.container_ids()) == len(before) + 1
        # Drop the TCP connection without a closing handshake, as a killed client does.
        websocket.transport.abort()
        await asyncio.sleep(GRACE / 2)
        assert len(containerd.container_ids()) == len(before) + 1
        wait_for(
            lambda: containerd.container_ids() == before,
            GRACE + 10,
            "the debug container is removed",
        )
        assert containerd.snapshot_keys().count(websocket.id.hex) == 0

    async def test_a_killed_agents_orphan_is_removed_by_the_next_agent(
        self,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
        tmp_path: Path,
    ) -> None:
        before = settled_containers(containerd)
        doomed = start_agent(containerd.address, tmp_path, agent_id="doomed")
        websocket, protocol = await open_session(
            doomed, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        await websocket.send(protocol.send_input(b"echo up\r"))
        await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
        doomed.process.kill()
        doomed.process.wait()
        websocket.transport.abort()
        orphans = set(containerd.container_ids()) - set(before)
        assert len(orphans) == 1
        with running_agent(containerd.address, tmp_path, agent_id="heir") as heir:
            assert "Removed 1 debug containers" in heir.log_text()
        assert containerd.container_ids() == before

    async def test_a_running_agent_removes_a_killed_agents_orphan_at_a_session(
        self,
        agent: AgentProcess,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
    ) -> None:
        before = settled_containers(containerd)
        # Agents on one node share the host's state directory.
        doomed = start_agent(
            containerd.address, agent.state_dir.parent, agent_id="killed"
        )
        shell = request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        websocket, protocol = await open_session(doomed, shell)
        await websocket.send(protocol.send_input(b"echo up\r"))
        await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
        doomed.process.kill()
        doomed.process.wait()
        websocket.transport.abort()
        orphans = set(containerd.container_ids()) - set(before)
        assert len(orphans) == 1

        websocket, protocol = await open_session(agent, shell)
        async with websocket:
            await websocket.send(protocol.send_input(b"echo up\r"))
            await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
            wait_for(
                lambda: not orphans & set(containerd.container_ids()),
                10,
                "the killed agent's debug container is removed",
            )
            # The live agent's own container is untouched by its sweep.
            await websocket.send(protocol.send_input(b"echo still\r"))
            seen = await asyncio.wait_for(
                collect(websocket, protocol, until=b"still"), 10
            )
            assert b"still" in seen.output
            await websocket.send(protocol.send_input(b"exit\r"))
            await asyncio.wait_for(collect(websocket, protocol), 30)
        assert "Removed 1 debug containers" in agent.log_text()

    async def test_a_live_agents_containers_survive_another_agents_start(
        self,
        agent: AgentProcess,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
        tmp_path: Path,
    ) -> None:
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        async with websocket:
            await websocket.send(protocol.send_input(b"echo up\r"))
            await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
            # Agents on one node share the host's state directory, and so see
            # each other's locks.
            directory = agent.state_dir.parent
            with running_agent(containerd.address, directory, agent_id="neighbour"):
                pass
            await websocket.send(protocol.send_input(b"echo still\r"))
            seen = await asyncio.wait_for(
                collect(websocket, protocol, until=b"still"), 10
            )
            assert b"still" in seen.output
            await websocket.send(protocol.send_input(b"exit\r"))
            await asyncio.wait_for(collect(websocket, protocol), 30)

    def test_an_idle_agent_exits_by_itself(
        self, containerd: ContainerdDaemon, tmp_path: Path
    ) -> None:
        idle = start_agent(
            containerd.address, tmp_path, agent_id="idle", extra=["--idle-timeout=1"]
        )
        assert idle.process.wait(timeout=15) == 0
        assert "No session for 1 s; the agent exits." in idle.log_text()

    def test_sigterm_ends_live_sessions_and_removes_their_containers(
        self,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
        tmp_path: Path,
    ) -> None:
        before = settled_containers(containerd)
        agent = start_agent(containerd.address, tmp_path, agent_id="stopping")

        async def scenario() -> str:
            websocket, protocol = await open_session(
                agent,
                request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24)),
            )
            async with websocket:
                await websocket.send(protocol.send_input(b"echo up\r"))
                await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
                assert agent.stop() == 0
                end = await asyncio.wait_for(collect(websocket, protocol), 10)
            assert end.status is not None
            return end.status.reason

        assert asyncio.run(scenario()) == "AgentShutdown"
        assert containerd.container_ids() == before


class TestAgentLog:
    async def test_probes_leave_no_info_lines_while_sessions_still_do(
        self,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
        tmp_path: Path,
    ) -> None:
        with running_agent(containerd.address, tmp_path, agent_id="quiet") as quiet:
            for _ in range(3):
                url = f"http://127.0.0.1:{quiet.port}/healthz"
                with urllib.request.urlopen(url) as answer:
                    assert answer.status == 200
            await run_session(quiet, request(busybox_target, "true"))
            wait_for(lambda: "is removed" in quiet.log_text(), 10, "cleanup is logged")
        lines = quiet.log_text().splitlines()
        assert [line for line in lines if " INFO websockets" in line] == []
        assert any("The debug container" in line for line in lines)

    async def test_at_debug_level_neither_the_token_nor_the_terminal_shows(
        self,
        containerd: ContainerdDaemon,
        busybox_target: RunningTarget,
        tmp_path: Path,
    ) -> None:
        with running_agent(
            containerd.address, tmp_path, agent_id="wordy", extra=["--log-level=DEBUG"]
        ) as wordy:
            result = await run_session(
                wordy,
                request(busybox_target, "sh"),
                stdin=b"echo typed-secret; exit 4\n",
            )
            assert result.status is not None and result.status.exit_code == 4
        text = wordy.log_text()
        assert TOKEN not in text
        assert "typed-secret" not in text and b"typed".hex(" ") not in text
        assert "< Authorization: [redacted]" in text
        assert "BINARY channel 0" in text


class TestAudit:
    async def test_each_session_leaves_a_start_and_an_end_line_without_secrets(
        self, agent: AgentProcess, busybox_target: RunningTarget
    ) -> None:
        await run_session(
            agent, request(busybox_target, "sh"), stdin=b"echo typed-secret; exit 4\n"
        )

        def records() -> list[dict[str, str]]:
            text = agent.audit_log.read_text()
            return [json.loads(line) for line in text.splitlines()]

        started = [r for r in records() if r["event"] == "session-started"][-1]

        def ended() -> list[dict[str, str]]:
            return [
                r
                for r in records()
                if r["event"] == "session-ended" and r["session"] == started["session"]
            ]

        # The end is recorded once the debug container is removed.
        wait_for(ended, 10, "the session's end is audited")
        assert ended()[0]["outcome"] == "exit 4"
        assert started["user"] == "tester"
        assert started["image"] == images.TOOLS_IMAGE
        assert started["target"] == f"containerd://{busybox_target.container_id}"
        text = agent.audit_log.read_text() + agent.log_text()
        assert TOKEN not in text and "typed-secret" not in text


class TestClientEndsTheSession:
    async def test_a_clean_close_removes_the_container_without_grace_time(
        self,
        agent: AgentProcess,
        busybox_target: RunningTarget,
        containerd: ContainerdDaemon,
    ) -> None:
        before = settled_containers(containerd)
        websocket, protocol = await open_session(
            agent, request(busybox_target, "sh", tty=True, size=TerminalSize(80, 24))
        )
        await websocket.send(protocol.send_input(b"echo up\r"))
        await asyncio.wait_for(collect(websocket, protocol, until=b"up"), 30)
        closed_at = time.monotonic()
        await websocket.close()
        wait_for(
            lambda: containerd.container_ids() == before,
            GRACE,
            "the debug container is removed before the grace time ends",
        )
        assert time.monotonic() - closed_at < GRACE
