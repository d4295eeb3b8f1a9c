"""A new agent pod coming up: its stages, its failures, and not waiting for Ready.

The client asks the agent itself once the pod is scheduled, instead of waiting
for the kubelet to notice the container and probe it. When the kubelet reports
what depends on its own timing, which a real cluster cannot be made to hold
still; so these tests give the session stand-ins for the pod's status and the
agent's answer. The end-to-end tests launch against the real thing.
"""

import asyncio
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from kdebug_tui.backend.agents import AgentPod, AgentPods, AgentPodState
from kdebug_tui.backend.connection import QuietForwardThreads
from kdebug_tui.backend.errors import AgentPodError, PermissionDenied
from kdebug_tui.backend.session import SessionManager
from kdebug_tui.backend.settings import Settings
from kdebug_tui.backend.tokens import TokenStore

AGENT = AgentPod("default", "kdebug-agent-node-1-abc123", "uid-1", "node-1", "t")


def _pod(
    *,
    state: dict[str, Any] | None = None,
    ready: bool = False,
    phase: str = "Pending",
    scheduled: dict[str, str] | None = None,
) -> dict[str, Any]:
    conditions = [scheduled or {"type": "PodScheduled", "status": "True"}]
    if ready:
        conditions.append({"type": "Ready", "status": "True"})
    statuses = [{"name": "agent", "imageID": "sha256:1", "state": state}]
    return {
        "metadata": {"namespace": AGENT.namespace, "name": AGENT.name},
        "spec": {"nodeName": "node-1"},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": statuses if state is not None else [],
        },
    }


RUNNING = {"running": {"startedAt": "2026-12-04T04:00:00Z"}}
CRASHED = {"terminated": {"exitCode": 2, "reason": "Error"}}


class AgentLog:
    """Stands in for the API server where only the agent's log is read."""

    def request_bytes(self, method: str, path: str, **_: object) -> bytes:
        """The last lines an agent that found no runtime writes."""
        assert path.endswith("/log")
        return b"ERROR kdebug_agent: No container runtime answers: tried /run/x.\n"


def _agent_pods() -> AgentPods:
    return AgentPods(AgentLog(), Settings(), tokens=TokenStore())  # type: ignore[arg-type]


def _progress(pod: dict[str, Any]) -> tuple[AgentPodState, list[str]]:
    stages: list[str] = []
    state = _agent_pods()._check_progress(
        pod, set(), lambda stage, message: stages.append(stage)
    )
    return state, stages


class TestStages:
    """Each stage is reported as the pod's status shows it."""

    def test_a_running_agent_counts_as_started_before_the_kubelet_says_ready(
        self,
    ) -> None:
        state, stages = _progress(_pod(state=RUNNING, phase="Running"))
        assert state is AgentPodState.STARTED
        assert stages == ["agent-scheduled", "agent-image", "agent-started"]

    def test_ready_reports_started_and_ready(self) -> None:
        state, stages = _progress(_pod(state=RUNNING, phase="Running", ready=True))
        assert state is AgentPodState.READY
        assert stages[-2:] == ["agent-started", "agent-ready"]

    def test_a_container_being_created_is_pending(self) -> None:
        waiting = {"waiting": {"reason": "ContainerCreating"}}
        assert _progress(_pod(state=waiting))[0] is AgentPodState.PENDING


class TestFailures:
    """A pod that cannot come up is said in a sentence with what to do."""

    def test_an_agent_that_exited_says_its_code_and_log(self) -> None:
        with pytest.raises(AgentPodError) as raised:
            _progress(_pod(state=CRASHED, phase="Failed"))
        assert "The agent exited with code 2 (Error)" in str(raised.value)
        assert "No container runtime answers" in str(raised.value)
        assert "runtime_socket" in raised.value.hint

    def test_an_image_pull_failure_names_the_image(self) -> None:
        waiting = {"waiting": {"reason": "ErrImagePull", "message": "not found"}}
        with pytest.raises(AgentPodError) as raised:
            _progress(_pod(state=waiting))
        assert "cannot pull the agent image" in str(raised.value)
        assert "not found" in str(raised.value)

    def test_an_unschedulable_pod_says_why(self) -> None:
        scheduled = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available",
        }
        with pytest.raises(AgentPodError) as raised:
            _progress(_pod(scheduled=scheduled))
        assert "cannot be scheduled: 0/1 nodes are available" in str(raised.value)


class StartingPod:
    """Stands in for `AgentPods`: a scheduled pod whose agent is never Ready.

    `check` returns the states given, one a call, then the last one forever.
    """

    def __init__(
        self, *checks: AgentPodState | Exception, scheduled: bool = True
    ) -> None:
        self._checks: Iterator[AgentPodState | Exception] = iter(checks)
        self._last: AgentPodState | Exception = AgentPodState.PENDING
        self._scheduled = scheduled
        self.checked = 0

    def check(self, pod: AgentPod, *, reported: set[str], **_: object) -> AgentPodState:
        """The next state given."""
        self.checked += 1
        if self._scheduled:
            reported.add("agent-scheduled")
        self._last = next(self._checks, self._last)
        if isinstance(self._last, Exception):
            raise self._last
        return self._last

    def describe(self, pod: AgentPod) -> str:
        """What a timeout message quotes."""
        return "phase Pending, ContainerCreating"


def _manager(
    pod: StartingPod, answers: list[bool], *, ready_timeout: int = 120
) -> tuple[SessionManager, list[str]]:
    manager = SessionManager(
        None,  # type: ignore[arg-type]
        Settings(ready_timeout=ready_timeout),
        tokens=TokenStore(),
    )
    manager.agent_pods = pod  # type: ignore[assignment]
    replies = iter(answers)
    manager.probed = 0  # type: ignore[attr-defined]

    async def answers_next(agent: AgentPod) -> bool:
        manager.probed += 1  # type: ignore[attr-defined]
        return next(replies, answers[-1])

    manager._agent_answers = answers_next  # type: ignore[method-assign]
    return manager, []


async def _wait(manager: SessionManager, stages: list[str]) -> None:
    await manager._wait_ready(AGENT, lambda stage, message: stages.append(stage))
    # Reports from the watch's thread arrive through the loop.
    await asyncio.sleep(0)


class TestReadiness:
    """The launch goes on as soon as the agent answers, Ready or not."""

    async def test_an_agent_that_answers_before_ready_is_used_at_once(self) -> None:
        """The status still says ContainerCreating: the kubelet is late."""
        pod = StartingPod()
        manager, stages = _manager(pod, [False, False, True])
        await _wait(manager, stages)
        assert stages == ["agent-started", "agent-ready"]
        assert pod.checked == 3

    async def test_a_pod_the_kubelet_calls_ready_needs_no_question(self) -> None:
        pod = StartingPod(AgentPodState.READY)
        manager, stages = _manager(pod, [True])
        await _wait(manager, stages)
        assert manager.probed == 0  # type: ignore[attr-defined]

    async def test_an_agent_that_crashes_while_asked_is_told_as_a_crash(
        self,
    ) -> None:
        crash = AgentPodError("The agent exited with code 2 (Error): no runtime")
        pod = StartingPod(AgentPodState.STARTED, crash)
        manager, stages = _manager(pod, [False])
        with pytest.raises(AgentPodError, match="exited with code 2"):
            await _wait(manager, stages)

    async def test_an_agent_that_never_answers_times_out_with_its_state(
        self,
    ) -> None:
        manager, stages = _manager(StartingPod(), [False], ready_timeout=1)
        with pytest.raises(AgentPodError) as raised:
            await _wait(manager, stages)
        assert "was not ready after 1 s (phase Pending, ContainerCreating)" in str(
            raised.value
        )

    async def test_a_pod_not_scheduled_yet_is_not_asked(self) -> None:
        manager, stages = _manager(
            StartingPod(scheduled=False), [True], ready_timeout=1
        )
        with pytest.raises(AgentPodError, match="was not ready after 1 s"):
            await _wait(manager, stages)
        assert manager.probed == 0  # type: ignore[attr-defined]

    async def test_a_forbidden_port_forward_is_not_retried(self) -> None:
        manager, stages = _manager(StartingPod(), [False])

        async def forbidden(agent: AgentPod) -> bool:
            raise PermissionDenied("You may not port-forward to pods in default.")

        manager._agent_answers = forbidden  # type: ignore[method-assign]
        with pytest.raises(PermissionDenied):
            await _wait(manager, stages)


class TestPortForwardThreads:
    """A port-forward closed under the client's thread is logged, not printed."""

    def _hook_sees(self, thread_name: str, error: BaseException) -> list[str]:
        handed_on: list[str] = []
        hook = QuietForwardThreads(lambda args: handed_on.append(str(args.exc_value)))
        thread = threading.Thread(target=lambda: None, name=thread_name)
        hook(threading.ExceptHookArgs((type(error), error, None, thread)))
        return handed_on

    def test_a_broken_pipe_of_the_forward_thread_stays_off_the_terminal(
        self,
    ) -> None:
        error = ssl.SSLEOFError("EOF occurred in violation of protocol")
        assert self._hook_sees("Kubernetes port forward proxy: 10027", error) == []

    def test_other_threads_errors_are_handed_on(self) -> None:
        assert self._hook_sees("worker", OSError("disk full")) == ["disk full"]
        forward = "Kubernetes port forward proxy: 10027"
        assert self._hook_sees(forward, ValueError("bug")) == ["bug"]


class SlowCreation:
    """Stands in for `AgentPods` where creating a pod takes until `release`.

    A real API server answers too fast for a cancellation to be placed inside
    its answer; this holds the request open for the test.
    """

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.deleted: list[AgentPod] = []

    def find_reusable(self, node: str) -> None:
        """No agent pod runs on the node."""
        return None

    def create_pod(self, node: str) -> AgentPod:
        """Make the pod once released, as the API server would have."""
        self.started.set()
        self.release.wait(timeout=30)
        return AGENT

    def delete(self, pod: AgentPod) -> None:
        """Remember what was deleted."""
        self.deleted.append(pod)


class TestCancelledLaunch:
    """A launch cancelled at any moment leaves no agent pod behind."""

    async def test_a_pod_made_while_the_launch_was_cancelled_is_deleted(self) -> None:
        pods = SlowCreation()
        manager = SessionManager(
            None,  # type: ignore[arg-type]
            Settings(),
            tokens=TokenStore(),
        )
        manager.agent_pods = pods  # type: ignore[assignment]
        manager._permissions_checked = True

        launch = asyncio.create_task(
            manager._agent_for("node-1", lambda stage, message: None)
        )
        # Cancel while the request to create the pod is on its way, then let
        # the API server answer that it made it.
        await asyncio.to_thread(pods.started.wait, 30)
        launch.cancel()
        await asyncio.sleep(0.05)
        pods.release.set()

        with pytest.raises(asyncio.CancelledError):
            await launch
        assert pods.deleted == [AGENT]
