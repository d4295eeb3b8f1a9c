"""The agent wire protocol, version 1, as both ends see it."""

import json

import pytest

from kdebug_agent.protocol import (
    MAX_FRAME_SIZE,
    AgentSideSession,
    Channel,
    ClientSideSession,
    FailureReason,
    InputReceived,
    OutputReceived,
    Progress,
    ProgressReceived,
    ProtocolError,
    PullPolicy,
    RegistryAuth,
    ResizeRequested,
    SessionEnded,
    SessionRequest,
    Status,
    StdinClosed,
    TerminalSize,
    UnsupportedProtocolVersion,
    check_protocol_version,
    decode_frame,
    encode_frame,
    hash_token,
    token_matches,
)


def _request(**changes: object) -> SessionRequest:
    fields: dict[str, object] = {
        "target": "containerd://0123abcd",
        "image": "docker.io/kdebug/tools:1",
        "command": ("sh",),
        "size": TerminalSize(width=132, height=43),
    }
    fields.update(changes)
    return SessionRequest(**fields)  # type: ignore[arg-type]


def _open_pair() -> tuple[ClientSideSession, AgentSideSession]:
    client = ClientSideSession(_request())
    agent = AgentSideSession()
    agent.receive_request(client.opening_message())
    return client, agent


class TestFraming:
    def test_a_frame_is_the_channel_byte_followed_by_the_payload(self) -> None:
        assert encode_frame(Channel.STDOUT, b"hi") == b"\x01hi"
        assert decode_frame(b"\x00abc") == (Channel.STDIN, b"abc")

    @pytest.mark.parametrize("message", [b"", "text", b"\x09data"])
    def test_empty_text_and_unknown_channel_frames_are_refused(
        self, message: bytes | str
    ) -> None:
        with pytest.raises(ProtocolError):
            decode_frame(message)


class TestSessionRequest:
    def test_a_request_survives_the_round_trip_through_json(self) -> None:
        request = _request(
            pull_policy=PullPolicy.NEVER,
            namespaces=("pid", "net"),
            registry_auth=RegistryAuth(username="u", password="p", server="r"),
            labels={"a": "b"},
        )
        assert SessionRequest.from_json(request.to_json()) == request

    def test_the_target_splits_into_runtime_and_container_id(self) -> None:
        request = _request(target="docker://feed")
        assert (request.runtime, request.container_id) == ("docker", "feed")

    def test_registry_passwords_stay_out_of_the_request_repr(self) -> None:
        request = _request(registry_auth=RegistryAuth(username="u", password="s3cr3t"))
        assert "s3cr3t" not in repr(request)

    @pytest.mark.parametrize(
        ("change", "complaint"),
        [
            ({"target": "0123"}, "runtime scheme"),
            ({"target": "cri-o://0123"}, "not supported"),
            ({"target": "containerd://../etc"}, "malformed"),
            ({"image": ""}, "image"),
            ({"command": "sh"}, "command"),
            ({"pullPolicy": "Sometimes"}, "pull policy"),
            ({"namespaces": ["pid", "cgroup"]}, "cgroup"),
            ({"size": {"width": 0, "height": 24}}, "size"),
            ({"tty": "yes"}, "tty"),
        ],
    )
    def test_a_malformed_request_is_refused_with_the_reason(
        self, change: dict[str, object], complaint: str
    ) -> None:
        data = json.loads(_request().to_json())
        data.update(change)
        with pytest.raises(ProtocolError, match=complaint):
            SessionRequest.from_json(json.dumps(data))

    def test_a_request_that_is_not_json_is_refused(self) -> None:
        with pytest.raises(ProtocolError, match="not valid JSON"):
            SessionRequest.from_json(b"\xff\xfe")

    def test_a_request_nested_too_deeply_is_refused_as_malformed(self) -> None:
        with pytest.raises(ProtocolError, match="nested too deeply"):
            SessionRequest.from_json("[" * 100_000)


class TestStatus:
    def test_an_exit_code_travels_as_kubernetes_does_it(self) -> None:
        payload = json.loads(Status.exited(7).to_json())
        assert payload["status"] == "Failure"
        assert payload["reason"] == "NonZeroExitCode"
        assert payload["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
        assert Status.from_json(Status.exited(7).to_json()).exit_code == 7

    def test_success_means_exit_code_zero(self) -> None:
        assert Status.from_json(Status.exited(0).to_json()).exit_code == 0

    def test_a_target_that_stopped_keeps_the_exit_code_for_plain_exec_clients(
        self,
    ) -> None:
        payload = json.loads(Status.target_stopped(137).to_json())
        assert payload["reason"] == "TargetStopped"
        assert payload["details"]["causes"] == [
            {"reason": "ExitCode", "message": "137"}
        ]
        parsed = Status.from_json(Status.target_stopped(137).to_json())
        assert (parsed.reason, parsed.exit_code) == ("TargetStopped", 137)
        assert "target container stopped" in parsed.message

    def test_a_failure_keeps_its_machine_readable_reason(self) -> None:
        status = Status.failed(FailureReason.TARGET_NOT_RUNNING, "It stopped.")
        parsed = Status.from_json(status.to_json())
        assert (parsed.reason, parsed.message, parsed.exit_code) == (
            "TargetNotRunning",
            "It stopped.",
            None,
        )


class TestAuthentication:
    def test_only_the_token_whose_hash_is_configured_matches(self) -> None:
        expected = hash_token("right")
        assert token_matches("right", expected)
        assert not token_matches("wrong", expected)
        assert not token_matches("", expected)

    def test_an_unknown_protocol_version_names_the_versions_spoken(self) -> None:
        assert check_protocol_version("1") == 1
        for offered in ("2", None, "one"):
            with pytest.raises(UnsupportedProtocolVersion, match="only version 1"):
                check_protocol_version(offered)


class TestSessionMachines:
    def test_input_resize_and_stdin_close_reach_the_agent_as_events(self) -> None:
        client, agent = _open_pair()
        events = [
            *agent.receive(client.send_input(b"ls\r")),
            *agent.receive(client.resize(TerminalSize(width=80, height=24))),
            *agent.receive(client.close_stdin()),
        ]
        assert events == [
            InputReceived(b"ls\r"),
            ResizeRequested(TerminalSize(width=80, height=24)),
            StdinClosed(),
        ]

    def test_output_progress_and_status_reach_the_client_as_events(self) -> None:
        client, agent = _open_pair()
        events = [
            *client.receive(agent.progress(Progress("image", "Pulling."))),
            *client.receive(agent.output(b"out")),
            *client.receive(agent.output(b"err", channel=Channel.STDERR)),
            *client.receive(agent.finish(Status.exited(3))),
        ]
        assert events[0] == ProgressReceived(Progress("image", "Pulling."))
        assert events[1:3] == [
            OutputReceived(Channel.STDOUT, b"out"),
            OutputReceived(Channel.STDERR, b"err"),
        ]
        assert isinstance(events[3], SessionEnded)
        assert events[3].status.exit_code == 3

    def test_frames_before_the_request_are_refused(self) -> None:
        with pytest.raises(ProtocolError, match="before the session request"):
            AgentSideSession().receive(encode_frame(Channel.STDIN, b"x"))

    def test_clients_may_not_write_on_output_channels(self) -> None:
        _, agent = _open_pair()
        with pytest.raises(ProtocolError, match="STDOUT"):
            agent.receive(encode_frame(Channel.STDOUT, b"x"))

    def test_a_malformed_resize_is_refused(self) -> None:
        _, agent = _open_pair()
        with pytest.raises(ProtocolError, match="Width and Height"):
            agent.receive(encode_frame(Channel.RESIZE, b'{"Width": -1}'))

    def test_a_frame_over_the_size_limit_is_refused_as_too_big(self) -> None:
        client, agent = _open_pair()
        assert agent.receive(client.send_input(b"x" * (MAX_FRAME_SIZE - 1)))
        with pytest.raises(ProtocolError, match="too big"):
            agent.receive(client.send_input(b"x" * MAX_FRAME_SIZE))

    def test_a_resize_nested_too_deeply_is_refused_as_malformed(self) -> None:
        _, agent = _open_pair()
        with pytest.raises(ProtocolError, match="nested too deeply"):
            agent.receive(encode_frame(Channel.RESIZE, b"[" * 100_000))

    def test_nothing_may_follow_the_final_status(self) -> None:
        client, agent = _open_pair()
        client.receive(agent.finish(Status.exited(0)))
        with pytest.raises(ProtocolError, match="after the final status"):
            client.receive(agent.output(b"late"))
