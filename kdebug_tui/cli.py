"""The `kdebug-tui` command: the TUI, the headless `debug` session, and `gc`.

Users see one line per error on stderr with a hint, never a traceback, and a
non-zero exit code: 1 for a failure of kdebug-tui itself, the command's own
exit code when the debug command ran.
"""

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from kdebug_agent.protocol import KdebugError
from kdebug_tui import __version__
from kdebug_tui.backend.errors import ClientError
from kdebug_tui.backend.kube import Kube
from kdebug_tui.backend.session import LaunchOptions, SessionManager
from kdebug_tui.backend.settings import PULL_POLICIES, Settings, load_settings
from kdebug_tui.headless import relay_batch, relay_interactive, terminal_size

logger = logging.getLogger(__name__)

USAGE_EXAMPLES = """\
examples:
  kdebug-tui                                   browse pods and debug them in tabs
  kdebug-tui debug -n shop web-7d4f -c nginx   a debug shell in your terminal
  echo 'ss -tlnp' | kdebug-tui debug web-7d4f -- sh
  kdebug-tui gc                                remove leftover agent pods
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kdebug-tui",
        description="Debug shells in the namespaces of running Kubernetes containers.",
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    _add_cluster_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    debug = commands.add_parser(
        "debug",
        help="open a debug session in this terminal",
        description="Start a debug container in a pod's namespaces and attach to it.",
    )
    _add_cluster_flags(debug)
    debug.add_argument("pod", metavar="POD", help="the target pod")
    debug.add_argument("-c", "--container", default="", help="the target container")
    debug.add_argument("--image", help="the debug image")
    debug.add_argument(
        "--pull-policy", choices=PULL_POLICIES, help="when to pull the debug image"
    )
    debug.add_argument(
        "--share",
        dest="namespaces",
        help="namespaces to share, comma-separated (default pid,net,ipc)",
    )
    debug.add_argument(
        "--unprivileged",
        dest="privileged",
        action="store_false",
        default=None,
        help="run the debug container with default capabilities only",
    )
    debug.add_argument("--registry-secret", help="pull secret for the debug image")
    debug.add_argument(
        "command_args",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND",
        help="the command to run (default: the image's)",
    )

    gc = commands.add_parser("gc", help="remove finished or expired agent pods")
    _add_cluster_flags(gc)
    return parser


def _add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    default = argparse.SUPPRESS
    parser.add_argument("--kubeconfig", default=default, help="kubeconfig path")
    parser.add_argument("--context", default=default, help="kubeconfig context")
    parser.add_argument(
        "-n", "--namespace", default=default, help="namespace of the target pod"
    )
    parser.add_argument(
        "--agent-namespace", default=default, help="namespace for agent pods"
    )
    parser.add_argument("--agent-image", default=default, help="agent pod image")
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="log more"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line; never shows a traceback for an expected error."""
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", 0)
    logging.basicConfig(
        level=logging.DEBUG
        if verbose > 1
        else logging.INFO
        if verbose
        else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(flags=_flag_settings(args))
        if args.command == "debug":
            code = asyncio.run(debug(args, settings))
        elif args.command == "gc":
            code = asyncio.run(collect_garbage(settings))
        else:
            from kdebug_tui.app import run_app

            code = run_app(settings)
    except KdebugError as error:
        _report(error)
        code = 1
    except KeyboardInterrupt:
        print("kdebug-tui: interrupted; its agent pods are removed.", file=sys.stderr)
        code = 130
    except asyncio.CancelledError:
        # SIGHUP or SIGTERM, after the session and its agent pod were cleaned up.
        code = 129
    sys.exit(code)


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
    kube = await asyncio.to_thread(
        Kube.connect, kubeconfig=settings.kubeconfig, context=settings.context
    )
    namespace = settings.namespace or kube.namespace
    interactive = sys.stdin.isatty()
    command = tuple(
        args.command_args[1:] if args.command_args[:1] == ["--"] else args.command_args
    )
    options = LaunchOptions.from_settings(
        settings,
        command=command,
        tty=interactive,
        size=terminal_size() if interactive else None,
    )
    manager = SessionManager(kube, settings)
    _end_on_hangup()
    await _collect_garbage_quietly(manager)

    def progress(stage: str, message: str) -> None:
        if interactive or logger.isEnabledFor(logging.INFO):
            print(f"kdebug-tui: {message}", file=sys.stderr)

    try:
        session = await manager.open(
            namespace=namespace,
            pod=args.pod,
            container=args.container,
            options=options,
            progress=progress,
        )
        try:
            if interactive:
                return await relay_interactive(session)
            return await relay_batch(session)
        finally:
            await session.close()
    finally:
        await manager.close_all()


def _end_on_hangup() -> None:
    """Turn SIGHUP and SIGTERM into cancellation, so cleanup runs as on Ctrl-C.

    A closed terminal window sends SIGHUP; without this the agent pod would
    stay until its idle time runs out.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGHUP, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)


async def _collect_garbage_quietly(manager: SessionManager) -> None:
    """Remove leftovers of crashed clients; a failure here must not stop a session."""
    try:
        removed = await manager.collect_garbage()
    except ClientError as error:
        logger.info("Skipped removing leftover agent pods: %s", error)
        return
    if removed:
        logger.info("Removed leftover agent pods: %s.", ", ".join(removed))


async def collect_garbage(settings: Settings) -> int:
    """Delete finished or expired agent pods and say which."""
    kube = await asyncio.to_thread(
        Kube.connect, kubeconfig=settings.kubeconfig, context=settings.context
    )
    removed = await SessionManager(kube, settings).collect_garbage()
    where = settings.agent_namespace
    if removed:
        print(f"Removed {len(removed)} agent pods from {where}: {', '.join(removed)}.")
    else:
        print(f"No leftover agent pods in {where}.")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
