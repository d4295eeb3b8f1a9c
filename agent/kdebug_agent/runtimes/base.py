"""The interface every container runtime backend implements.

The session code talks only to this interface, so supporting another runtime
(CRI-O, say) means adding one backend module and registering it in
`kdebug_agent.runtimes`, without touching the session or the server.
"""

import abc
import dataclasses
from collections.abc import Awaitable, Callable, Mapping

from kdebug_agent.protocol import PullPolicy, RegistryAuth, TerminalSize

# Every object the agent creates carries this label, so that the next agent on
# the node can find and remove what a dead one left behind.
MANAGED_LABEL = "io.kdebug.managed"
SESSION_LABEL = "io.kdebug.session"
TARGET_LABEL = "io.kdebug.target"
# The instance id of the agent that owns a debug container; an agent removes at
# start-up only containers whose owner no longer holds its lock (see `owners`).
AGENT_LABEL = "io.kdebug.agent"

# Inside the debug container the target's root filesystem is reachable here: a
# symbolic link to `/proc/<target pid>/root`, the pid as the shared pid
# namespace numbers it (1 only when the pod does not share one namespace).
TARGET_ROOT_PATH = "/target"

ProgressCallback = Callable[[str, str], Awaitable[None]]
"""Called with a stage name and a sentence while the debug container is prepared."""


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A running target container as the runtime sees it."""

    container_id: str
    pid: int
    """The target's init process id in the host's (the agent's) pid namespace."""
    name: str = ""
    """The container's name for people, e.g. `namespace/pod/container`."""
    has_user_namespace: bool = False
    """Whether the target runs in a user namespace of its own."""
    sandbox_id: str = ""
    """The pod sandbox's container ID, where the runtime knows it."""


@dataclasses.dataclass(frozen=True, slots=True)
class DebugSpec:
    """What the debug container should be."""

    session_id: str
    target: Target
    image: str
    command: tuple[str, ...]
    tty: bool
    size: TerminalSize | None
    namespaces: tuple[str, ...]
    privileged: bool
    labels: Mapping[str, str]


class DebugContainer(abc.ABC):
    """A created debug container whose process is attached to this agent."""

    id: str

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the debug process; its terminal already has the initial size."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """Return the next chunk of output, or `b""` once the output has ended.

        With a terminal this is everything the process writes; without one it
        is stdout, and stderr too unless `read_stderr` is overridden.
        """

    async def read_stderr(self) -> bytes:
        """Return the next chunk of stderr, or `b""` once it has ended.

        Only meaningful without a terminal. The default, for runtimes that
        deliver one merged stream, has no separate stderr at all.
        """
        return b""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Write bytes to the debug process's stdin (or its terminal)."""

    @abc.abstractmethod
    async def close_stdin(self) -> None:
        """Signal end of input to the debug process."""

    @abc.abstractmethod
    async def resize(self, size: TerminalSize) -> None:
        """Change the size of the debug process's terminal."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Wait for the debug process to exit and return its exit code."""

    @abc.abstractmethod
    async def remove(self) -> None:
        """Kill the debug process if it still runs and remove every trace of it.

        Safe to call more than once and at any point after creation.
        """


class ContainerRuntime(abc.ABC):
    """A node's container runtime, as far as debug sessions need it."""

    name: str
    """The runtime's scheme in container IDs: `containerd` or `docker`."""

    @abc.abstractmethod
    async def version(self) -> str:
        """Return the runtime's name and version; fails if it does not answer.

        Raises:
            RuntimeUnavailable: the runtime's socket does not answer.
        """

    @abc.abstractmethod
    async def find_target(self, container_id: str) -> Target:
        """Look up a target container and make sure it is running.

        Raises:
            TargetNotFound: no container has this ID.
            TargetNotRunning: the container exists but is not running.
        """

    @abc.abstractmethod
    async def ensure_image(
        self,
        image: str,
        *,
        policy: PullPolicy,
        auth: RegistryAuth | None,
        progress: ProgressCallback,
    ) -> None:
        """Make sure the debug image is present, pulling it as the policy says.

        Raises:
            ImageNotPresent: the image is absent and the policy is Never.
            ImagePullFailed: the pull failed; the message has the registry's words.
        """

    @abc.abstractmethod
    async def create_debug_container(
        self, spec: DebugSpec, *, progress: ProgressCallback | None = None
    ) -> DebugContainer:
        """Create (but do not start) the debug container, attached to this agent.

        Args:
            spec: what the container should be.
            progress: told of anything the user should know, such as a
                namespace that could not be shared.

        Raises:
            RuntimeFailure: the runtime refused to create the container.
        """

    @abc.abstractmethod
    async def remove_orphans(self, *, owner_alive: Callable[[str], bool]) -> list[str]:
        """Remove debug containers whose owning agent has died.

        Args:
            owner_alive: tells, for the value of a container's `AGENT_LABEL`,
                whether that agent still runs; containers of live agents stay.

        Returns:
            The IDs of the containers removed.
        """

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection to the runtime."""
