#!/usr/bin/env bash
# Installs the foreign TDS client the sim/tds/foreign tests drive: Node's
# tedious (a TDS client written outside this project and outside Go), from
# npm, pinned by sim/tds/foreign/node/package-lock.json, into that directory.
# Node.js >= 18.17 comes from the machine's package registry if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=sim/tds/foreign/node

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>18||(a==18&&b>=17)?0:1)'
}

if ! node_ok; then
  echo "== installing Node.js and npm (Debian/Ubuntu packages)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq nodejs npm
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
echo "== foreign TDS client: node $(node --version), tedious $(node -p "require('$PWD/$dir/node_modules/tedious/package.json').version")"
