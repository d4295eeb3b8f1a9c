"""The command line: options anywhere before `--`, the command only after it."""

import pytest

from kdebug_tui.cli import parse_arguments, removal_summary


class TestOptionsAnywhereBeforeTheSeparator:
    def test_options_after_the_pod_are_options(self) -> None:
        args = parse_arguments(["debug", "-n", "shop", "web", "-c", "nginx"])
        assert (args.namespace, args.pod, args.container) == ("shop", "web", "nginx")
        assert args.command_args == ()

    def test_the_image_after_the_pod_is_the_debug_image(self) -> None:
        args = parse_arguments(["debug", "web", "--image", "busybox", "--", "sh"])
        assert (args.pod, args.image, args.command_args) == ("web", "busybox", ("sh",))

    def test_options_before_the_subcommand_count_too(self) -> None:
        args = parse_arguments(["-n", "shop", "--context", "kind", "debug", "web"])
        assert (args.namespace, args.context, args.pod) == ("shop", "kind", "web")

    def test_without_a_separator_there_is_no_command(self) -> None:
        args = parse_arguments(["debug", "web", "--unprivileged"])
        assert (args.command_args, args.privileged) == ((), False)


class TestTheCommandAfterTheSeparator:
    def test_everything_after_the_separator_is_the_command_verbatim(self) -> None:
        args = parse_arguments(
            ["debug", "web", "--", "sh", "-c", "ls -n", "--", "-c", "x"]
        )
        assert args.command_args == ("sh", "-c", "ls -n", "--", "-c", "x")
        assert args.container is None

    def test_options_after_the_separator_belong_to_the_command(self) -> None:
        args = parse_arguments(["debug", "web", "--", "ps", "--image", "x"])
        assert (args.image, args.command_args) == (None, ("ps", "--image", "x"))

    def test_an_empty_command_means_the_images_default(self) -> None:
        assert parse_arguments(["debug", "web", "--"]).command_args == ()

    def test_a_command_without_the_separator_is_refused_with_the_fix(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            parse_arguments(["debug", "web", "ps", "-ef"])
        assert exited.value.code == 2
        error = capsys.readouterr().err
        assert "kdebug-tui debug: error: unexpected 'ps -ef'" in error
        assert "put the command to run after --" in error

    def test_an_unknown_option_is_named(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit):
            parse_arguments(["debug", "web", "--bogus", "x"])
        assert "unknown option --bogus" in capsys.readouterr().err

    def test_gc_takes_no_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            parse_arguments(["gc", "--", "ls"])
        assert "only `kdebug-tui debug` runs a command" in capsys.readouterr().err


class TestHelp:
    def _help(self, capsys: pytest.CaptureFixture[str], *words: str) -> str:
        with pytest.raises(SystemExit):
            parse_arguments([*words, "--help"])
        return capsys.readouterr().out

    def test_gc_shows_only_the_flags_it_uses(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        text = self._help(capsys, "gc")
        for flag in ("--kubeconfig", "--context", "--agent-namespace", "--verbose"):
            assert flag in text
        for flag in ("--namespace", "--agent-image", "--image", "--container"):
            assert flag not in text

    def test_debug_shows_the_separator_in_its_usage_and_examples(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        text = self._help(capsys, "debug")
        assert "POD [-- COMMAND [ARG ...]]" in text
        assert "web-7d4f -n shop --image busybox -- sh -c" in text

    def test_the_examples_parse_as_they_read(self) -> None:
        args = parse_arguments(
            ["debug", "web-7d4f", "-n", "shop", "--image", "busybox"]
            + ["--", "sh", "-c", "netstat -tln"]
        )
        assert (args.pod, args.namespace, args.image) == ("web-7d4f", "shop", "busybox")
        assert args.command_args == ("sh", "-c", "netstat -tln")


class TestGarbageCollectionSummary:
    def test_one_pod_is_singular(self) -> None:
        assert removal_summary(["kdebug-agent-a"], namespace="default") == (
            "Removed 1 agent pod from default: kdebug-agent-a."
        )

    def test_several_pods_are_plural(self) -> None:
        assert removal_summary(["a", "b"], namespace="ops") == (
            "Removed 2 agent pods from ops: a, b."
        )

    def test_nothing_removed_says_so(self) -> None:
        assert removal_summary([], namespace="ops") == (
            "No finished or expired agent pods in ops."
        )


class TestEmptyValues:
    @pytest.mark.parametrize(
        ("words", "flag"),
        [
            (["debug", "web", "--image", ""], "--image"),
            (["debug", "web", "-n", ""], "-n/--namespace"),
            (["debug", "web", "-c", ""], "-c/--container"),
            (["debug", "web", "--share", ""], "--share"),
            (["debug", "web", "--share", " , "], "--share"),
            (["debug", "web", "--agent-namespace", ""], "--agent-namespace"),
        ],
    )
    def test_an_empty_value_is_refused_with_the_flag_named(
        self, capsys: pytest.CaptureFixture[str], words: list[str], flag: str
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            parse_arguments(words)
        assert exited.value.code == 2
        error = capsys.readouterr().err
        assert f"argument {flag}: " in error
        assert "it is empty" in error


class TestKubernetesNames:
    @pytest.mark.parametrize(
        ("words", "where", "wrong"),
        [
            (["debug", "web/exec"], "POD", "'web/exec' is not a valid pod name"),
            (["debug", "-n", "Shop", "web"], "-n/--namespace", "'Shop' is not a"),
            (
                ["debug", "--agent-namespace", "a b", "web"],
                "--agent-namespace",
                "'a b'",
            ),
            (["-n", "x_y"], "-n/--namespace", "'x_y' is not a valid namespace name"),
        ],
    )
    def test_a_name_kubernetes_would_refuse_gets_the_usage(
        self,
        capsys: pytest.CaptureFixture[str],
        words: list[str],
        where: str,
        wrong: str,
    ) -> None:
        with pytest.raises(SystemExit) as exited:
            parse_arguments(words)
        assert exited.value.code == 2
        error = capsys.readouterr().err
        assert error.startswith("usage: ")
        assert f"argument {where}: {wrong}" in error

    def test_names_of_the_usual_shapes_pass(self) -> None:
        args = parse_arguments(["debug", "-n", "kube-system", "coredns-7d4f.x2k8p"])
        assert (args.namespace, args.pod) == ("kube-system", "coredns-7d4f.x2k8p")
