"""The `kdebug-tui` command: the TUI, the headless `debug` session, and `gc`.

Users see one line per error on stderr with a hint, never a traceback, and a
non-zero exit code: 1 for a failure of kdebug-tui itself, the command's own
exit code when the debug command ran.
"""

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

try:
    from kdebug_agent.protocol import FailureReason, KdebugError
    from kdebug_tui import __version__
    from kdebug_tui.backend.errors import ClientError
    from kdebug_tui.backend.names import NAME_HINT, name_problem
    from kdebug_tui.backend.settings import (
        PULL_POLICIES,
        SHAREABLE_NAMESPACES,
        Settings,
        load_settings,
        parse_namespaces,
    )
except KeyboardInterrupt:
    # Ctrl-C while these load comes before anything was made in the cluster:
    # there is nothing to clean up or to tell.
    sys.exit(130)

if TYPE_CHECKING:
    from kdebug_tui.backend.session import SessionManager

logger = logging.getLogger(__name__)

COMMAND_SEPARATOR = "--"
"""Everything after it is the command to run in the debug container."""

USAGE_EXAMPLES = """\
examples:
  kdebug-tui                                  browse pods and debug them in tabs
  kdebug-tui -n shop                          start the browser in namespace shop
  kdebug-tui debug web-7d4f -n shop -c nginx  a shell in your terminal
  kdebug-tui debug web-7d4f --image busybox -- sh -c 'netstat -tln'
  echo 'ls /target' | kdebug-tui debug web-7d4f -- sh
  kdebug-tui gc                               remove leftover agent pods

Options go anywhere before --; what follows -- is the command to run.
"""
BUG_HINT = (
    "This is a bug in kdebug-tui: run the same command again with -vv to see "
    "where it happened, and report it."
)
INTERRUPTED = "kdebug-tui: interrupted; its agent pods are removed."
DEBUG_USAGE = "%(prog)s [options] POD [-- COMMAND [ARG ...]]"
DEBUG_DESCRIPTION = """\
Start a debug container in the namespaces of a running container of POD and
attach this terminal to it. Options may come before or after POD. Everything
after -- is the command to run in the debug container; without it, the debug
image's default command runs (a shell, in the usual debug images).
"""
DEBUG_EXAMPLES = """\
examples:
  kdebug-tui debug -n shop web-7d4f -c nginx
  kdebug-tui debug web-7d4f -n shop --image busybox -- sh -c 'netstat -tln'
  echo 'ls /target' | kdebug-tui debug web-7d4f -- sh
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand.

    It knows nothing of `--`: `parse_arguments` takes the command off first.
    """
    parser = argparse.ArgumentParser(
        prog="kdebug-tui",
        usage="%(prog)s [options] [{debug,gc} ...]",
        description="Debug shells in the namespaces of running Kubernetes "
        "containers.\nWithout a subcommand, the browser opens.",
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    _add_connection_flags(parser)
    _add_namespace_flag(parser, help="namespace to open first")
    _add_agent_flags(parser)
    commands = parser.add_subparsers(dest="command", title="subcommands")

    debug = commands.add_parser(
        "debug",
        prog="kdebug-tui debug",
        help="open a debug session in this terminal",
        usage=DEBUG_USAGE,
        description=DEBUG_DESCRIPTION,
        epilog=DEBUG_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    debug.add_argument("pod", metavar="POD", type=_pod_name, help="the target pod")
    _add_connection_flags(debug)
    _add_namespace_flag(debug, help="namespace of the target pod")
    _add_agent_flags(debug)
    _add_session_flags(debug)
    debug.set_defaults(command_parser=debug)

    gc = commands.add_parser(
        "gc",
        prog="kdebug-tui gc",
        help="remove finished or expired agent pods",
        description="Delete the agent pods that have ended or outlived their "
        "lifetime. Idle agents are left alone: they exit by themselves.",
    )
    _add_connection_flags(gc)
    gc.add_argument(
        "--agent-namespace",
        default=argparse.SUPPRESS,
        help="namespace of the agent pods",
    )
    gc.set_defaults(command_parser=gc)
    return parser


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a command line; options may come anywhere before `--`.

    Only the words after the first `--` are the command to run, in
    `command_args`; without `--` it is empty, meaning the image's default.
    Exits with a usage message, as argparse does, when the line is wrong.
    """
    words = list(argv)
    command: list[str] = []
    if COMMAND_SEPARATOR in words:
        split = words.index(COMMAND_SEPARATOR)
        words, command = words[:split], words[split + 1 :]
    parser = build_parser()
    args, unknown = parser.parse_known_args(words)
    # Errors about a subcommand's words show that subcommand's usage.
    complain = getattr(args, "command_parser", parser).error
    if unknown:
        complain(_unknown_words_message(unknown))
    if command and args.command != "debug":
        complain(
            f"only `kdebug-tui debug` runs a command; {' '.join(command)!r} "
            "has nothing to run in."
        )
    args.command_args = tuple(command)
    with contextlib.suppress(AttributeError):
        del args.command_parser
    return args


def _unknown_words_message(unknown: Sequence[str]) -> str:
    if unknown[0].startswith("-"):
        return f"unknown option {unknown[0]} (see --help)"
    return (
        f"unexpected {' '.join(unknown)!r}: put the command to run after --, "
        "as in `kdebug-tui debug POD -- ps`"
    )


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    # Suppressed defaults let a flag be given before or after the subcommand.
    default = argparse.SUPPRESS
    parser.add_argument("--kubeconfig", default=default, help="kubeconfig path")
    parser.add_argument("--context", default=default, help="kubeconfig context")
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="log more"
    )


def _add_namespace_flag(parser: argparse.ArgumentParser, *, help: str) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        default=argparse.SUPPRESS,
        type=_namespace_name,
        help=help,
    )


def _shared_namespaces(text: str) -> tuple[str, ...]:
    *others, last = SHAREABLE_NAMESPACES
    choices = f"{', '.join(others)} and {last}"
    try:
        names = parse_namespaces(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error}; choose among {choices}") from error
    if not names:
        raise argparse.ArgumentTypeError(f"it is empty; choose among {choices}")
    return names


def _non_empty(text: str) -> str:
    # An empty value would not mean the default: it reached the agent (an
    # empty image) or silently meant another namespace.
    if not text.strip():
        raise argparse.ArgumentTypeError("it is empty; give a name")
    return text


def _kubernetes_name(kind: str, text: str) -> str:
    # Refused here, a mistyped name gets the usage and exit code 2 as any
    # other mistyped argument, before anything asks the cluster.
    if problem := name_problem(kind, _non_empty(text)):
        raise argparse.ArgumentTypeError(f"{problem} {NAME_HINT}")
    return text


def _pod_name(text: str) -> str:
    return _kubernetes_name("pod", text)


def _namespace_name(text: str) -> str:
    return _kubernetes_name("namespace", text)


def _add_agent_flags(parser: argparse.ArgumentParser) -> None:
    default = argparse.SUPPRESS
    parser.add_argument(
        "--agent-namespace",
        default=default,
        type=_namespace_name,
        help="namespace for agent pods",
    )
    parser.add_argument(
        "--agent-image", default=default, type=_non_empty, help="agent pod image"
    )


def _add_session_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--container",
        type=_non_empty,
        default=None,
        help="the target container (default: the pod's default container)",
    )
    parser.add_argument("--image", type=_non_empty, help="the debug image")
    parser.add_argument(
        "--pull-policy", choices=PULL_POLICIES, help="when to pull the debug image"
    )
    parser.add_argument(
        "--share",
        dest="namespaces",
        type=_shared_namespaces,
        help="namespaces to share, comma-separated (default pid,net,ipc)",
    )
    parser.add_argument(
        "--unprivileged",
        dest="privileged",
        action="store_false",
        default=None,
        help="run the debug container with default capabilities only",
    )
    parser.add_argument("--registry-secret", help="pull secret for the debug image")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; never shows a traceback for an expected error."""
    # Start-up makes a few hundred thousand objects that live as long as the
    # process (the Kubernetes client's modules); collecting while they are
    # made only slows the way to the shell. `debug` turns the collector back
    # on once the session runs, the other commands right away.
    gc.disable()
    try:
        _run(argv)
    finally:
        _collect_from_now_on()


def _collect_from_now_on() -> None:
    """Leave what exists now out of later collections, and collect again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _run(argv: Sequence[str] | None) -> None:
    try:
        args = parse_arguments(sys.argv[1:] if argv is None else argv)
        _configure_logging(getattr(args, "verbose", 0))
        settings = load_settings(flags=_flag_settings(args))
        if args.command == "debug":
            code = asyncio.run(debug(args, settings))
        elif args.command == "gc":
            _collect_from_now_on()
            code = asyncio.run(collect_garbage(settings))
        else:
            from kdebug_tui.app import run_app

            _collect_from_now_on()
            code = run_app(settings)
    except KdebugError as error:
        _report(error)
        # As shells do for a command they cannot find.
        missing = getattr(error, "reason", "") == FailureReason.COMMAND_NOT_FOUND
        code = 127 if missing else 1
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        code = 130
    except asyncio.CancelledError:
        # SIGHUP or SIGTERM, after the session and its agent pod were cleaned up:
        # 128 plus the signal's number, as a shell reports a command it ended.
        print(INTERRUPTED, file=sys.stderr)
        code = 128 + (_ending_signal or signal.SIGHUP)
    except Exception as error:
        # A bug rather than a fault of the user's or the cluster's: still one
        # line, with the traceback for whoever runs it again with -vv.
        logger.debug("The unexpected error happened here.", exc_info=error)
        print(
            f"kdebug-tui: unexpected {type(error).__name__}: {error}", file=sys.stderr
        )
        print(f"  {BUG_HINT}", file=sys.stderr)
        code = 1
    sys.exit(code)


def _configure_logging(verbose: int) -> None:
    logging.basicConfig(
        level=logging.DEBUG
        if verbose > 1
        else logging.INFO
        if verbose
        else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if verbose < 2:
        # urllib3 warns of every retried connection in its own words; the
        # failure, if it persists, is reported once as a sentence.
        logging.getLogger("urllib3").setLevel(logging.ERROR)


def _flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "kubeconfig",
        "context",
        "namespace",
        "agent_namespace",
        "agent_image",
        "image",
        "pull_policy",
        "namespaces",
        "privileged",
        "registry_secret",
    )
    return {name: getattr(args, name, None) for name in names}


def _report(error: KdebugError) -> None:
    print(f"kdebug-tui: {error}", file=sys.stderr)
    hint = getattr(error, "hint", "")
    if hint:
        print(f"  {hint}", file=sys.stderr)


async def debug(args: argparse.Namespace, settings: Settings) -> int:
    """Run one debug session in this terminal and return its exit code."""
    from kdebug_tui.backend.kube import Kube
    from kdebug_tui.backend.session import LaunchOptions, SessionManager
    from kdebug_tui.headless import relay_batch, relay_interactive, terminal_size

    kube = await asyncio.to_thread(
        Kube.connect, kubeconfig=settings.kubeconfig, context=settings.context
    )
    namespace = settings.namespace or kube.namespace
    interactive = sys.stdin.isatty()
    options = LaunchOptions.from_settings(
        settings,
        command=args.command_args,
        tty=interactive,
        size=terminal_size() if interactive else None,
    )
    manager = SessionManager(kube, settings)
    _end_on_hangup()
    # Leftovers are finished or expired pods, which the session never uses:
    # removing them meanwhile keeps their API calls off the way to the shell.
    garbage = asyncio.create_task(_collect_garbage_quietly(manager))

    def progress(stage: str, message: str) -> None:
        if interactive or logger.isEnabledFor(logging.INFO):
            print(f"kdebug-tui: {message}", file=sys.stderr)

    try:
        session = await manager.open(
            namespace=namespace,
            pod=args.pod,
            container=args.container or "",
            options=options,
            progress=progress,
        )
        _collect_from_now_on()
        try:
            if interactive:
                code = await relay_interactive(session)
            else:
                code = await relay_batch(session)
        finally:
            await session.close()
        status = session.status
        if status is not None and status.reason == FailureReason.TARGET_STOPPED:
            # A shell's prompt was on screen: the sentence gets a line of its own.
            start = "\n" if interactive else ""
            print(f"{start}kdebug-tui: {status.message}", file=sys.stderr)
        return code
    finally:
        await manager.close_all()
        await garbage


_ending_signal: signal.Signals | None = None
"""The first SIGHUP or SIGTERM received, which decides the exit code."""


def _end_on_hangup() -> None:
    """Turn SIGHUP and SIGTERM into cancellation, so cleanup runs as on Ctrl-C.

    A closed terminal window sends SIGHUP; without this the agent pod would
    stay until its idle time runs out.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def end(signum: signal.Signals) -> None:
        global _ending_signal
        _ending_signal = _ending_signal or signum
        task.cancel()

    for signum in (signal.SIGHUP, signal.SIGTERM):
        loop.add_signal_handler(signum, end, signum)


async def _collect_garbage_quietly(manager: "SessionManager") -> None:
    """Remove leftovers of crashed clients; a failure here must not stop a session."""
    try:
        removed = await manager.collect_garbage()
    except ClientError as error:
        logger.info("Skipped removing leftover agent pods: %s", error)
        return
    if removed:
        logger.info("Removed leftover agent pods %s.", ", ".join(removed))


async def collect_garbage(settings: Settings) -> int:
    """Delete finished or expired agent pods and say which."""
    from kdebug_tui.backend.kube import Kube
    from kdebug_tui.backend.session import SessionManager

    kube = await asyncio.to_thread(
        Kube.connect, kubeconfig=settings.kubeconfig, context=settings.context
    )
    removed = await SessionManager(kube, settings).collect_garbage()
    print(removal_summary(removed, namespace=settings.agent_namespace))
    return 0


def removal_summary(removed: Sequence[str], *, namespace: str) -> str:
    """Say which agent pods `gc` removed, in a sentence."""
    if not removed:
        return f"No finished or expired agent pods in {namespace}."
    pods = "agent pod" if len(removed) == 1 else "agent pods"
    return f"Removed {len(removed)} {pods} from {namespace}: {', '.join(removed)}."


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
