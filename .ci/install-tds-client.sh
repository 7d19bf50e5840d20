#!/usr/bin/env bash
# Installs the foreign TDS clients the sim/tds/foreign tests drive, both
# written outside this project and outside Go:
#  - Node's tedious (JavaScript), from npm, pinned by
#    sim/tds/foreign/node/package-lock.json, into that directory; Node.js
#    >= 18.17 comes from the machine's package registry if missing;
#  - FreeTDS's tsql and freebcp (C), from the Debian/Ubuntu package
#    freetds-bin if either is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=sim/tds/foreign/node

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
# apt_install installs Debian/Ubuntu packages without ever asking: CI has no
# terminal and no stdin. DEBIAN_FRONTEND goes through env because sudo drops
# the caller's environment. The package lists are updated once per run.
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a==18&&b>=17)?0:1)'
}

if ! node_ok; then
  echo "== installing Node.js and npm (Debian/Ubuntu packages)"
  apt_install nodejs npm
  node_ok || { echo "Node.js >= 18.17 is needed for tedious; found $(node --version 2>/dev/null || echo none)" >&2; exit 1; }
fi

# npm ci reinstalls exactly the locked versions; skip it when the lock file
# has not changed since the last install.
stamp="$dir/node_modules/.idpool-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f "$dir/node_modules/tedious/package.json" ]; then
  echo "== installing tedious (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
if ! command -v tsql >/dev/null 2>&1 || ! command -v freebcp >/dev/null 2>&1; then
  echo "== installing FreeTDS (tsql, freebcp; Debian/Ubuntu package freetds-bin)"
  apt_install freetds-bin
  for tool in tsql freebcp; do
    command -v "$tool" >/dev/null 2>&1 || { echo "freetds-bin installed no $tool on PATH" >&2; exit 1; }
  done
fi

echo "== foreign TDS client: node $(node --version), tedious $(node -p "require('$PWD/$dir/node_modules/tedious/package.json').version")"
echo "== foreign TDS client: FreeTDS $(tsql -C 2>/dev/null | sed -n 's/^ *Version: *//p')"
