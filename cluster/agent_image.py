"""The agent image: Debian bookworm's Python 3.11 with the agent from this checkout.

The base is a `debootstrap --variant=minbase` root filesystem with python3, cached
under `$KDEBUG_CACHE/agent-base/` by suite, package list and recipe version, since
making it takes about a minute. On top of a copy of it, pip installs the agent
(built as a wheel from ./agent) and its dependencies into
/usr/local/lib/python3.11/dist-packages, as binary wheels for the image's Python
and architecture whatever the host's Python is, and the console scripts are written
for /usr/bin/python3. The image is one layer made by `cluster.images.build_image`,
cached under `$KDEBUG_CACHE/agent-image/` by the base and the agent's sources.

The image is stored as `ghcr.io/kdebug-tui/kdebug-agent:<agent version>`, the name
the client uses by default, so the client needs no setting on the test cluster.
"""

import configparser
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from cluster import images, layout
from cluster.commands import run
from cluster.errors import ClusterError
from cluster.mounts import unmount_below

logger = logging.getLogger(__name__)

AGENT_DIR = layout.REPO_DIR / "agent"
AGENT_REPOSITORY = "ghcr.io/kdebug-tui/kdebug-agent"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3",)
BASE_RECIPE = "2"
"""Bump when the base recipe changes in a way its cache key would not notice."""
IMAGE_RECIPE = "1"
PYTHON_VERSION = "3.11"
"""bookworm's Python, for which the agent's wheels are chosen."""
SITE_PACKAGES = f"usr/local/lib/python{PYTHON_VERSION}/dist-packages"
MANYLINUX_TAGS = ("manylinux2014", "manylinux_2_17", "manylinux_2_28", "manylinux1")
"""Wheel platforms bookworm's glibc 2.36 runs; the agent's dependencies use these."""
KEPT_IMAGE_BUILDS = 3
IMAGE_ENV = (
    f"PATH={images.DEFAULT_PATH}",
    "LANG=C.UTF-8",
    "PYTHONUNBUFFERED=1",
)
PRUNED = (
    "dev",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "etc/resolv.conf",
    "etc/hostname",
)
"""What the base does without: package caches, documentation, translations of
messages, and files copied from the host that the runtime provides anyway."""


def agent_version() -> str:
    """Return the agent's version as its package declares it."""
    source = (AGENT_DIR / "kdebug_agent" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', source, re.M)
    if match is None:
        raise ClusterError("agent/kdebug_agent/__init__.py declares no __version__.")
    return match[1]


def agent_image_name() -> str:
    """Return the full name the agent image is stored under."""
    return f"{AGENT_REPOSITORY}:{agent_version()}"


def build_agent_image() -> Path:
    """Build the agent image unless the cache has it; return its OCI layout tar."""
    base = base_rootfs()
    key = _image_key(base)
    cached = layout.CACHE_DIR / "agent-image" / key / "agent.tar"
    if cached.is_file():
        logger.info("The agent image is cached (%s).", cached)
        return cached

    logger.info("Building the agent image %s.", agent_image_name())
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent) as scratch_name:
        scratch = Path(scratch_name)
        rootfs = scratch / "rootfs"
        # The agent goes into an overlay over the cached base, which stays as it
        # is and need not be copied.
        for directory in ("upper", "work", "rootfs"):
            (scratch / directory).mkdir()
        options = (
            f"lowerdir={base},upperdir={scratch / 'upper'},workdir={scratch / 'work'}"
        )
        run(["mount", "-t", "overlay", "overlay", "-o", options, rootfs])
        try:
            _install_agent(rootfs, scratch)
            partial = scratch / "agent.tar"
            images.build_image(
                agent_image_name(),
                rootfs,
                out=partial,
                cmd=("kdebug-agent",),
                env=IMAGE_ENV,
            )
        except images.ImageBuildError as error:
            raise ClusterError(f"Building the agent image failed: {error}") from error
        finally:
            unmount_below(rootfs)
        os.replace(partial, cached)
    _prune_image_cache(keep=cached.parent)
    return cached


def base_rootfs() -> Path:
    """Return the cached Debian root filesystem with Python, making it if needed."""
    key = f"{SUITE}-minbase-{'-'.join(BASE_PACKAGES)}-r{BASE_RECIPE}"
    directory = layout.CACHE_DIR / "agent-base" / key
    rootfs = directory / "rootfs"
    if rootfs.is_dir():
        return rootfs

    logger.info("Making the agent's base root filesystem with debootstrap (%s).", key)
    directory.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=directory, prefix="partial-"))
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                SUITE,
                partial,
                MIRROR,
            ],
            timeout=1800,
        )
    except ClusterError as error:
        # debootstrap mounts /proc and /sys inside; a failure may leave them.
        unmount_below(partial)
        shutil.rmtree(partial, ignore_errors=True)
        raise ClusterError(f"debootstrap of {SUITE} failed: {error}") from error

    unmount_below(partial)
    for pruned in PRUNED:
        path = partial / pruned
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                _remove(child)
        elif path.exists() or path.is_symlink():
            path.unlink()
    os.replace(partial, rootfs)
    return rootfs


def _install_agent(rootfs: Path, scratch: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    # Built from a copy, so that setuptools' build directory does not land in
    # the checkout.
    source = scratch / "agent-source"
    for path in _agent_sources():
        copy = source / path.relative_to(AGENT_DIR)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    wheels = scratch / "wheels"
    run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", wheels, source])
    agent_wheel = next(wheels.glob("kdebug_agent-*.whl"))

    architecture = _wheel_architecture()
    platforms = [f"--platform={tag}_{architecture}" for tag in MANYLINUX_TAGS]
    target = rootfs / SITE_PACKAGES
    run(
        [
            *pip,
            "install",
            "--quiet",
            "--no-warn-script-location",
            f"--target={target}",
            f"--python-version={PYTHON_VERSION}",
            "--implementation=cp",
            "--only-binary=:all:",
            *platforms,
            agent_wheel,
        ],
        timeout=900,
    )
    # pip's own scripts name the host's interpreter; write ours for the image's.
    shutil.rmtree(target / "bin", ignore_errors=True)
    for name, entry in _console_scripts(target).items():
        module, function = entry.split(":")
        script = rootfs / "usr/local/bin" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            "#!/usr/bin/python3\nimport sys\n"
            f"from {module} import {function}\n"
            f"sys.exit({function}())\n"
        )
        script.chmod(0o755)


def _console_scripts(target: Path) -> dict[str, str]:
    parser = configparser.ConfigParser()
    for entry_points in target.glob("kdebug_agent-*.dist-info/entry_points.txt"):
        parser.read(entry_points)
    if not parser.has_section("console_scripts"):
        raise ClusterError("The agent's wheel declares no console scripts.")
    return dict(parser.items("console_scripts"))


def _wheel_architecture() -> str:
    debian = images.host_architecture()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(debian, debian)


def _image_key(base: Path) -> str:
    digest = hashlib.sha256()
    digest.update(f"{IMAGE_RECIPE}\0{base}\0{agent_image_name()}\0".encode())
    for path in _agent_sources():
        relative = path.relative_to(AGENT_DIR)
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _agent_sources() -> list[Path]:
    # What goes into the wheel; build leftovers and byte code would change the
    # key without changing the agent.
    package = AGENT_DIR / "kdebug_agent"
    files = [
        path
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc", ".pyo")
    ]
    return [AGENT_DIR / "pyproject.toml", *sorted(files)]


def _prune_image_cache(*, keep: Path) -> None:
    # Each change to the agent's sources makes a new image; keep the newest few.
    builds = sorted(
        (path for path in keep.parent.iterdir() if path != keep and path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for stale in builds[KEPT_IMAGE_BUILDS - 1 :]:
        shutil.rmtree(stale, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
