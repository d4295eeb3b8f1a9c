"""What the client tells about a session it refuses or loses, before the agent can."""

import pytest

from kdebug_agent.protocol import SessionRequest, Status
from kdebug_tui.backend import session
from kdebug_tui.backend.errors import SessionFailed
from kdebug_tui.backend.targets import Target


def request(*command: str) -> SessionRequest:
    return SessionRequest(
        target="containerd://3f2a", image="docker.io/kdebug/tools:1", command=command
    )


class TestRequestSize:
    def test_a_command_of_usual_length_fits(self) -> None:
        session._require_fitting(request("sh", "-c", "echo $#", *map(str, range(99))))

    def test_a_huge_command_line_is_refused_as_too_long(self) -> None:
        words = [str(n) for n in range(1, 120001)]
        with pytest.raises(SessionFailed) as caught:
            session._require_fitting(request("sh", "-c", "echo $#", *words))
        assert str(caught.value).startswith("The command is too long")
        assert caught.value.hint


class TestLostConnection:
    def test_the_hint_holds_whether_the_network_or_the_agent_failed(self) -> None:
        hint = session.LOST_CONNECTION_HINT
        assert "after the grace time" in hint
        assert "by the next agent on the node if the agent itself stopped" in hint


class TestTargetGoneAfterItWasRead:
    container_id = "9" * 64
    target = Target(
        namespace="kdebug-demo",
        pod="crash-loop",
        container="app",
        container_id=f"containerd://{container_id}",
        node="node-1",
    )

    @pytest.mark.parametrize(
        ("reason", "words"),
        [
            ("TargetNotRunning", "stopped before the debug container could join it"),
            ("TargetNotFound", "is no longer on node node-1"),
        ],
    )
    def test_the_user_is_told_the_containers_name_not_its_id(
        self, reason: str, words: str
    ) -> None:
        status = Status(
            success=False,
            reason=reason,
            message=f"The target container {self.container_id} is exited.",
        )
        error = session.session_failure(status, self.target)
        assert str(error).startswith("Container app of pod kdebug-demo/crash-loop ")
        assert words in str(error)
        assert self.container_id[:12] not in str(error)
        assert error.reason == reason
        assert error.hint

    def test_other_failures_keep_the_agents_words(self) -> None:
        status = Status(
            success=False, reason="ImagePullFailed", message="The pull was refused."
        )
        error = session.session_failure(status, self.target)
        assert str(error) == "The pull was refused."
