"""The headless CLI's pure parts: escape sequence, terminal size, credentials."""

import base64
import fcntl
import json
import os
import pty
import struct
import sys
import termios

import pytest

from kdebug_agent.protocol import TerminalSize
from kdebug_tui.backend.registry import _auth_from_secret, registry_host
from kdebug_tui.headless import EscapeDetector, terminal_size


class TestEscapeSequence:
    def test_enter_tilde_dot_asks_to_disconnect(self) -> None:
        detector = EscapeDetector()
        assert detector.feed(b"ls\r") == (b"ls\r", False)
        assert detector.feed(b"~.") == (b"", True)

    def test_a_tilde_inside_a_line_is_plain_input(self) -> None:
        assert EscapeDetector().feed(b"x~.") == (b"x~.", False)

    def test_a_doubled_tilde_sends_one_tilde(self) -> None:
        detector = EscapeDetector()
        assert detector.feed(b"~~") == (b"~", False)

    def test_a_tilde_followed_by_another_key_sends_both(self) -> None:
        detector = EscapeDetector()
        forwarded, left = detector.feed(b"~")
        assert (forwarded, left) == (b"", False)
        assert detector.feed(b"a") == (b"~a", False)

    def test_the_terminals_answer_to_a_prompts_question_is_not_typing(
        self,
    ) -> None:
        # BusyBox's prompt asks where the cursor is; the answer comes as input.
        detector = EscapeDetector()
        assert detector.feed(b"\r") == (b"\r", False)
        assert detector.feed(b"\x1b[24;5R") == (b"\x1b[24;5R", False)
        assert detector.feed(b"~") == (b"", False)
        assert detector.feed(b".") == (b"", True)

    def test_a_sequence_split_across_reads_still_counts_as_one(self) -> None:
        detector = EscapeDetector()
        assert detector.feed(b"\r\x1b[2") == (b"\r\x1b[2", False)
        assert detector.feed(b"4;5R~.") == (b"4;5R", True)

    def test_a_tilde_after_a_key_sequence_mid_line_is_plain_input(self) -> None:
        detector = EscapeDetector()
        assert detector.feed(b"ls\x1bOD~.") == (b"ls\x1bOD~.", False)

    def test_a_held_tilde_goes_out_before_a_sequence(self) -> None:
        detector = EscapeDetector()
        assert detector.feed(b"~\x1b[A.") == (b"~\x1b[A.", False)

    def test_control_characters_pass_through_untouched(self) -> None:
        keys = bytes([3, 16, 26, 27]) + b"\x1b[A"
        assert EscapeDetector().feed(keys) == (keys, False)


class TestRegistryCredentials:
    def test_the_registry_host_defaults_to_docker_hub(self) -> None:
        assert registry_host("nicolaka/netshoot:v0.13") == "docker.io"
        assert registry_host("localhost:5000/tools:1") == "localhost:5000"
        assert registry_host("ghcr.io/org/img") == "ghcr.io"

    def test_credentials_are_read_from_a_dockerconfigjson_secret(self) -> None:
        auth = base64.b64encode(b"alice:s3cret").decode()
        config = {"auths": {"https://localhost:5000": {"auth": auth}}}
        secret = {
            "data": {
                ".dockerconfigjson": base64.b64encode(
                    json.dumps(config).encode()
                ).decode()
            }
        }
        found = _auth_from_secret(secret, "localhost:5000")
        assert found is not None
        assert (found.username, found.password) == ("alice", "s3cret")
        assert _auth_from_secret(secret, "docker.io") is None


class TestTerminalSize:
    @pytest.mark.parametrize(
        ("reported", "sent"),
        [
            # A pty left at 0x0, as `script` leaves it, still gives a usable size.
            ((0, 0), TerminalSize(width=80, height=24)),
            ((31, 97), TerminalSize(width=97, height=31)),
        ],
    )
    def test_the_size_sent_is_the_terminals_or_80_by_24_where_it_has_none(
        self,
        monkeypatch: pytest.MonkeyPatch,
        reported: tuple[int, int],
        sent: TerminalSize,
    ) -> None:
        main, secondary = pty.openpty()
        try:
            winsize = struct.pack("HHHH", *reported, 0, 0)
            fcntl.ioctl(secondary, termios.TIOCSWINSZ, winsize)
            with open(secondary, "w", closefd=False) as stream:
                monkeypatch.setattr(sys, "stdout", stream)
                monkeypatch.setattr(sys, "stdin", stream)
                assert terminal_size() == sent
        finally:
            os.close(main)
            os.close(secondary)
