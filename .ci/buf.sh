#!/usr/bin/env bash
# API stability checks for the protos under proto/:
#   1. buf lint (STANDARD + COMMENTS, see proto/buf.yaml);
#   2. buf breaking (FILE rules) against the last released API, the image
#      proto/baseline/vigil-v1.binpb (docs/API-STABILITY.md says how to cut it);
#   3. a self-test: a copy of the protos with a breaking change must fail the
#      check, and a copy with an added field must pass it, so the check above
#      cannot pass by accident.
# Needs only Node/npm: buf comes from npm at a pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION="${BUF_VERSION:-1.75.0}"
BASELINE=proto/baseline/vigil-v1.binpb

# Installed once per version into a cache kept between runs on this machine.
buf_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vigil-ci/buf-${BUF_VERSION}"
if [ ! -x "$buf_dir/node_modules/.bin/buf" ]; then
  npm install --silent --no-audit --no-fund --prefix "$buf_dir" "@bufbuild/buf@${BUF_VERSION}" >/dev/null
fi
buf() { "$buf_dir/node_modules/.bin/buf" "$@"; }
log() { printf -- '--> %s\n' "$*"; }

log "buf ${BUF_VERSION}: lint"
buf lint proto

log "breaking changes against ${BASELINE}"
test -s "$BASELINE" || { echo "missing baseline image $BASELINE" >&2; exit 1; }
buf breaking proto --against "$BASELINE"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

log "self-test: a changed field type must be reported as breaking"
cp -r proto "$scratch/changed-type"
sed -i 's/^  string name = 1 \[/  int64 name = 1 [/' "$scratch/changed-type/vigil/catalog/v1/configuration.proto"
if cmp -s proto/vigil/catalog/v1/configuration.proto "$scratch/changed-type/vigil/catalog/v1/configuration.proto"; then
  echo "self-test could not make its change: BackupConfiguration.name is no longer 'string name = 1 [...];'" >&2
  exit 1
fi
if buf breaking "$scratch/changed-type" --against "$BASELINE" >"$scratch/out.txt" 2>&1; then
  echo "buf breaking passed a changed field type; the check is not working" >&2
  exit 1
fi
grep -q 'changed type from "string" to "int64"' "$scratch/out.txt" || { cat "$scratch/out.txt" >&2; echo "unexpected buf breaking output" >&2; exit 1; }

log "self-test: a deleted field must be reported as breaking"
cp -r proto "$scratch/deleted-field"
sed -i '/^  string description = 9;$/d' "$scratch/deleted-field/vigil/catalog/v1/configuration.proto"
if buf breaking "$scratch/deleted-field" --against "$BASELINE" >"$scratch/out.txt" 2>&1; then
  echo "buf breaking passed a deleted field; the check is not working" >&2
  exit 1
fi
grep -q 'Previously present field "9" with name "description"' "$scratch/out.txt" || { cat "$scratch/out.txt" >&2; echo "unexpected buf breaking output" >&2; exit 1; }

log "self-test: an added field must not be reported as breaking"
cp -r proto "$scratch/added-field"
sed -i 's|^  string etag = 12;$|  string etag = 12;\n  // Added by the buf self-test.\n  string self_test_note = 9999;|' "$scratch/added-field/vigil/catalog/v1/configuration.proto"
grep -q 'self_test_note = 9999' "$scratch/added-field/vigil/catalog/v1/configuration.proto" || { echo "self-test could not add a field" >&2; exit 1; }
buf breaking "$scratch/added-field" --against "$BASELINE"

log "API stability checks passed"
