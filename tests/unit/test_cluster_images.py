"""The OCI image layouts the tests and the cluster import, built without a registry."""

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from cluster import images


def layout_files(tar: Path) -> dict[str, bytes]:
    with tarfile.open(tar) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def blob(files: dict[str, bytes], digest: str) -> bytes:
    return files[f"blobs/sha256/{digest.removeprefix('sha256:')}"]


def make_rootfs(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin/tool").write_text("#!/bin/sh\n")
    (root / "bin/tool").chmod(0o755)
    (root / "bin/alias").symlink_to("tool")
    return root


def test_an_image_layout_names_the_image_for_ctr_import(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs")

    tar = images.build_image(
        "docker.io/kdebug/example:2",
        rootfs,
        out=tmp_path / "image.tar",
        entrypoint=["/bin/tool"],
        architecture="amd64",
    )

    files = layout_files(tar)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    (descriptor,) = json.loads(files["index.json"])["manifests"]
    assert descriptor["annotations"] == {
        "io.containerd.image.name": "docker.io/kdebug/example:2",
        "org.opencontainers.image.ref.name": "2",
    }
    assert descriptor["platform"] == {"architecture": "amd64", "os": "linux"}


def test_the_config_lists_the_digest_of_the_uncompressed_layer(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs")
    tar = images.build_image("x.io/a:1", rootfs, out=tmp_path / "image.tar")

    files = layout_files(tar)
    (descriptor,) = json.loads(files["index.json"])["manifests"]
    manifest = json.loads(blob(files, descriptor["digest"]))
    config = json.loads(blob(files, manifest["config"]["digest"]))
    layer = gzip.decompress(blob(files, manifest["layers"][0]["digest"]))

    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert members["bin/alias"].issym() and members["bin/alias"].linkname == "tool"
    assert members["bin/tool"].mode & 0o777 == 0o755
    assert {member.uid for member in members.values()} == {0}


def test_the_same_root_filesystem_gives_the_same_image(tmp_path: Path) -> None:
    rootfs = make_rootfs(tmp_path / "rootfs")

    first = images.build_image("x.io/a:1", rootfs, out=tmp_path / "first.tar")
    (rootfs / "bin/tool").touch()
    second = images.build_image("x.io/a:1", rootfs, out=tmp_path / "second.tar")

    assert first.read_bytes() == second.read_bytes()
