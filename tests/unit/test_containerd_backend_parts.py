"""The containerd backend's pure parts: names, layers, specs, sockets, FIFOs."""

import asyncio
import hashlib
import json
import os
import re
import socket
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import pytest

from kdebug_agent.errors import RuntimeUnavailable
from kdebug_agent.runtimes.base import Target
from kdebug_agent.runtimes.containerd import KNOWN_SOCKETS, ContainerdRuntime
from kdebug_agent.runtimes.containerd_builder import (
    layer_directories,
    make_mount_points,
    namespace_pid,
    new_container_id,
    process_environment,
)
from kdebug_agent.runtimes.containerd_images import (
    ImageConfig,
    ImageError,
    chain_id,
    normalize_reference,
    read_image_config,
    resolve_user,
    select_manifest,
)
from kdebug_agent.runtimes.containerd_io import FifoPipes
from kdebug_agent.runtimes.containerd_spec import (
    DEFAULT_CAPABILITIES,
    DebugProcess,
    IdMapping,
    SharedNamespaces,
    build_spec,
    capabilities_from_mask,
)

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


@pytest.mark.parametrize(
    ("reference", "normalized"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("nicolaka/netshoot:v0.13", "docker.io/nicolaka/netshoot:v0.13"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine:latest"),
        ("quay.io/org/tool", "quay.io/org/tool:latest"),
        ("localhost/kdebug/agent:dev", "localhost/kdebug/agent:dev"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
        ("alpine@sha256:abc", "docker.io/library/alpine@sha256:abc"),
    ],
)
def test_references_are_normalized_as_the_kubelet_stores_them(
    reference: str, normalized: str
) -> None:
    assert normalize_reference(reference) == normalized


def test_an_empty_reference_is_refused() -> None:
    with pytest.raises(ValueError):
        normalize_reference("  ")


def test_the_chain_id_of_one_layer_is_its_diff_id() -> None:
    assert chain_id(["sha256:aa"]) == "sha256:aa"


def test_each_further_layer_hashes_the_chain_so_far_with_its_diff_id() -> None:
    second = "sha256:" + hashlib.sha256(b"sha256:aa sha256:bb").hexdigest()
    third = "sha256:" + hashlib.sha256(f"{second} sha256:cc".encode()).hexdigest()

    assert chain_id(["sha256:aa", "sha256:bb", "sha256:cc"]) == third


def test_the_manifest_for_this_architecture_is_picked_from_an_index() -> None:
    index = {
        "manifests": [
            {"digest": "arm", "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "x86", "platform": {"os": "linux", "architecture": "amd64"}},
        ]
    }

    assert select_manifest(index, architecture="amd64")["digest"] == "x86"
    with pytest.raises(ImageError, match="linux/s390x"):
        select_manifest(index, architecture="s390x")


async def test_the_image_config_is_found_through_index_and_manifest() -> None:
    config = {
        "config": {"Entrypoint": ["/bin/sh"], "Cmd": ["-l"], "Env": ["A=1"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:l1"]},
    }
    blobs = {
        "i": {"manifests": [{"mediaType": MANIFEST, "digest": "m"}]},
        "m": {"config": {"digest": "c"}},
        "c": config,
    }

    async def read(digest: str) -> bytes:
        return json.dumps(blobs[digest]).encode()

    parsed = await read_image_config(INDEX, "i", read=read)

    assert parsed == ImageConfig(
        entrypoint=("/bin/sh",), cmd=("-l",), env=("A=1",), diff_ids=("sha256:l1",)
    )


def test_a_config_without_layers_is_unusable() -> None:
    with pytest.raises(ImageError, match="no layers"):
        ImageConfig.from_json(b'{"rootfs": {"diff_ids": []}}')


def test_users_are_resolved_through_the_images_passwd_and_group(
    tmp_path: Path,
) -> None:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    upper.mkdir()
    (lower / "etc/passwd").write_text("root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:\n")
    (lower / "etc/group").write_text("root:x:0:\nstaff:x:50:\n")
    layers = [upper, lower]

    assert resolve_user("", layers=layers) == (0, 0)
    assert resolve_user("app", layers=layers) == (1000, 1001)
    assert resolve_user("1000", layers=layers) == (1000, 1001)
    assert resolve_user("4242", layers=layers) == (4242, 0)
    assert resolve_user("app:staff", layers=layers) == (1000, 50)
    assert resolve_user("7:8", layers=layers) == (7, 8)
    with pytest.raises(ImageError, match="nobody"):
        resolve_user("nobody", layers=layers)


def test_a_spec_joins_the_given_namespaces_by_path_and_keeps_its_own_mounts() -> None:
    shared = SharedNamespaces(paths={"pid": "/proc/9/ns/pid", "net": "/proc/9/ns/net"})

    spec = build_spec(
        DebugProcess(args=["sh"], env=["PATH=/bin"]),
        cgroups_path="/k8s.io/x",
        namespaces=shared,
    )

    namespaces = spec["linux"]["namespaces"]
    assert {"type": "pid", "path": "/proc/9/ns/pid"} in namespaces
    assert {"type": "network", "path": "/proc/9/ns/net"} in namespaces
    assert {"type": "mount"} in namespaces
    assert {"type": "ipc"} in namespaces
    assert not any(entry["type"] == "user" for entry in namespaces)
    assert spec["process"]["capabilities"]["bounding"] == list(DEFAULT_CAPABILITIES)
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]


def test_a_privileged_spec_has_the_given_capabilities_and_no_masked_paths() -> None:
    process = DebugProcess(
        args=["sh"], env=[], privileged=True, capabilities=("CAP_SYS_ADMIN",)
    )

    spec = build_spec(
        process, cgroups_path="/k8s.io/x", namespaces=SharedNamespaces(paths={})
    )

    assert spec["process"]["capabilities"]["effective"] == ["CAP_SYS_ADMIN"]
    assert "maskedPaths" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_a_new_uts_namespace_takes_the_given_hostname_a_joined_one_keeps_its_own() -> (
    None
):
    process = DebugProcess(args=["hostname"], env=[])
    own = build_spec(
        process,
        cgroups_path="/x",
        namespaces=SharedNamespaces(paths={}),
        hostname="web",
    )
    joined = build_spec(
        process,
        cgroups_path="/x",
        namespaces=SharedNamespaces(paths={"uts": "/proc/9/ns/uts"}),
        hostname="web",
    )

    assert own["hostname"] == "web"
    assert "hostname" not in joined


def test_joining_a_user_namespace_carries_its_id_mappings() -> None:
    mapping = IdMapping(container_id=0, host_id=100000, size=65536)
    shared = SharedNamespaces(
        paths={"user": "/proc/9/ns/user"},
        uid_mappings=[mapping],
        gid_mappings=[mapping],
    )

    spec = build_spec(
        DebugProcess(args=["sh"], env=[]), cgroups_path="/x", namespaces=shared
    )

    assert {"type": "user", "path": "/proc/9/ns/user"} in spec["linux"]["namespaces"]
    assert spec["linux"]["uidMappings"] == [
        {"containerID": 0, "hostID": 100000, "size": 65536}
    ]


def test_the_default_capability_mask_names_the_default_capabilities() -> None:
    assert set(capabilities_from_mask(0xA80425FB)) == set(DEFAULT_CAPABILITIES)


def test_overlay_and_bind_mounts_give_their_layer_directories(tmp_path: Path) -> None:
    overlay = SimpleNamespace(
        type="overlay",
        source="overlay",
        options=["index=off", "workdir=/s/2/work", "upperdir=/s/2/fs", "lowerdir=/s/1"],
    )
    bind = SimpleNamespace(type="bind", source="/s/3/fs", options=["rbind", "rw"])
    other = SimpleNamespace(type="zfs", source="pool/x", options=[])

    assert layer_directories([overlay], host_root=tmp_path) == [
        tmp_path / "s/2/fs",
        tmp_path / "s/1",
    ]
    assert layer_directories([bind], host_root=tmp_path) == [tmp_path / "s/3/fs"]
    assert layer_directories([other], host_root=tmp_path) == []


def test_missing_mount_points_are_made_in_the_writable_layer(tmp_path: Path) -> None:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (lower / "proc").mkdir(parents=True)
    upper.mkdir()

    make_mount_points([upper, lower])

    assert not (upper / "proc").exists()
    assert (upper / "dev").is_dir() and (upper / "sys").is_dir()


def test_the_environment_gets_a_path_and_a_terminal_type() -> None:
    assert process_environment(("A=1",), tty=True) == [
        "A=1",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm",
    ]
    assert process_environment(("PATH=/x", "TERM=vt100"), tty=True) == [
        "PATH=/x",
        "TERM=vt100",
    ]


def test_the_targets_pid_is_read_from_its_own_pid_namespace(tmp_path: Path) -> None:
    status = tmp_path / "proc/4242/status"
    status.parent.mkdir(parents=True)
    status.write_text("Name:\tsleep\nNSpid:\t4242\t17\n")

    target = Target(container_id="c", pid=4242)

    assert namespace_pid(tmp_path, target) == 17


def test_container_ids_are_valid_for_containerd_and_unique() -> None:
    first, second = new_container_id("ab/c d"), new_container_id("ab/c d")

    assert re.fullmatch(r"kdebug-abcd-[0-9a-f]{8}", first)
    assert first != second


async def test_every_socket_tried_is_named_with_why_it_failed(tmp_path: Path) -> None:
    (tmp_path / "run/containerd").mkdir(parents=True)
    (tmp_path / "run/containerd/containerd.sock").write_text("not a socket")
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(str(tmp_path / "custom.sock"))
    runtime = ContainerdRuntime(socket="/custom.sock", host_root=tmp_path)

    with pytest.raises(RuntimeUnavailable) as failure:
        await runtime.version()

    silent.close()
    message = str(failure.value)
    assert "/custom.sock did not answer" in message
    assert "/run/containerd/containerd.sock is not a socket" in message
    for path in KNOWN_SOCKETS[1:]:
        assert f"{path} does not exist" in message
    assert "dockershim" not in message


async def test_fifo_output_is_read_until_every_writer_is_gone(tmp_path: Path) -> None:
    pipes = FifoPipes(PurePosixPath("/fifo/x"), host_root=tmp_path)
    writer = os.open(tmp_path / "fifo/x/stdout", os.O_WRONLY)

    os.write(writer, b"hello")
    assert await asyncio.wait_for(pipes.read(), 5) == b"hello"
    os.close(writer)

    assert await asyncio.wait_for(pipes.read(), 5) == b""
    pipes.remove()
    assert not (tmp_path / "fifo/x").exists()


async def test_closing_the_fifos_ends_a_pending_read(tmp_path: Path) -> None:
    pipes = FifoPipes(PurePosixPath("/fifo/y"), host_root=tmp_path)
    writer = os.open(tmp_path / "fifo/y/stdout", os.O_WRONLY)
    pending = asyncio.create_task(pipes.read())
    await asyncio.sleep(0.05)

    pipes.close()

    assert await asyncio.wait_for(pending, 5) == b""
    os.close(writer)
    pipes.remove()


async def test_input_written_to_the_fifo_reaches_its_reader(tmp_path: Path) -> None:
    pipes = FifoPipes(PurePosixPath("/fifo/z"), host_root=tmp_path)
    reader = os.open(tmp_path / "fifo/z/stdin", os.O_RDONLY | os.O_NONBLOCK)

    await pipes.write(b"typed")

    assert os.read(reader, 100) == b"typed"
    os.close(reader)
    pipes.remove()
