"""What the client tells about a session it refuses or loses, before the agent can."""

import pytest

from kdebug_agent.protocol import SessionRequest
from kdebug_tui.backend import session
from kdebug_tui.backend.errors import SessionFailed


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
