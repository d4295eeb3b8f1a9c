"""The images the cluster runs, built locally and imported into its containerd.

Nothing is pulled: the pause, target and tools images come from `cluster.images`,
the agent image from `cluster.agent_image`, and all of them are imported into the
`k8s.io` namespace of the cluster's containerd, where kubelet finds them.
"""

import json
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path

from cluster import agent_image, images, layout
from cluster.commands import run
from cluster.errors import ClusterError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterImages:
    """The full names of the images in the cluster's containerd."""

    pause: str
    """The pod sandbox image containerd is configured with."""
    shell: str
    """A target image with busybox's shell."""
    no_shell: str
    """A target image with no shell at all; its entrypoint sleeps."""
    tools: str
    """A debug image with busybox's tools (ps, ip, nslookup...)."""
    agent: str
    """The agent image built from this checkout."""


@dataclass(frozen=True)
class BuiltImages:
    """Images ready to import."""

    names: ClusterImages
    tars: tuple[Path, ...]


def image_names() -> ClusterImages:
    """Return the names of the cluster's images, built or not."""
    return ClusterImages(
        pause=images.PAUSE_IMAGE,
        shell=images.BUSYBOX_IMAGE,
        no_shell=images.NOSHELL_IMAGE,
        tools=images.TOOLS_IMAGE,
        agent=agent_image.agent_image_name(),
    )


def build_all() -> BuiltImages:
    """Build the images, or take them from the caches.

    Raises:
        ClusterError: A build failed; the message says which and why.
    """
    out = layout.CACHE_DIR / "cluster-images"
    try:
        tars = list(images.build_all(out).values())
    except images.ImageBuildError as error:
        raise ClusterError(f"Building the test images failed: {error}") from error
    tars.append(agent_image.build_agent_image())
    return BuiltImages(names=image_names(), tars=tuple(tars))


def import_all(built: BuiltImages) -> None:
    """Import the images into the k8s.io namespace of the cluster's containerd.

    An image that containerd already holds under the same name and manifest
    digest is left alone.
    """
    present = _present_images()
    for tar in built.tars:
        name, digest = _name_and_digest(tar)
        if present.get(name) == digest:
            logger.info("containerd already has %s.", name)
            continue
        logger.info("Importing %s into containerd.", name)
        try:
            images.import_image(tar, address=layout.CONTAINERD_SOCKET)
        except images.ImageBuildError as error:
            raise ClusterError(f"Importing {tar} failed: {error}") from error


def _present_images() -> dict[str, str]:
    listing = run(
        [
            "ctr",
            "--address",
            layout.CONTAINERD_SOCKET,
            "--namespace",
            "k8s.io",
            "images",
            "ls",
        ]
    ).stdout.splitlines()
    # Columns: REF TYPE DIGEST SIZE PLATFORMS LABELS; the first line is a header.
    return {
        fields[0]: fields[2] for line in listing[1:] if len(fields := line.split()) > 2
    }


def _name_and_digest(tar: Path) -> tuple[str, str]:
    with tarfile.open(tar) as layout_tar:
        member = layout_tar.extractfile("index.json")
        if member is None:
            raise ClusterError(f"{tar} has no index.json; it is not an image layout.")
        index = json.load(member)
    manifest = index["manifests"][0]
    return manifest["annotations"]["io.containerd.image.name"], manifest["digest"]
