"""Command-line entry point: `kdebug-agent`."""

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from kdebug_agent.audit import AuditLog
from kdebug_agent.config import AgentSettings, parse_settings
from kdebug_agent.errors import RuntimeUnavailable
from kdebug_agent.owners import OwnerLock
from kdebug_agent.runtimes import open_runtimes
from kdebug_agent.server import AgentServer

logger = logging.getLogger("kdebug_agent")


async def run_agent(settings: AgentSettings) -> None:
    """Run an agent until it is idle or told to stop."""
    state_dir = settings.host_root / settings.state_dir.lstrip("/")
    owner_lock = OwnerLock(state_dir / "agents", settings.agent_id)
    owner_lock.acquire()
    audit = AuditLog(settings.audit_log, host_root=settings.host_root)
    try:
        runtimes = await open_runtimes(
            settings.runtime,
            host_root=settings.host_root,
            state_dir=settings.state_dir,
            containerd_socket=settings.containerd_socket,
            docker_socket=settings.docker_socket,
        )
        server = AgentServer(settings, runtimes, audit=audit, owner_lock=owner_lock)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, server.stop)
        await server.start()
        await server.run_until_idle()
    finally:
        audit.close()
        owner_lock.release()


def main(argv: Sequence[str] | None = None) -> None:
    """Parse settings and run the agent; exits non-zero with a sentence on error."""
    settings = parse_settings(argv)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(run_agent(settings))
    except RuntimeUnavailable as error:
        logger.error("No container runtime answers: %s", error)
        sys.exit(2)
    except OSError as error:
        logger.error("The agent cannot start: %s", error)
        sys.exit(1)


if __name__ == "__main__":
    main()
