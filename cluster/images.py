"""Container images for the tests and the test cluster, built without a registry.

No registry is reachable here, so the images are made locally as OCI image
layout tars, from Debian's `busybox-static` package and two tiny C programs
compiled with `gcc -static`, and imported with `ctr images import`. They are
deterministic: the same inputs give the same digests, and built tars are cached
under `$KDEBUG_CACHE/images` (default `/var/cache/kdebug-tui/images`), keyed by
the busybox-static version and this module's recipes.

The ready-made images, by the name containerd stores them under:

- `docker.io/kdebug/busybox:1` (`BUSYBOX_IMAGE`): a target. BusyBox with its
  applets, default command `sh`. Only this image has `TARGET_MARKER`
  (`/etc/kdebug-target-marker`, holding `TARGET_MARKER_TEXT`), so a test can
  tell the target's filesystem from the debug image's.
- `docker.io/kdebug/tools:1` (`TOOLS_IMAGE`): a debug image. BusyBox with every
  applet (sh, ps, ip, stty, sleep, nslookup, ...), default command `sh`,
  `TERM=xterm`; only it has `TOOLS_MARKER` (`/etc/kdebug-tools-marker`).
- `docker.io/kdebug/noshell:1` (`NOSHELL_IMAGE`): a target with no shell at
  all: one static binary, `/sleep-forever`, its entrypoint, which sleeps until
  SIGTERM or SIGINT.
- `registry.k8s.io/pause:3.10` (`PAUSE_IMAGE`): a pod sandbox image, one static
  `/pause` that waits for a signal and reaps children.

API: `build_image` (any root filesystem directory to a layout tar),
`import_image` (a tar into a containerd), `build_all` (the four images above,
from cache when possible). Command line: `python -m cluster.images build-all
--out DIR`, and `python -m cluster.images import --address SOCKET TAR...`.
"""

import argparse
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

BUSYBOX_IMAGE = "docker.io/kdebug/busybox:1"
TOOLS_IMAGE = "docker.io/kdebug/tools:1"
NOSHELL_IMAGE = "docker.io/kdebug/noshell:1"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
ALL_IMAGES = (BUSYBOX_IMAGE, TOOLS_IMAGE, NOSHELL_IMAGE, PAUSE_IMAGE)

TARGET_MARKER = "/etc/kdebug-target-marker"
"""A file only the busybox target image has."""
TARGET_MARKER_TEXT = "this file is in the kdebug target image\n"
TOOLS_MARKER = "/etc/kdebug-tools-marker"
"""A file only the tools (debug) image has."""

CACHE_DIR = Path(os.environ.get("KDEBUG_CACHE", "/var/cache/kdebug-tui")) / "images"
# Bump when a recipe changes in a way the cache key would not notice.
RECIPE_VERSION = "1"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Layer files get this modification time, so that builds are reproducible.
EPOCH = 0

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"

PAUSE_SOURCE = r"""
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signal_number) { (void)signal_number; _exit(0); }

static void reap(int signal_number) {
    (void)signal_number;
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
}

int main(void) {
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    signal(SIGCHLD, reap);
    for (;;) {
        pause();
    }
}
"""

SLEEP_FOREVER_SOURCE = r"""
#include <signal.h>
#include <unistd.h>

static void stop(int signal_number) { (void)signal_number; _exit(0); }

int main(void) {
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    for (;;) {
        sleep(3600);
    }
}
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = "root:x:0:\ntty:x:5:\nnobody:x:65534:\n"


class ImageBuildError(Exception):
    """An image could not be built or imported; the message says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class ImageRecipe:
    """How to make one of the ready-made images."""

    name: str
    fill: Callable[[Path], None]
    """Writes the image's root filesystem into the directory it is given."""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = (f"PATH={DEFAULT_PATH}",)


def build_image(
    name: str,
    rootfs: Path,
    *,
    out: Path,
    entrypoint: Sequence[str] = (),
    cmd: Sequence[str] = (),
    env: Sequence[str] = (f"PATH={DEFAULT_PATH}",),
    working_dir: str = "/",
    architecture: str | None = None,
) -> Path:
    """Write a one-layer image of `rootfs` as an OCI image layout tar.

    The manifest's descriptor in `index.json` carries the annotations
    `io.containerd.image.name` (the full `name`) and
    `org.opencontainers.image.ref.name` (its tag), so `ctr images import`
    stores the image under `name`.

    Args:
        name: the full image name, e.g. `docker.io/kdebug/busybox:1`.
        rootfs: a directory holding the image's root filesystem; owners and
            times are not kept (everything belongs to root), modes and
            symbolic links are.
        out: the tar file to write; its directory must exist.
        entrypoint: the image config's `Entrypoint`.
        cmd: the image config's `Cmd`.
        env: the image config's `Env`.
        working_dir: the image config's `WorkingDir`.
        architecture: the OCI architecture; this machine's when `None`.

    Returns:
        `out`.
    """
    layer = _layer_tar(rootfs)
    compressed = _gzip(layer)
    config = _json_bytes(
        {
            "architecture": architecture or host_architecture(),
            "os": "linux",
            "created": "1970-01-01T00:00:00Z",
            "config": {
                "Entrypoint": list(entrypoint) or None,
                "Cmd": list(cmd) or None,
                "Env": list(env),
                "WorkingDir": working_dir,
            },
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        }
    )
    manifest = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": _descriptor(CONFIG_TYPE, config),
            "layers": [_descriptor(LAYER_TYPE, compressed)],
        }
    )
    index = _index(name, manifest, architecture or host_architecture())
    blobs = [config, manifest, compressed]
    _write_layout(out, index=index, blobs=blobs)
    return out


def import_image(
    tar: Path, *, address: str | Path, namespace: str = "k8s.io", ctr: str = "ctr"
) -> None:
    """Import an image layout tar into a running containerd and unpack it.

    Args:
        tar: a tar made by `build_image`.
        address: the containerd socket's path.
        namespace: the containerd namespace; `k8s.io` is the kubelet's.
        ctr: the `ctr` program to run.

    Raises:
        ImageBuildError: ctr failed; the message has its output.
    """
    command = [ctr, "-a", str(address), "-n", namespace, "images", "import", str(tar)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ImageBuildError(
            f"`{' '.join(command)}` failed: {(result.stderr or result.stdout).strip()}"
        )


def build_all(out: Path, *, cache: Path = CACHE_DIR) -> dict[str, Path]:
    """Build (or take from the cache) the four ready-made images.

    Args:
        out: the directory to put the tars in; made if missing.
        cache: where built tars are kept between runs.

    Returns:
        The tar of each image, by image name.

    Raises:
        ImageBuildError: busybox-static or gcc is unavailable, or a build failed.
    """
    out.mkdir(parents=True, exist_ok=True)
    busybox = busybox_binary(cache=cache)
    keyed = cache / _cache_key(busybox)
    keyed.mkdir(parents=True, exist_ok=True)
    tars: dict[str, Path] = {}
    for recipe in recipes(busybox):
        filename = _file_name(recipe.name)
        cached = keyed / filename
        if not cached.is_file():
            _build_recipe(recipe, cached)
        tars[recipe.name] = out / filename
        if tars[recipe.name].resolve() != cached.resolve():
            shutil.copyfile(cached, tars[recipe.name])
    return tars


def recipes(busybox: Path) -> list[ImageRecipe]:
    """Return the recipes of the ready-made images, given a static busybox."""
    target_env = (f"PATH={DEFAULT_PATH}",)
    return [
        ImageRecipe(
            BUSYBOX_IMAGE,
            lambda root: _fill_busybox(
                root, busybox, {TARGET_MARKER: TARGET_MARKER_TEXT}
            ),
            cmd=("sh",),
            env=target_env,
        ),
        ImageRecipe(
            TOOLS_IMAGE,
            lambda root: _fill_busybox(root, busybox, {TOOLS_MARKER: "kdebug tools\n"}),
            cmd=("sh",),
            env=(*target_env, "TERM=xterm"),
        ),
        ImageRecipe(
            NOSHELL_IMAGE,
            lambda root: _compile(SLEEP_FOREVER_SOURCE, root / "sleep-forever"),
            entrypoint=("/sleep-forever",),
        ),
        ImageRecipe(
            PAUSE_IMAGE,
            lambda root: _compile(PAUSE_SOURCE, root / "pause"),
            entrypoint=("/pause",),
        ),
    ]


def busybox_binary(*, cache: Path = CACHE_DIR) -> Path:
    """Return a static busybox from Debian's busybox-static, cached by version.

    The package is fetched with `apt-get download`; when that fails (no
    package lists, no network) the installed package's binary is used.

    Raises:
        ImageBuildError: the package can be neither downloaded nor found
            installed.
    """
    version = _package_version("busybox-static")
    binary = cache / "busybox-static" / version / "busybox"
    if binary.is_file():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=binary.parent) as scratch:
        found = _downloaded_busybox(Path(scratch)) or _installed_busybox()
        partial = Path(scratch) / "busybox.partial"
        shutil.copyfile(found, partial)
        partial.chmod(0o755)
        os.replace(partial, binary)
    return binary


def host_architecture() -> str:
    """Return this machine's architecture as Debian (and OCI) names it."""
    result = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "amd64"


def _build_recipe(recipe: ImageRecipe, destination: Path) -> None:
    logger.info("Building the image %s.", recipe.name)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        root = Path(scratch) / "rootfs"
        root.mkdir()
        recipe.fill(root)
        partial = Path(scratch) / "image.tar"
        build_image(
            recipe.name,
            root,
            out=partial,
            entrypoint=recipe.entrypoint,
            cmd=recipe.cmd,
            env=recipe.env,
        )
        os.replace(partial, destination)


def _fill_busybox(root: Path, busybox: Path, files: dict[str, str]) -> None:
    for directory in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    shutil.copyfile(busybox, root / "bin/busybox")
    (root / "bin/busybox").chmod(0o755)
    for applet in _applets(busybox):
        link = root / applet
        if not link.exists() and link.name != "busybox":
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(root / "bin/busybox", link.parent))
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    for path, text in files.items():
        (root / path.lstrip("/")).write_text(text)


def _applets(busybox: Path) -> list[str]:
    result = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    )
    return sorted(line.strip() for line in result.stdout.splitlines() if line.strip())


def _compile(source: str, binary: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "program.c"
        path.write_text(source)
        command = ["gcc", "-static", "-Os", "-s", "-o", str(binary), str(path)]
        try:
            result = subprocess.run(command, capture_output=True, text=True)
        except FileNotFoundError as error:
            raise ImageBuildError(
                "gcc is not installed (apt-get install gcc)."
            ) from error
    if result.returncode != 0:
        raise ImageBuildError(f"gcc failed to build {binary.name}: {result.stderr}")


def _package_version(package: str) -> str:
    for command in (
        ["apt-cache", "show", "--no-all-versions", package],
        ["dpkg-query", "-s", package],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        for line in result.stdout.splitlines():
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    raise ImageBuildError(
        f"The Debian package {package} is neither known to apt nor installed; "
        "run `apt-get update` first."
    )


def _downloaded_busybox(scratch: Path) -> Path | None:
    download = subprocess.run(
        ["apt-get", "download", "busybox-static"],
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
    )
    packages = sorted(scratch.glob("busybox-static_*.deb"))
    if download.returncode != 0 or not packages:
        logger.warning(
            "apt-get download busybox-static failed, so the installed busybox is "
            "used: %s",
            download.stderr.strip(),
        )
        return None
    tree = scratch / "tree"
    subprocess.run(["dpkg-deb", "-x", str(packages[0]), str(tree)], check=True)
    return next(p for p in sorted(tree.rglob("busybox")) if p.is_file())


def _installed_busybox() -> Path:
    result = subprocess.run(
        ["dpkg", "-L", "busybox-static"], capture_output=True, text=True, check=False
    )
    for line in result.stdout.splitlines():
        if line.endswith("/busybox") and Path(line).is_file():
            return Path(line)
    raise ImageBuildError(
        "busybox-static can be neither downloaded nor found installed "
        "(apt-get install busybox-static)."
    )


def _cache_key(busybox: Path) -> str:
    gcc = subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True)
    digest = hashlib.sha256()
    for part in (
        RECIPE_VERSION,
        hashlib.sha256(busybox.read_bytes()).hexdigest(),
        gcc.stdout.strip(),
        PAUSE_SOURCE,
        SLEEP_FOREVER_SOURCE,
        PASSWD,
        GROUP,
        TARGET_MARKER_TEXT,
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _file_name(name: str) -> str:
    return name.replace("/", "_").replace(":", "_") + ".tar"


def _layer_tar(rootfs: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = EPOCH
            if info.isfile():
                with path.open("rb") as content:
                    tar.addfile(info, content)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _gzip(data: bytes) -> bytes:
    # Level 1: the images only travel from this machine's disk into its own
    # containerd, so level 9's slightly smaller layers are not worth its time
    # (about 70 s against 3 s for the agent image).
    buffer = io.BytesIO()
    with gzip.GzipFile(
        fileobj=buffer, mode="wb", mtime=0, compresslevel=1
    ) as compressed:
        compressed.write(data)
    return buffer.getvalue()


def _digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _index(name: str, manifest: bytes, architecture: str) -> bytes:
    descriptor = _descriptor(MANIFEST_TYPE, manifest)
    descriptor["platform"] = {"architecture": architecture, "os": "linux"}
    descriptor["annotations"] = {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
    }
    return _json_bytes(
        {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [descriptor]}
    )


def _write_layout(out: Path, *, index: bytes, blobs: list[bytes]) -> None:
    entries = [
        ("oci-layout", _json_bytes({"imageLayoutVersion": "1.0.0"})),
        ("index.json", index),
    ]
    entries += [(f"blobs/sha256/{_digest(b).split(':')[1]}", b) for b in blobs]
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
            tar.addfile(info)
        for arcname, data in entries:
            info = tarfile.TarInfo(arcname)
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(data))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: `build-all --out DIR` or `import --address A TAR...`."""
    parser = argparse.ArgumentParser(prog="python -m cluster.images")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-all", help="build the ready-made images")
    build.add_argument("--out", type=Path, required=True)
    load = commands.add_parser("import", help="import image tars into containerd")
    load.add_argument("--address", required=True, help="containerd socket path")
    load.add_argument("--namespace", default="k8s.io")
    load.add_argument("tars", nargs="+", type=Path)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if arguments.command == "build-all":
            for name, tar in build_all(arguments.out).items():
                print(f"{name}\t{tar}")
        else:
            for tar in arguments.tars:
                import_image(
                    tar, address=arguments.address, namespace=arguments.namespace
                )
    except ImageBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
