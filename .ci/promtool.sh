# Sourced by .ci/test.sh: puts `promtool` (from Debian's prometheus package)
# on the PATH for the `promtool check metrics` test of a real scrape
# (services/server/tests/suite/admin_port.rs), and makes that test fail
# rather than skip without it. The package is large and pulls a web UI's
# JavaScript, so only its promtool binary is extracted, then cached under
# ~/.cache/vigil-ci/.
ensure_promtool() {
  local cache="${VIGIL_CI_CACHE:-$HOME/.cache/vigil-ci}/promtool"
  if [ ! -x "$cache/promtool" ]; then
    local work
    work=$(mktemp -d)
    (cd "$work" && apt-get download prometheus >/dev/null)
    dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb |
      tar -x -C "$work" ./usr/bin/promtool
    mkdir -p "$cache"
    install -m 0755 "$work/usr/bin/promtool" "$cache/promtool"
    rm -rf "$work"
  fi
  export PATH="$cache:$PATH"
  export VIGIL_REQUIRE_PROMTOOL=1
}
