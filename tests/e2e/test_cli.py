"""Debugging pods of the real cluster with the headless `kdebug-tui debug`."""

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster import images
from tests.e2e.cli_support import (
    DEMO_NAMESPACE,
    KDEBUG,
    agent_pods,
    cli_environment,
    eventually,
    leftovers,
    nothing_left,
    run_cli,
)
from tests.fixtures.cluster import KubernetesCluster
from tests.tui.private_namespace import PrivateNamespace, private_namespace

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def user_env(
    kubernetes_cluster: KubernetesCluster, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The least-privileged user; the test must leave no agent pod behind."""
    env = cli_environment(kubernetes_cluster, tmp_path)
    before = leftovers(kubernetes_cluster)
    yield env
    nothing_left(kubernetes_cluster, before)


def debug(
    env: dict[str, str],
    pod: str,
    *command: str,
    stdin: str = "",
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        env, "debug", "-n", DEMO_NAMESPACE, *extra, pod, "--", *command, stdin=stdin
    )


class TestDebuggingAPod:
    def test_ps_shows_the_targets_processes_from_another_namespace(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "web", "ps", "-o", "pid,args")
        assert result.returncode == 0, result.stderr
        assert "httpd" in result.stdout

    def test_a_file_only_in_the_target_image_is_readable(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "web", "cat", f"/target{images.TARGET_MARKER}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == images.TARGET_MARKER_TEXT.strip()

    def test_the_commands_exit_code_is_the_clis_exit_code(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "web", "sh", stdin="exit 3\n")
        assert result.returncode == 3, result.stderr

    def test_stdout_and_stderr_come_back_separately(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "web", "sh", "-c", "echo out; echo err >&2")
        assert (result.stdout, result.stderr.splitlines()[-1:]) == ("out\n", ["err"])

    def test_a_pod_without_any_shell_is_debuggable(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "no-shell", "ps", "-o", "args")
        assert result.returncode == 0, result.stderr
        assert "sleep-forever" in result.stdout or "/sleep" in result.stdout

    def test_a_running_init_container_is_a_valid_target(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(
            user_env,
            "native-sidecar",
            "sh",
            "-c",
            "echo in-$KDEBUG_TARGET_ROOT",
            extra=("-c", "proxy"),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "in-/target"

    def test_options_after_the_pod_are_options_not_the_command(
        self, user_env: dict[str, str]
    ) -> None:
        result = run_cli(
            user_env,
            "debug",
            "web",
            "-n",
            DEMO_NAMESPACE,
            "-c",
            "web",
            "--",
            "ps",
            "-o",
            "pid,args",
        )
        assert result.returncode == 0, result.stderr
        assert "httpd" in result.stdout

    @pytest.mark.parametrize("share", ["pid,net,ipc", "pid,net,ipc,uts"])
    def test_the_hostname_is_the_pods_whether_or_not_uts_is_joined(
        self, user_env: dict[str, str], share: str
    ) -> None:
        result = debug(user_env, "web", "hostname", extra=("--share", share))
        assert result.returncode == 0, result.stderr
        assert result.stdout == "web\n"

    def test_the_debug_log_shows_neither_the_token_nor_what_is_typed(
        self, user_env: dict[str, str]
    ) -> None:
        result = run_cli(
            user_env,
            "-vv",
            "debug",
            "-n",
            DEMO_NAMESPACE,
            "web",
            "--",
            "sh",
            "-c",
            "read line; echo got ${#line}",
            stdin="typed-secret\n",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "got 12\n"
        assert "> Authorization: [redacted]" in result.stderr
        assert "Bearer" not in result.stderr
        assert "typed-secret" not in result.stderr
        assert b"typed".hex(" ") not in result.stderr


class TestClearErrors:
    def test_a_pod_with_a_running_native_sidecar_needs_a_container_named(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "native-sidecar", "true")
        assert result.returncode == 1
        assert (
            "Pod kdebug-demo/native-sidecar has 2 containers to choose from: "
            "proxy (running sidecar), app." in result.stderr
        )
        assert "Pass -c with the one to debug" in result.stderr
        assert "Traceback" not in result.stderr

    def test_a_pod_that_does_not_exist(self, user_env: dict[str, str]) -> None:
        result = debug(user_env, "no-such-pod", "true")
        assert result.returncode == 1
        # The sentence and what to do, nothing else.
        assert result.stderr.splitlines() == [
            "kdebug-tui: There is no pod no-such-pod in namespace kdebug-demo.",
            "  List pods with `kubectl get pods -n kdebug-demo` or pick one in the "
            "browser.",
        ]

    @pytest.mark.parametrize(
        ("where", "name", "kind"),
        [("kdebug-demo", "web/exec", "pod"), ("Bad_NS!", "web", "namespace")],
    )
    def test_a_name_kubernetes_would_refuse_is_named_as_such(
        self, user_env: dict[str, str], where: str, name: str, kind: str
    ) -> None:
        # As an argument, it is a mistyped argument: the usage and exit code 2.
        result = run_cli(user_env, "debug", "-n", where, name, "--", "true")
        assert result.returncode == 2
        wrong = name if kind == "pod" else where
        assert result.stderr.startswith("usage: kdebug-tui debug ")
        assert f"{wrong!r} is not a valid {kind} name." in result.stderr

    def test_a_namespace_from_the_settings_is_checked_too(
        self, user_env: dict[str, str]
    ) -> None:
        env = {**user_env, "KDEBUG_NAMESPACE": "Bad_NS!"}
        result = run_cli(env, "debug", "web", "--", "true")
        assert result.returncode == 1
        assert result.stderr.startswith(
            "kdebug-tui: 'Bad_NS!' is not a valid namespace name.\n"
        ), result.stderr

    def test_a_command_the_debug_image_lacks_exits_127_with_what_to_do(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(user_env, "web", "nosuchcmd")
        assert result.returncode == 127
        assert result.stderr.splitlines() == [
            'kdebug-tui: The debug image has no command "nosuchcmd" (executable '
            "file not found in $PATH).",
            "  Give the command's full path, or pick a debug image that has it "
            "(--image, or D in the browser).",
        ]

    def test_a_container_that_is_not_running(
        self, user_env: dict[str, str], kubernetes_cluster: KubernetesCluster
    ) -> None:
        # The crasher runs 3 s before each crash: wait until it is waiting out
        # a back-off of 40 s or more, so that it cannot be running when read.
        eventually(
            lambda: _in_long_crash_back_off(kubernetes_cluster, "crash-loop"),
            timeout=240,
            what="crash-loop waits out a long back-off",
        )
        result = debug(user_env, "crash-loop", "true")
        assert result.returncode == 1
        assert "is not running" in result.stderr
        assert "Traceback" not in result.stderr

    def test_a_debug_image_absent_with_pull_policy_never(
        self, user_env: dict[str, str]
    ) -> None:
        result = debug(
            user_env,
            "web",
            "true",
            extra=("--image", "docker.io/kdebug/absent:1", "--pull-policy", "Never"),
        )
        assert result.returncode == 1
        assert "docker.io/kdebug/absent:1" in result.stderr
        assert "--pull-policy IfNotPresent" in result.stderr

    def test_a_user_without_port_forward_permission(
        self, kubernetes_cluster: KubernetesCluster, tmp_path: Path
    ) -> None:
        env = cli_environment(
            kubernetes_cluster,
            tmp_path,
            kubeconfig=kubernetes_cluster.user_no_portforward_kubeconfig,
        )
        before = leftovers(kubernetes_cluster)
        result = debug(env, "web", "true")
        assert result.returncode == 1
        assert "create pods/portforward" in result.stderr
        nothing_left(kubernetes_cluster, before)

    def test_an_agent_namespace_that_does_not_exist(
        self, kubernetes_cluster: KubernetesCluster, tmp_path: Path
    ) -> None:
        env = cli_environment(
            kubernetes_cluster, tmp_path, agent_namespace="kdebug-no-such-namespace"
        )
        result = debug(env, "web", "true")
        assert result.returncode == 1
        assert (
            "The agent namespace kdebug-no-such-namespace does not exist."
            in result.stderr
        )
        assert "administrator" not in result.stderr

    def test_an_agent_namespace_that_enforces_the_restricted_level(
        self, kubernetes_cluster: KubernetesCluster, tmp_path: Path
    ) -> None:
        namespace = "kdebug-restricted"
        subprocess.run(
            kubernetes_cluster.kubectl_command("create", "namespace", namespace),
            capture_output=True,
            check=False,
        )
        subprocess.run(
            kubernetes_cluster.kubectl_command(
                "label",
                "--overwrite",
                "namespace",
                namespace,
                "pod-security.kubernetes.io/enforce=restricted",
            ),
            check=True,
            capture_output=True,
        )
        env = cli_environment(
            kubernetes_cluster,
            tmp_path,
            kubeconfig=kubernetes_cluster.admin_kubeconfig,
            agent_namespace=namespace,
        )
        result = debug(env, "web", "true")
        assert result.returncode == 1
        assert f"Namespace {namespace} enforces a Pod Security level" in result.stderr
        assert "pod-security.kubernetes.io/enforce=privileged" in result.stderr
        pods = subprocess.run(
            kubernetes_cluster.kubectl_command(
                "get", "pods", "-n", namespace, "-o", "name"
            ),
            capture_output=True,
            text=True,
            check=True,
        )
        assert pods.stdout == ""


class TestAgentPodLifecycle:
    def test_two_sessions_on_one_node_share_one_agent_pod_which_goes_after_both(
        self, user_env: dict[str, str], kubernetes_cluster: KubernetesCluster
    ) -> None:
        pods_before, containers_before = leftovers(kubernetes_cluster)

        def new_pods() -> set[str]:
            return leftovers(kubernetes_cluster)[0] - pods_before

        def new_containers() -> set[str]:
            return leftovers(kubernetes_cluster)[1] - containers_before

        # The first session starts the agent pod and keeps it busy for a while.
        first = subprocess.Popen(
            [KDEBUG, "debug", "-n", DEMO_NAMESPACE, "web", "--", "sleep", "15"],
            env=user_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        eventually(
            lambda: len(new_containers()) == 1,
            timeout=120,
            what="the first debug container runs",
        )
        shared = new_pods()
        assert len(shared) == 1
        # Other clients reuse a pod the kubelet calls Ready; the first client
        # probes the agent itself and may be in its session a moment before.
        eventually(
            lambda: any(
                p["name"] in shared and p["ready"]
                for p in agent_pods(kubernetes_cluster)
            ),
            timeout=30,
            what="the kubelet finds the agent pod ready",
        )
        # The second session, to another pod on the same node, reuses it.
        second = debug(
            user_env, "multi", "sh", "-c", "echo second", extra=("-c", "app")
        )
        assert second.returncode == 0, second.stderr
        assert new_pods() == shared
        assert first.wait(timeout=120) == 0, first.stderr
        eventually(
            lambda: not new_pods(),
            timeout=60,
            what="the shared agent pod is deleted after the last session",
        )

    def test_a_killed_client_leaves_nothing_after_grace_idle_and_gc(
        self, kubernetes_cluster: KubernetesCluster, tmp_path: Path
    ) -> None:
        before = leftovers(kubernetes_cluster)
        env = cli_environment(
            kubernetes_cluster, tmp_path, grace="3", agent_idle_timeout="5"
        )
        client = subprocess.Popen(
            [KDEBUG, "debug", "-n", DEMO_NAMESPACE, "web", "--", "sleep", "600"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ours() -> tuple[set[str], set[str]]:
            pods, containers = leftovers(kubernetes_cluster)
            return pods - before[0], containers - before[1]

        eventually(
            lambda: len(ours()[1]) == 1, timeout=120, what="the debug container runs"
        )
        (agent,) = ours()[0]
        client.send_signal(signal.SIGKILL)
        client.wait()
        killed_at = time.monotonic()
        eventually(
            lambda: not ours()[1],
            timeout=30,
            what="the debug container is removed after the grace time",
        )
        assert time.monotonic() - killed_at >= 2
        eventually(
            lambda: any(
                p["name"] == agent and p["phase"] == "Succeeded"
                for p in agent_pods(kubernetes_cluster)
            ),
            timeout=60,
            what="the idle agent exits",
        )
        result = run_cli(env, "gc")
        assert result.returncode == 0, result.stderr
        assert agent in result.stdout
        nothing_left(kubernetes_cluster, before)


class TestReadmeDemo:
    def test_the_demo_command_runs_the_product_against_the_local_cluster(
        self, kubernetes_cluster: KubernetesCluster, tmp_path: Path
    ) -> None:
        before = leftovers(kubernetes_cluster)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("KDEBUG_") and key != "KUBECONFIG"
        }
        env.update(
            HOME=str(tmp_path),
            XDG_STATE_HOME=str(tmp_path / "state"),
            # A user's own exported kubeconfig: the demo must not follow it.
            KUBECONFIG=str(tmp_path / "elsewhere.kubeconfig"),
        )
        result = subprocess.run(
            [
                str(REPO / "scripts" / "demo"),
                # Without -n: the demo opens on its sample pods' namespace.
                "debug",
                "web",
                "--",
                "cat",
                f"/target{images.TARGET_MARKER}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=1200,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        # Only the session writes to stdout; the cluster's banner goes to stderr.
        assert result.stdout == images.TARGET_MARKER_TEXT
        assert "The cluster" in result.stderr
        nothing_left(kubernetes_cluster, before)


def start_session(env: dict[str, str], *command: str) -> subprocess.Popen[str]:
    """Start `kdebug-tui -v debug web -- COMMAND` with a stdin that stays open.

    With -v, its stderr tells what it was doing when a test fails.
    """
    return subprocess.Popen(
        [KDEBUG, "-v", "debug", "-n", DEMO_NAMESPACE, "web", "--", *command],
        env=env,
        preexec_fn=_interruptible,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interruptible() -> None:
    """Give the CLI the SIGINT of a command typed in a terminal.

    A job a script starts in the background, and all it starts, begins with
    SIGINT ignored, and Python keeps it so: when the suite runs that way (as
    `cmd &` in a CI script does), the CLI would never see the signal.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class TestSignalsMidSession:
    @pytest.mark.parametrize(
        ("signum", "code"),
        [(signal.SIGINT, 130), (signal.SIGHUP, 129), (signal.SIGTERM, 143)],
    )
    def test_a_signal_ends_the_cli_at_once_with_one_sentence_and_no_traceback(
        self, user_env: dict[str, str], signum: signal.Signals, code: int
    ) -> None:
        client = start_session(user_env, "sh", "-c", "echo STARTED; sleep 100")
        returncode: int | None = None
        try:
            assert client.stdout is not None
            assert client.stdout.readline() == "STARTED\n"
            signalled = time.monotonic()
            client.send_signal(signum)
            # Its stdin stays open: the CLI must not wait for the end of input.
            with contextlib.suppress(subprocess.TimeoutExpired):
                returncode = client.wait(timeout=30)
            took = time.monotonic() - signalled
        finally:
            client.kill()
            _, stderr = client.communicate()
        assert returncode == code, (
            f"Exit status {returncode} {took:.1f} s after the signal; "
            f"its stderr:\n{stderr[-4000:]}"
        )
        assert "Traceback" not in stderr
        assert "Task exception" not in stderr
        assert "kdebug-tui: interrupted" in stderr


@pytest.fixture
def private(kubernetes_cluster: KubernetesCluster) -> Iterator[PrivateNamespace]:
    """Targets of the test's own, which it may delete; checked clean after."""
    yield from private_namespace(kubernetes_cluster, "cli")


class TestTheTargetStopsMidSession:
    def test_the_cli_says_the_target_stopped_and_exits_with_its_code(
        self,
        kubernetes_cluster: KubernetesCluster,
        private: PrivateNamespace,
        tmp_path: Path,
    ) -> None:
        env = cli_environment(
            kubernetes_cluster, tmp_path, agent_namespace=private.name
        )
        client = subprocess.Popen(
            [KDEBUG, "debug", "-n", private.name, "worker", "--"]
            + ["sh", "-c", "echo up; exec sleep 600"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stdout is not None
            assert client.stdout.readline() == "up\n"
            private.admin.core.delete_namespaced_pod("worker", private.name)
            assert client.wait(timeout=60) == 137
        finally:
            client.kill()
            _, stderr = client.communicate()
        assert (
            "kdebug-tui: The target container stopped, and the debug process "
            "ended with it (exit code 137)." in stderr
        )
        assert "Traceback" not in stderr


class TestSignalsBeforeTheSession:
    @pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
    def test_a_signal_while_the_agent_pod_starts_says_so_and_cleans_up(
        self, user_env: dict[str, str], signum: signal.Signals
    ) -> None:
        client = subprocess.Popen(
            [KDEBUG, "-v", "debug", "-n", DEMO_NAMESPACE, "web", "--", "true"],
            env=user_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stderr is not None
            # -v reports the progress; the signal comes while it waits for
            # the pod to be ready.
            for line in client.stderr:
                if "Created agent pod" in line or "Reusing agent pod" in line:
                    break
            client.send_signal(signum)
            assert client.wait(timeout=60) == 128 + signum
        finally:
            client.kill()
            _, stderr = client.communicate()
        assert "kdebug-tui: interrupted; its agent pods are removed." in stderr
        assert "Traceback" not in stderr


def _in_long_crash_back_off(cluster: KubernetesCluster, pod: str) -> bool:
    """Whether the pod's container waits to restart after three crashes or more."""
    result = subprocess.run(
        cluster.kubectl_command("get", "pod", "-n", DEMO_NAMESPACE, pod, "-o", "json"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    (status,) = json.loads(result.stdout)["status"].get("containerStatuses", [{}])
    return status.get("restartCount", 0) >= 3 and "waiting" in status.get("state", {})
