"""The dockerd backend: debug containers through the Docker Engine API.

Nodes whose kubelet runs containers through dockerd (with cri-dockerd) have no
containerd namespace of Kubernetes' own, so the agent asks dockerd itself. The
debug container joins the target's pid and network namespaces with docker's
`container:<id>` modes, and its IPC namespace too where docker allows it: the
target's own when it is shareable, else the one it shares with its pod (the
sandbox container), else none, which the user is told about.

**The target's root filesystem** is reachable inside the debug container at
`/target`, as with the containerd backend, and the environment variable
`KDEBUG_TARGET_ROOT` holds that path. `/target` is a symbolic link to
`/proc/<pid>/root`, `<pid>` being the target's main process as the shared pid
namespace numbers it; the agent puts it into the created container with the
archive API before the container starts. It exists only when the debug
container joins the target's pid namespace (the default).

The terminal is attached by hand over the socket, before the container starts,
so that the output of a short command is never lost. Docker has no way to turn
its detach keys off, so the agent sets a sequence nobody types (see
`DETACH_KEYS`). Docker before API 1.42 ignores a terminal size given at create
time and refuses to resize a container that has not started; there the debug
command runs behind a small `/bin/sh` wrapper that waits for the first resize,
so nothing is ever drawn at the wrong size.
"""

import asyncio
import contextlib
import io
import json
import logging
import secrets
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiodocker
import aiohttp
from aiodocker.containers import DockerContainer

from kdebug_agent.errors import (
    ImageNotPresent,
    ImagePullFailed,
    RuntimeFailure,
    RuntimeUnavailable,
    TargetNotFound,
    TargetNotRunning,
    missing_command,
)
from kdebug_agent.protocol import PullPolicy, RegistryAuth, TerminalSize
from kdebug_agent.runtimes import DOCKER_SOCKET
from kdebug_agent.runtimes.base import (
    AGENT_LABEL,
    MANAGED_LABEL,
    ContainerRuntime,
    DebugContainer,
    DebugSpec,
    ProgressCallback,
    Target,
)
from kdebug_agent.runtimes.containerd_builder import current_capabilities

logger = logging.getLogger(__name__)

DEFAULT_SOCKET = DOCKER_SOCKET

TARGET_ROOT = "/target"
"""Where the target's root filesystem is reachable inside the debug container."""
TARGET_ROOT_ENV = "KDEBUG_TARGET_ROOT"
"""The environment variable that holds `TARGET_ROOT` in the debug container."""

SANDBOX_LABEL = "io.kubernetes.sandbox.id"
"""The label cri-dockerd puts on a pod's containers naming its sandbox container."""

# An empty detachKeys means docker's default, Ctrl-P Ctrl-Q, which would take
# those keys from the user. Docker only watches keys that arrive one per read,
# and holds back a key that starts the sequence until the next one arrives, so
# the sequence starts with NUL (Ctrl-Space), which shells ignore, and goes on
# with keys no one types in this order.
DETACH_KEYS = "ctrl-@,ctrl-],ctrl-@,ctrl-_,ctrl-@,ctrl-^,ctrl-@,ctrl-]"

CONSOLE_SIZE_API = (1, 42)
"""The first API version whose create call applies `HostConfig.ConsoleSize`."""

# Waits until the terminal has a size (the agent resizes it right after start),
# at most about three seconds, then becomes the debug command. Images without
# stty start at once; images without /bin/sh are not wrapped at all.
SIZE_WAIT_SCRIPT = (
    "if command -v stty >/dev/null 2>&1; then i=0; "
    'while [ "$i" -lt 300 ]; do '
    'case "$(stty size 2>/dev/null)" in ""|"0 "*|*" 0") ;; *) break ;; esac; '
    "sleep 0.01 2>/dev/null || sleep 1; i=$((i + 1)); done; fi; "
    'exec "$@"'
)
SIZE_WAIT_SHELL = "/bin/sh"

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10)
"""Bounds every short API call; pulls, waits and removals have no total bound."""
OUTPUT_CHUNK = 65536


class DockerRuntime(ContainerRuntime):
    """dockerd, reached through its Engine API socket."""

    name = "docker"

    def __init__(self, *, socket: str | None = None, host_root: Path) -> None:
        """Prepare a runtime; nothing is connected until the first call.

        Args:
            socket: the host path of dockerd's socket; `DEFAULT_SOCKET` if None.
            host_root: where the agent sees the host's filesystem.
        """
        self.socket = socket or DEFAULT_SOCKET
        self._host_root = host_root
        self._path = host_root / self.socket.lstrip("/")
        self._docker: aiodocker.Docker | None = None
        self._connecting = asyncio.Lock()
        self._api_version = (0, 0)
        self._version = ""

    async def version(self) -> str:
        """Return dockerd's version and API version; fails if it does not answer.

        Raises:
            RuntimeUnavailable: the socket is missing or dockerd does not answer.
        """
        await self._client()
        return self._version

    async def find_target(self, container_id: str) -> Target:
        """Look up a target container by its ID and make sure it is running.

        Raises:
            TargetNotFound: no container has this ID.
            TargetNotRunning: the container exists but is not running.
        """
        info = await self._running_target(container_id)
        labels = info["Config"].get("Labels") or {}
        pod = [
            labels.get(f"io.kubernetes.{key}", "")
            for key in ("pod.namespace", "pod.name", "container.name")
        ]
        return Target(
            container_id=info["Id"],
            pid=info["State"]["Pid"],
            name="/".join(pod) if all(pod) else info["Name"].lstrip("/"),
            sandbox_id=labels.get(SANDBOX_LABEL, ""),
        )

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
        reference = qualified_reference(image)
        present = await self._image_present(reference)
        if policy is PullPolicy.NEVER and not present:
            raise ImageNotPresent(
                f"The debug image {image} is not on this node and the pull policy "
                "is Never."
            )
        if present and policy is not PullPolicy.ALWAYS:
            await progress("image", f"The debug image {image} is on this node.")
            return
        await progress("image", f"Pulling the debug image {image}.")
        await self._pull(image, reference=reference, auth=auth, progress=progress)
        if not await self._image_present(reference):
            raise ImagePullFailed(f"dockerd pulled {image} but does not list it.")
        await progress("image", f"Pulled the debug image {image}.")

    async def create_debug_container(
        self, spec: DebugSpec, *, progress: ProgressCallback | None = None
    ) -> DebugContainer:
        """Create (but do not start) the debug container, attached to this agent.

        Args:
            spec: what the debug container should be.
            progress: told, as stage `create`, about namespaces docker cannot
                share and other ways the container falls short of the spec.

        Raises:
            TargetNotRunning: the target stopped meanwhile.
            RuntimeFailure: dockerd refused to create the container.
        """
        target = await self._running_target(spec.target.container_id)
        notices: list[str] = []
        config = await self._container_config(spec, target, notices)
        container = await self._create(config, spec.session_id)
        try:
            if _is_wrapped(config) and not await container.has_file(SIZE_WAIT_SHELL):
                await container.remove()
                notices.append(
                    f"The debug image has no {SIZE_WAIT_SHELL}, so the debug process "
                    "may start before its terminal has its size."
                )
                container = await self._create(_unwrapped(config), spec.session_id)
            if "pid" in spec.namespaces:
                pid = namespace_pid(self._host_root, target["State"]["Pid"])
                await container.link_target_root(pid)
            await container.attach(tty=spec.tty, size=spec.size)
        except BaseException:
            await container.remove()
            raise
        for notice in notices:
            logger.warning("Debug container %s: %s", container.id[:12], notice)
            if progress is not None:
                await progress("create", notice)
        return container

    async def remove_orphans(self, *, owner_alive: Callable[[str], bool]) -> list[str]:
        """Remove debug containers whose owning agent has died.

        Args:
            owner_alive: tells, for the value of a container's `AGENT_LABEL`,
                whether that agent still runs; containers of live agents stay.

        Returns:
            The IDs of the containers removed.
        """
        docker = await self._client()
        with _translated("list debug containers"):
            containers = await docker.containers.list(
                all=1, filters=json.dumps({"label": [MANAGED_LABEL]})
            )
        removed = []
        for container in containers:
            labels = container["Labels"] or {}
            if owner_alive(labels.get(AGENT_LABEL, "")):
                continue
            try:
                with _translated("remove an orphaned debug container"):
                    await _delete(container)
            except RuntimeFailure as error:
                logger.warning("%s It stays until the next agent starts.", error)
                continue
            logger.info("Removed the orphaned debug container %s.", container.id[:12])
            removed.append(container.id)
        return removed

    async def close(self) -> None:
        """Release the connection to dockerd."""
        docker, self._docker = self._docker, None
        if docker is not None:
            await docker.close()

    async def _client(self) -> aiodocker.Docker:
        async with self._connecting:
            if self._docker is None:
                self._docker = await self._connect()
            return self._docker

    async def _connect(self) -> aiodocker.Docker:
        if not self._path.is_socket():
            raise RuntimeUnavailable(
                f"dockerd's socket {self.socket} does not exist on this node."
            )
        docker = aiodocker.Docker(url=f"unix://{self._path}", timeout=REQUEST_TIMEOUT)
        try:
            info = await docker.version()
        except (aiodocker.DockerError, aiohttp.ClientError, OSError) as error:
            await docker.close()
            raise RuntimeUnavailable(
                f"dockerd does not answer on {self.socket}: {error}"
            ) from error
        major, _, minor = str(info["ApiVersion"]).partition(".")
        self._api_version = (int(major), int(minor))
        self._version = f"dockerd {info['Version']} (API {info['ApiVersion']})"
        return docker

    async def _running_target(self, container_id: str) -> dict[str, Any]:
        docker = await self._client()
        short = container_id[:12]
        with _translated("look up the target container"):
            try:
                info = await docker.containers.container(container_id).show()
            except aiodocker.DockerError as error:
                if error.status != 404:
                    raise
                raise TargetNotFound(
                    f"No container with ID {short} runs on this node's dockerd."
                ) from error
        # dockerd also answers to names and ID prefixes; only IDs name targets.
        if not info["Id"].startswith(container_id):
            raise TargetNotFound(f"No container has the ID {short} on this node.")
        state = info["State"]
        if not state["Running"] or state.get("Restarting"):
            raise TargetNotRunning(
                f"The target container {short} is {state['Status']}, not running."
            )
        return info

    async def _image_present(self, reference: str) -> bool:
        docker = await self._client()
        with _translated("look up the debug image"):
            try:
                await docker.images.inspect(reference)
            except aiodocker.DockerError as error:
                if error.status != 404:
                    raise
                return False
        return True

    async def _pull(
        self,
        image: str,
        *,
        reference: str,
        auth: RegistryAuth | None,
        progress: ProgressCallback,
    ) -> None:
        docker = await self._client()
        layers: dict[str, bool] = {}
        reported = 0
        try:
            async for event in docker.images.pull(
                reference, auth=_auth_header(auth), stream=True
            ):
                layer, status = event.get("id", ""), event.get("status", "")
                if status in ("Pulling fs layer", "Waiting"):
                    layers.setdefault(layer, False)
                elif status in ("Pull complete", "Already exists"):
                    layers[layer] = True
                done = sum(layers.values())
                if done > reported:
                    reported = done
                    await progress("image", f"Pulled {done} of {len(layers)} layers.")
        except aiodocker.DockerError as error:
            raise ImagePullFailed(
                f"Pulling the debug image {image} failed: {error.message}"
            ) from error
        except (aiohttp.ClientError, OSError) as error:
            raise ImagePullFailed(
                f"Pulling the debug image {image} failed: dockerd's connection "
                f"broke ({error})."
            ) from error

    async def _create(
        self, config: dict[str, Any], session_id: str
    ) -> "DockerDebugContainer":
        docker = await self._client()
        name = f"kdebug-{session_id[:32]}-{secrets.token_hex(4)}"
        with _translated("create the debug container"):
            created = await docker.containers.create(config, name=name)
        return DockerDebugContainer(
            docker, created.id, socket=self._path, api_version=self._api_version
        )

    async def _container_config(
        self, spec: DebugSpec, target: dict[str, Any], notices: list[str]
    ) -> dict[str, Any]:
        host_config = _privileges(spec.privileged, api_version=self._api_version)
        joined = f"container:{target['Id']}"
        if "pid" in spec.namespaces:
            host_config["PidMode"] = joined
        if "net" in spec.namespaces:
            host_config["NetworkMode"] = joined
        if "ipc" in spec.namespaces:
            host_config["IpcMode"] = await self._ipc_mode(target, notices)
        if "uts" in spec.namespaces:
            if target["HostConfig"].get("UTSMode") == "host":
                host_config["UTSMode"] = "host"
            else:
                notices.append(
                    "Docker cannot share another container's UTS namespace, so the "
                    "debug container has a hostname of its own."
                )
        config: dict[str, Any] = {
            "Image": spec.image,
            "Tty": spec.tty,
            "OpenStdin": True,
            # Without a terminal, closing our stdin must reach the process.
            "StdinOnce": not spec.tty,
            "AttachStdin": True,
            "AttachStdout": True,
            "AttachStderr": True,
            "Labels": dict(spec.labels),
            "HostConfig": host_config,
        }
        if "pid" in spec.namespaces:
            config["Env"] = [f"{TARGET_ROOT_ENV}={TARGET_ROOT}"]
        if spec.command:
            config["Entrypoint"] = list(spec.command)
            config["Cmd"] = []
        if spec.tty and spec.size is not None:
            if self._api_version >= CONSOLE_SIZE_API:
                host_config["ConsoleSize"] = [spec.size.height, spec.size.width]
            else:
                await self._wrap_for_size(config, spec)
        return config

    async def _wrap_for_size(self, config: dict[str, Any], spec: DebugSpec) -> None:
        command = list(spec.command)
        if not command:
            docker = await self._client()
            with _translated("inspect the debug image"):
                image = await docker.images.inspect(spec.image)
            image_config = image.get("Config") or {}
            command = (image_config.get("Entrypoint") or []) + (
                image_config.get("Cmd") or []
            )
        if not command:
            raise RuntimeFailure("No command was given and the debug image has none.")
        config["Entrypoint"] = [SIZE_WAIT_SHELL, "-c", SIZE_WAIT_SCRIPT, "kdebug-tty"]
        config["Cmd"] = command

    async def _ipc_mode(self, target: dict[str, Any], notices: list[str]) -> str:
        mode = target["HostConfig"].get("IpcMode") or "shareable"
        if mode == "host" or mode.startswith("container:"):
            # Joining the owner of the target's IPC namespace, e.g. the sandbox.
            return str(mode)
        if mode == "shareable":
            return f"container:{target['Id']}"
        sandbox_id = (target["Config"].get("Labels") or {}).get(SANDBOX_LABEL)
        if sandbox_id and sandbox_id != target["Id"]:
            with contextlib.suppress(TargetNotFound, TargetNotRunning):
                sandbox = await self._running_target(sandbox_id)
                sandbox_mode = sandbox["HostConfig"].get("IpcMode") or "shareable"
                if sandbox_mode == "shareable":
                    return f"container:{sandbox['Id']}"
                if sandbox_mode == "host":
                    return "host"
        notices.append(
            f"The target's IPC namespace is {mode} and its pod has no shareable "
            "sandbox, so docker cannot share it: the debug container has an IPC "
            "namespace of its own."
        )
        return "private"


class DockerDebugContainer(DebugContainer):
    """A debug container in dockerd with its terminal attached to this agent."""

    def __init__(
        self,
        docker: aiodocker.Docker,
        container_id: str,
        *,
        socket: Path,
        api_version: tuple[int, int],
    ) -> None:
        self.id = container_id
        self._container = docker.containers.container(container_id)
        self._socket = socket
        self._api_version = api_version
        self._stream: _AttachedStream | None = None
        self._size: TerminalSize | None = None
        self._started = asyncio.Event()
        self._removed = False
        self._exit_code: int | None = None

    async def has_file(self, path: str) -> bool:
        """Tell whether the container's filesystem has `path` (before start)."""
        with _translated("look into the debug container"):
            try:
                await self._container.get_archive(path)
            except aiodocker.DockerError as error:
                if error.status != 404:
                    raise
                return False
        return True

    async def link_target_root(self, pid: int) -> None:
        """Write the `TARGET_ROOT` link to `/proc/<pid>/root` before start.

        Raises:
            RuntimeFailure: dockerd refused to write into the container.
        """
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            link = tarfile.TarInfo(TARGET_ROOT.lstrip("/"))
            link.type = tarfile.SYMTYPE
            link.linkname = f"/proc/{pid}/root"
            tar.addfile(link)
        with _translated(f"link {TARGET_ROOT} in the debug container"):
            # aiodocker leaves put_archive unannotated.
            await self._container.put_archive(  # type: ignore[no-untyped-call]
                "/", archive.getvalue()
            )

    async def attach(self, *, tty: bool, size: TerminalSize | None) -> None:
        """Attach to the created container's stdio, before it starts."""
        self._size = size
        self._stream = await _AttachedStream.open(
            self._socket,
            f"/v{self._api_version[0]}.{self._api_version[1]}"
            f"/containers/{quote(self.id)}/attach",
            multiplexed=not tty,
        )

    async def start(self) -> None:
        """Start the debug process; its terminal already has the initial size."""
        with _translated("start the debug container"):
            await self._container.start()
        self._started.set()
        logger.info("Started the debug container %s.", self.id[:12])
        if self._size is not None:
            # Where the create call could not size the terminal, the wrapper
            # holds the debug command back until this lands.
            await self.resize(self._size)

    async def read(self) -> bytes:
        """Return the next chunk of output, or `b""` once the output has ended."""
        if self._stream is None:
            return b""
        return await self._stream.read()

    async def write(self, data: bytes) -> None:
        """Write bytes to the debug process's terminal (or stdin)."""
        if self._stream is not None:
            await self._stream.write(data)

    async def close_stdin(self) -> None:
        """Signal end of input to a process without a terminal.

        On a terminal, end of input is a key (Ctrl-D) that arrives as a byte;
        closing docker's attached stdin would end the output too, so a debug
        process with a terminal keeps its input open.
        """
        if self._stream is not None and self._stream.multiplexed:
            await self._stream.close_input()

    async def resize(self, size: TerminalSize) -> None:
        """Change the size of the debug process's terminal."""
        self._size = size
        if not self._started.is_set() or self._removed:
            return
        with _translated("resize the debug terminal"):
            try:
                await self._container.resize(h=size.height, w=size.width)
            except aiodocker.DockerError as error:
                # A resize that races the process's exit is of no consequence.
                if error.status not in (404, 409):
                    raise

    async def wait(self) -> int:
        """Wait for the debug process to exit and return its exit code."""
        await self._started.wait()
        if self._exit_code is None:
            with _translated("wait for the debug process"):
                result = await self._container.wait(condition="not-running")
            self._exit_code = int(result["StatusCode"])
        return self._exit_code

    async def remove(self) -> None:
        """Kill the debug process if it still runs and remove the container.

        Safe to call more than once and at any point after creation.
        """
        if self._removed:
            return
        self._removed = True
        if self._stream is not None:
            self._stream.close()
        with _translated("remove the debug container"):
            try:
                # Shielded so that a cancelled session still leaves nothing behind.
                await asyncio.shield(_delete(self._container))
            except (aiodocker.DockerError, aiohttp.ClientError, OSError):
                self._removed = False
                raise
        logger.info("Removed the debug container %s.", self.id[:12])


class _AttachedStream:
    """A container's stdio over a hijacked HTTP connection to dockerd.

    With a terminal the stream is the raw terminal; without one, dockerd frames
    stdout and stderr with an 8-byte header each, which `read` takes off.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        multiplexed: bool,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.multiplexed = multiplexed

    @classmethod
    async def open(
        cls, socket: Path, path: str, *, multiplexed: bool
    ) -> "_AttachedStream":
        query = urlencode(
            {
                "stream": 1,
                "stdin": 1,
                "stdout": 1,
                "stderr": 1,
                "detachKeys": DETACH_KEYS,
            }
        )
        try:
            reader, writer = await asyncio.open_unix_connection(
                str(socket), limit=OUTPUT_CHUNK
            )
        except OSError as error:
            raise RuntimeFailure(
                f"dockerd's socket refused the attach: {error}"
            ) from error
        writer.write(
            f"POST {path}?{query} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode()
        )
        try:
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split()[1])
            if status not in (101, 200):
                message = await _error_body(reader, header_lines)
                raise RuntimeFailure(f"dockerd refused the attach: {message}")
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as error:
            writer.close()
            raise RuntimeFailure(
                f"Attaching to the debug container failed: {error}"
            ) from error
        except RuntimeFailure:
            writer.close()
            raise
        return cls(reader, writer, multiplexed=multiplexed)

    async def read(self) -> bytes:
        try:
            if not self.multiplexed:
                return await self._reader.read(OUTPUT_CHUNK)
            while True:
                header = await self._reader.readexactly(8)
                size = int.from_bytes(header[4:], "big")
                if size:
                    return await self._reader.readexactly(size)
        except asyncio.IncompleteReadError as error:
            return error.partial
        except OSError:
            return b""

    async def write(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as error:
            # The process has exited or the container is being removed; its
            # input has nowhere to go.
            logger.debug("Input for an ended debug process was dropped: %s", error)

    async def close_input(self) -> None:
        if not self._writer.is_closing() and self._writer.can_write_eof():
            with contextlib.suppress(OSError):
                self._writer.write_eof()

    def close(self) -> None:
        self._writer.close()


async def _error_body(reader: asyncio.StreamReader, header_lines: list[str]) -> str:
    length = 0
    for line in header_lines:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(min(length, OUTPUT_CHUNK)) if length else b""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode(errors="replace")[:200] or "no reason given"


def qualified_reference(image: str) -> str:
    """Return an image reference with its registry and tag, as dockerd stores it.

    `busybox` becomes `docker.io/library/busybox:latest`; a reference without a
    tag or digest would make dockerd pull every tag of the repository.
    """
    name, at, digest = image.partition("@")
    first, slash, _ = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        name = f"docker.io/{name if slash else 'library/' + name}"
    if not at and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}{at}{digest}"


def namespace_pid(host_root: Path, pid: int) -> int:
    """Return a host process's pid as its own pid namespace numbers it.

    Raises:
        TargetNotRunning: the process has exited.
    """
    try:
        lines = (host_root / "proc" / str(pid) / "status").read_text().splitlines()
    except FileNotFoundError as error:
        raise TargetNotRunning("The target container has just exited.") from error
    for line in lines:
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    # Kernels before 4.1 have no NSpid line; a container's main process is 1.
    return 1


def _auth_header(auth: RegistryAuth | None) -> dict[str, str] | None:
    if auth is None or not (auth.username or auth.password or auth.identity_token):
        return None
    if auth.identity_token:
        return {"identitytoken": auth.identity_token, "serveraddress": auth.server}
    return {"username": auth.username, "password": auth.password}


async def _delete(container: DockerContainer) -> None:
    """Remove a container by force; one that is gone or going counts as removed."""
    try:
        await container.delete(force=True, v=True)
    except aiodocker.DockerError as error:
        if error.status != 404 and "already in progress" not in error.message:
            raise


def _is_wrapped(config: dict[str, Any]) -> bool:
    return bool(config.get("Entrypoint")) and config["Entrypoint"][0] == SIZE_WAIT_SHELL


def _unwrapped(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "Entrypoint": config["Cmd"], "Cmd": []}


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except aiodocker.DockerError as error:
        message = str(error.message)
        raise (
            missing_command(message)
            or RuntimeFailure(f"dockerd could not {action}: {message}")
        ) from error
    except (aiohttp.ClientError, OSError) as error:
        raise RuntimeFailure(f"dockerd could not {action}: {error}") from error


def _privileges(privileged: bool, *, api_version: tuple[int, int]) -> dict[str, Any]:
    """Return the host config that makes a debug container privileged, or not.

    dockerd's own privileged mode asks runc for every capability the kernel
    knows and fails where the node withholds some from its runtime (this
    project's CI VM lacks CAP_SYS_RESOURCE: "unable to apply caps: operation
    not permitted"). There, privileged means every capability the agent holds,
    without seccomp or AppArmor confinement, as on the containerd path.
    """
    if not privileged:
        return {"Privileged": False}
    held = current_capabilities()
    if len(held) >= _known_capability_count():
        return {"Privileged": True}
    if api_version < NEWER_CAPABILITIES_API:
        # Docker 20.10 refuses capabilities it predates ("unknown capability").
        held = tuple(c for c in held if c not in NEWER_CAPABILITIES)
    return {
        "Privileged": False,
        "CapAdd": list(held),
        "SecurityOpt": ["seccomp=unconfined", "apparmor=unconfined"],
    }


NEWER_CAPABILITIES = ("CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE")
NEWER_CAPABILITIES_API = (1, 42)
"""The first Engine API (Docker 22.06/23.0) whose daemon knows them."""


def _known_capability_count() -> int:
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text()) + 1
    except (OSError, ValueError):
        return 41
