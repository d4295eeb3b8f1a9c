"""The images the cluster runs, built locally and imported into its containerd.

Nothing is pulled: the pause, target and tools images come from `cluster.images`,
the agent image from `cluster.agent_image`, and all of them are imported into the
`k8s.io` namespace of the cluster's containerd, where kubelet finds them.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

from cluster import agent_image, images, layout
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
    """Import the images into the k8s.io namespace of the cluster's containerd."""
    for tar in built.tars:
        logger.info("Importing %s into containerd.", tar.name)
        try:
            images.import_image(tar, address=layout.CONTAINERD_SOCKET)
        except images.ImageBuildError as error:
            raise ClusterError(f"Importing {tar} failed: {error}") from error
