#!/usr/bin/env bash
# Make JupyterHub's proxy ready for the real-hub tests (tests/test_hub_e2e.py, `pytest -m hub`):
# configurable-http-proxy from the npm registry, pinned, into $VENV/hub-node (project-local, removed
# by `make clean`, never a global npm install). jupyterhub and dockerspawner come with the `hub`
# extra of pyproject.toml (scripts/setup.sh installs `.[dev]`, which includes it).
#
# Idempotent and offline-tolerant: when the pinned version is already there, nothing is fetched.
# Without node/npm it prints how to get them and exits 0: the hub tests then skip, naming why.
# Exits 1 with one line saying what to do when npm is present but the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CHP_VERSION=5.3.0  # tests/test_hub_e2e.py and deploy/jupyterhub/README.md name this folder
PREFIX="${VENV:-.venv}/hub-node"
BIN="$PREFIX/node_modules/.bin/configurable-http-proxy"

say() { echo "hub.sh: $*" >&2; }
die() { echo "hub.sh: error: $*" >&2; exit 1; }

installed_version() {
  [ -x "$BIN" ] || return 1
  node -e "console.log(require(process.argv[1]).version)" \
    "$(cd "$PREFIX" && pwd)/node_modules/configurable-http-proxy/package.json" 2>/dev/null
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "node and npm must be on PATH to install configurable-http-proxy. Got none here."
  say "to run the hub tests: apt-get install -y nodejs npm (node >= 18), then bash scripts/hub.sh."
  exit 0
fi
if [ "$(installed_version || true)" = "$CHP_VERSION" ]; then
  say "ready: configurable-http-proxy $CHP_VERSION in $PREFIX"
  exit 0
fi
mkdir -p "$PREFIX"
say "installing configurable-http-proxy@$CHP_VERSION into $PREFIX (npm)"
npm install --prefix "$PREFIX" --no-audit --no-fund --no-save --loglevel=error \
  "configurable-http-proxy@$CHP_VERSION" >&2 \
  || die "\`npm install configurable-http-proxy@$CHP_VERSION\` must succeed. Got the failure above. Fix: check that the npm registry is reachable (npm ping), then run bash scripts/hub.sh again."
[ "$(installed_version || true)" = "$CHP_VERSION" ] \
  || die "configurable-http-proxy $CHP_VERSION must be at $BIN after installing it. Got '$(installed_version || echo nothing)'. Fix: rm -rf $PREFIX and run bash scripts/hub.sh again."
say "ready: configurable-http-proxy $CHP_VERSION in $PREFIX"
