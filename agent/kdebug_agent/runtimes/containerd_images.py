"""How the containerd backend reads an image: its name, config and layers.

containerd stores an image as a name pointing at a descriptor; the index,
manifest, config and layers are blobs in its content store. To start a container
from an image the agent needs the image config (the defaults of the process) and
the chain ID of its layers, which names the committed snapshot the container's
writable layer sits on. Everything here but `read_image_config` is pure.
"""

import dataclasses
import hashlib
import json
import platform
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Python's names for machines, mapped to the architecture names of OCI images.
_ARCHITECTURES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

BlobReader = Callable[[str], Awaitable[bytes]]
"""Reads a whole blob of the content store by digest."""


class ImageError(Exception):
    """An image's blobs are missing or malformed; the message says which."""


@dataclasses.dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an OCI image config that shape a container."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    diff_ids: tuple[str, ...] = ()
    """Digests of the uncompressed layers, bottom first."""

    @property
    def chain_id(self) -> str:
        """The name of the committed snapshot holding all layers."""
        return chain_id(self.diff_ids)

    @classmethod
    def from_json(cls, blob: bytes) -> "ImageConfig":
        """Parse an image config blob.

        Raises:
            ImageError: the blob is not an image config with layers.
        """
        data = _json_object(blob, what="image config")
        config = data.get("config") or {}
        diff_ids = (data.get("rootfs") or {}).get("diff_ids") or []
        if not diff_ids:
            raise ImageError("The image config lists no layers.")
        return cls(
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=tuple(config.get("Env") or ()),
            working_dir=str(config.get("WorkingDir") or ""),
            user=str(config.get("User") or ""),
            diff_ids=tuple(str(d) for d in diff_ids),
        )


def normalize_reference(image: str) -> str:
    """Return the full name containerd and the kubelet store an image under.

    `busybox` becomes `docker.io/library/busybox:latest`, `quay.io/x/y` becomes
    `quay.io/x/y:latest`; references with a digest get no default tag.

    Raises:
        ValueError: the reference is empty.
    """
    if not image.strip():
        raise ValueError("The image reference is empty.")
    name, at, digest = image.strip().partition("@")
    first, slash, rest = name.partition("/")
    is_domain = "." in first or ":" in first or first == "localhost"
    domain, path = (first, rest) if slash and is_domain else ("docker.io", name)
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if not at and ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{domain}/{path}{at}{digest}"


def chain_id(diff_ids: Sequence[str]) -> str:
    """Return the chain ID of a stack of layers, as containerd names snapshots.

    The first layer's chain ID is its diff ID; each next one is the SHA-256 of
    the previous chain ID and the layer's diff ID joined by a space.
    """
    current = diff_ids[0]
    for diff_id in diff_ids[1:]:
        digest = hashlib.sha256(f"{current} {diff_id}".encode()).hexdigest()
        current = f"sha256:{digest}"
    return current


def host_architecture() -> str:
    """Return the OCI architecture name of this machine."""
    machine = platform.machine()
    return _ARCHITECTURES.get(machine, machine)


def select_manifest(index: dict[str, Any], *, architecture: str) -> dict[str, Any]:
    """Pick the Linux manifest for `architecture` from an image index.

    Raises:
        ImageError: the index has no manifest for this platform.
    """
    manifests = [m for m in index.get("manifests") or [] if isinstance(m, dict)]
    for descriptor in manifests:
        wanted = descriptor.get("platform") or {}
        if wanted.get("os", "linux") == "linux" and (
            wanted.get("architecture") == architecture
        ):
            return descriptor
    if len(manifests) == 1 and "platform" not in manifests[0]:
        return manifests[0]
    raise ImageError(f"The image has no manifest for linux/{architecture}.")


async def read_image_config(
    media_type: str, digest: str, *, read: BlobReader
) -> ImageConfig:
    """Follow an image's root descriptor to its config.

    Args:
        media_type: the media type of the image's root descriptor.
        digest: the digest of the image's root descriptor.
        read: reads a blob from the content store.

    Raises:
        ImageError: a blob is malformed or of an unknown type.
    """
    if media_type in INDEX_TYPES:
        index = _json_object(await read(digest), what="image index")
        chosen = select_manifest(index, architecture=host_architecture())
        media_type, digest = str(chosen.get("mediaType")), str(chosen.get("digest"))
    if media_type not in MANIFEST_TYPES:
        raise ImageError(f"The image's manifest has an unknown type {media_type!r}.")
    manifest = _json_object(await read(digest), what="image manifest")
    config = manifest.get("config") or {}
    return ImageConfig.from_json(await read(str(config.get("digest"))))


def resolve_user(user: str, *, layers: Sequence[Path]) -> tuple[int, int]:
    """Return the uid and gid for an image config's `User`.

    Names are looked up in `/etc/passwd` and `/etc/group` of the image's root
    filesystem; a uid without a group gets the user's primary group, else 0.

    Args:
        user: `name`, `uid`, `name:group`, `uid:gid`, or empty for root.
        layers: the directories of the root filesystem's layers, top first.

    Raises:
        ImageError: a name is not in the image's passwd or group file.
    """
    name, _, group = user.partition(":")
    users = _id_database(layers, "etc/passwd")
    if not name:
        uid, primary_gid = 0, 0
    elif name.isdigit():
        uid = int(name)
        primary_gid = next((gid for u, gid in users.values() if u == uid), 0)
    elif name in users:
        uid, primary_gid = users[name]
    else:
        raise ImageError(f"The image's user {name!r} is not in its /etc/passwd.")
    if not group:
        return uid, primary_gid
    if group.isdigit():
        return uid, int(group)
    groups = _id_database(layers, "etc/group")
    if group not in groups:
        raise ImageError(f"The image's group {group!r} is not in its /etc/group.")
    return uid, groups[group][0]


def _id_database(layers: Sequence[Path], relative: str) -> dict[str, tuple[int, int]]:
    """Read `name:password:id:id2...` lines from the topmost layer that has them.

    For passwd the pair is (uid, gid); for group it is (gid, 0).
    """
    for layer in layers:
        path = layer / relative
        if path.is_file():
            entries: dict[str, tuple[int, int]] = {}
            for line in path.read_text(errors="replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 4 and fields[2].isdigit():
                    second = int(fields[3]) if fields[3].isdigit() else 0
                    entries.setdefault(fields[0], (int(fields[2]), second))
            return entries
    return {}


def _json_object(blob: bytes, *, what: str) -> dict[str, Any]:
    try:
        data = json.loads(blob)
    except ValueError as error:
        raise ImageError(f"The {what} is not JSON: {error}.") from error
    if not isinstance(data, dict):
        raise ImageError(f"The {what} is not a JSON object.")
    return data
