"""Regenerate the committed gRPC stubs from the `.proto` files beside this module.

Run `python -m kdebug_agent.runtimes.containerd_api.generate` from the `agent`
directory's environment after changing a `.proto` file. The stubs are written
with import paths rooted at the `agent` directory, so that generated modules
import each other as `kdebug_agent.runtimes.containerd_api.*_pb2`.
"""

import argparse
import importlib.resources
import sys
from pathlib import Path

from grpc_tools import protoc

PACKAGE_DIR = Path(__file__).resolve().parent
AGENT_ROOT = PACKAGE_DIR.parents[2]
PACKAGE_PATH = PACKAGE_DIR.relative_to(AGENT_ROOT)


def proto_files() -> list[Path]:
    """Return the `.proto` files, relative to the agent root, in a stable order."""
    return sorted(path.relative_to(AGENT_ROOT) for path in PACKAGE_DIR.glob("*.proto"))


def generate(out_root: Path) -> list[Path]:
    """Generate `_pb2.py`, `_pb2.pyi` and `_pb2_grpc.py` files under `out_root`.

    Args:
        out_root: the directory standing for the agent root; the files land in
            `out_root/kdebug_agent/runtimes/containerd_api/`.

    Returns:
        The generated files.

    Raises:
        RuntimeError: protoc reported an error (it prints it on stderr).
    """
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    (out_root / PACKAGE_PATH).mkdir(parents=True, exist_ok=True)
    arguments = [
        "grpc_tools.protoc",
        f"--proto_path={AGENT_ROOT}",
        f"--proto_path={well_known}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(path) for path in proto_files()),
    ]
    if protoc.main(arguments) != 0:
        raise RuntimeError("protoc failed to compile the containerd API protos.")
    return sorted((out_root / PACKAGE_PATH).glob("*_pb2*.py*"))


def main() -> None:
    """Regenerate the stubs in place, or into `--out` if given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=AGENT_ROOT)
    arguments = parser.parse_args()
    for path in generate(arguments.out):
        print(path, file=sys.stdout)


if __name__ == "__main__":
    main()
