"""Regenerates the protobuf and gRPC code of the Vigil Python SDK.

Usage (from anywhere)::

    python clients/python/tools/generate.py            # into clients/python/src
    python clients/python/tools/generate.py --out DIR  # into DIR, for a freshness check

The generated modules mirror the proto packages: ``vigil/catalog/v1/*.proto``
becomes ``vigil.catalog.v1.*_pb2`` (messages), ``*_pb2_grpc`` (stubs) and
``.pyi`` stubs for both, written by mypy-protobuf so that the proto comments
show up as docstrings. The hand-written convenience layer lives in the same
``vigil`` package under names that no proto package uses.

The code generators are pinned in ``pyproject.toml`` (the ``codegen`` extra);
this script refuses to run with other versions, so that two machines produce
byte-identical output.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

PYTHON_ROOT = Path(__file__).resolve().parent.parent
REPO_ROOT = PYTHON_ROOT.parent.parent
PROTO_ROOT = REPO_ROOT / "proto"
DEFAULT_OUT = PYTHON_ROOT / "src"


def generated_packages() -> list[str]:
    """The proto areas under ``proto/vigil`` (catalog, scheduler, ...), each a generated package.

    The hand-written modules of the SDK must never use these names.
    """
    return sorted(p.name for p in (PROTO_ROOT / "vigil").iterdir() if p.is_dir())


INIT_TEXT = '"""Generated from the Vigil protos by tools/generate.py. Do not edit."""\n'


def pinned_generators() -> dict[str, str]:
    """Returns {distribution: version} of the ``codegen`` extra in pyproject.toml."""
    with open(PYTHON_ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    pins: dict[str, str] = {}
    for requirement in project["optional-dependencies"]["codegen"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+)", requirement.strip())
        if match is None:
            raise SystemExit(f"pyproject.toml: codegen requirement {requirement!r} must be pinned with ==")
        pins[match.group(1)] = match.group(2)
    return pins


def check_generator_versions() -> None:
    for dist, wanted in pinned_generators().items():
        try:
            found = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            raise SystemExit(
                f"{dist}=={wanted} is not installed: pip install '{PYTHON_ROOT}[codegen]'"
            ) from None
        if found != wanted:
            raise SystemExit(
                f"{dist} {found} is installed but the generated code is pinned to {wanted}: "
                f"pip install '{PYTHON_ROOT}[codegen]'"
            )


def plugin(name: str) -> str:
    """Finds a protoc plugin next to the running interpreter, then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"protoc plugin {name} not found; install the codegen extra")
    return found


def proto_files() -> list[str]:
    files = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in (PROTO_ROOT / "vigil").rglob("*.proto"))
    if not files:
        raise SystemExit(f"no .proto files under {PROTO_ROOT / 'vigil'}")
    return files


def generate(out: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    check_generator_versions()
    packages = generated_packages()
    vigil_out = out / "vigil"
    for package in packages:
        if (DEFAULT_OUT / "vigil" / f"{package}.py").exists():
            raise SystemExit(f"src/vigil/{package}.py would shadow the generated package vigil.{package}; rename it")
        shutil.rmtree(vigil_out / package, ignore_errors=True)
    vigil_out.mkdir(parents=True, exist_ok=True)

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *proto_files(),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")

    for package in packages:
        root = vigil_out / package
        if not root.is_dir():
            raise SystemExit(f"expected generated package {root} is missing")
        for directory in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
            (directory / "__init__.py").write_text(INIT_TEXT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="root to write the vigil package into")
    options = parser.parse_args()
    generate(options.out.resolve())
    print(f"generated {', '.join('vigil.' + p for p in generated_packages())} into {options.out}")


if __name__ == "__main__":
    main()
