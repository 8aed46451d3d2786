#!/usr/bin/env bash
# Offline checks of deploy/:
#   1. every Kubernetes manifest validates against the Kubernetes schemas
#      (PyPI's kubernetes-validate, strict: unknown fields are errors), and
#      kustomization.yaml lists files that exist;
#   2. docker-compose.yml parses, and every Vigil service runs a binary the
#      image ships;
#   3. the systemd units have their sections, start a shipped binary, and
#      use only directives systemd knows (systemd-analyze, when present).
# The tools live in a virtualenv cached under ~/.cache/vigil-ci/.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf -- '--> %s\n' "$*"; }

cache="${VIGIL_CI_CACHE:-$HOME/.cache/vigil-ci}"
venv="$cache/deploy-venv"
kv_version="1.37.0"
if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$kv_version"; then
  log "installing kubernetes-validate $kv_version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "kubernetes-validate==$kv_version" PyYAML
fi

log "Kubernetes manifests"
manifests=()
for f in deploy/kubernetes/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
"$venv/bin/kubernetes-validate" --strict --quiet "${manifests[@]}"

log "kustomization, compose file and systemd units"
"$venv/bin/python" - <<'PY'
import configparser
import pathlib
import sys

import yaml

errors = []
deploy = pathlib.Path("deploy")
binaries = {p.stem for p in pathlib.Path("services/server/src/bin").glob("*.rs")} | {"vigil"}

kdir = deploy / "kubernetes"
kustomization = yaml.safe_load((kdir / "kustomization.yaml").read_text())
listed = set(kustomization.get("resources", []))
for name in sorted(listed):
    if not (kdir / name).is_file():
        errors.append(f"kustomization.yaml lists {name}, which does not exist")
for path in sorted(kdir.glob("*.yaml")):
    if path.name not in listed | {"kustomization.yaml", "secret.example.yaml"}:
        errors.append(f"{path} is not listed in kustomization.yaml")

compose = yaml.safe_load((deploy / "docker-compose.yml").read_text())
for name, service in compose["services"].items():
    command = service.get("command")
    if service.get("image", "").startswith("vigil") and command:
        if command[0] not in binaries:
            errors.append(f"compose service {name} runs {command[0]}, which the image does not ship")
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0]
        if source.startswith("./") and not source.startswith("./restore"):
            if not (deploy / source).exists():
                errors.append(f"compose service {name} mounts {source}, which does not exist")

for unit in sorted((deploy / "systemd").glob("*.service")):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    try:
        parser.read_string(unit.read_text())
    except configparser.Error as e:
        errors.append(f"{unit}: {e}")
        continue
    for section in ("Unit", "Service", "Install"):
        if not parser.has_section(section):
            errors.append(f"{unit}: no [{section}] section")
    start = parser.get("Service", "ExecStart", fallback="").split()
    if not start or pathlib.PurePath(start[0]).name not in binaries:
        errors.append(f"{unit}: ExecStart does not start a Vigil binary")

for e in errors:
    print(f"deploy: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY

if command -v systemd-analyze >/dev/null 2>&1; then
  # Only unknown directives and syntax errors are checked: the binaries,
  # user and directories of the units exist on a server, not here.
  out="$(systemd-analyze verify --man=no deploy/systemd/*.service 2>&1 || true)"
  if grep -E "Unknown (key|section)|Invalid|Failed to parse" <<<"$out"; then
    echo "deploy: systemd-analyze found errors in deploy/systemd" >&2
    exit 1
  fi
fi

log "deploy files pass"
