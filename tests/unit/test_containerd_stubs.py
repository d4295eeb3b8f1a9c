"""The committed containerd gRPC stubs are exactly what the generator makes."""

from pathlib import Path

from kdebug_agent.runtimes.containerd_api import generate


def test_the_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    committed_dir = generate.PACKAGE_DIR

    assert fresh, "the generator wrote no files"
    committed = sorted(committed_dir.glob("*_pb2*.py*"))
    assert [path.name for path in committed] == [path.name for path in fresh]
    for path in fresh:
        assert (committed_dir / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} is stale: run "
            "`python -m kdebug_agent.runtimes.containerd_api.generate` in agent/"
        )


def test_every_proto_file_has_its_stubs() -> None:
    for proto in generate.proto_files():
        stem = proto.stem
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            assert (generate.PACKAGE_DIR / f"{stem}{suffix}").is_file()
