#!/usr/bin/env bash
# Regenerates the protobuf and gRPC modules of the Python SDK from proto/vigil.
#
#   clients/python/generate.sh              # rewrite src/vigil/{catalog,executor,scheduler,status}
#   clients/python/generate.sh --out DIR    # write into DIR instead (used by .ci/python.sh)
#
# Uses the active virtualenv when there is one, else clients/python/.venv,
# and installs the pinned generators (the "codegen" extra of pyproject.toml).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ -n "${VIRTUAL_ENV:-}" ]; then
  python="$VIRTUAL_ENV/bin/python"
else
  if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv "$here/.venv"
  fi
  python="$here/.venv/bin/python"
fi

# Only the generators: the package itself need not be installed to generate it.
"$python" -m pip install --quiet --disable-pip-version-check \
  $("$python" - "$here/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(" ".join(tomllib.load(f)["project"]["optional-dependencies"]["codegen"]))
PY
)
exec "$python" "$here/tools/generate.py" "$@"
