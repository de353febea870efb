#!/usr/bin/env bash
# Make the browser the end-to-end test (tests/test_browser.py) drives ready on this machine.
#
# Idempotent: when /usr/bin/chromium exists, nothing is installed. Otherwise, as root, Debian's
# chromium is installed with apt-get (`apt-get update` first only when apt knows no chromium
# candidate yet). Playwright drives this system chromium; it never downloads a browser of its own
# (do not run `playwright install`).
# Without root, it prints how to install chromium and exits 0: the browser tests then skip.
# Exits 0 when chromium is ready (its version is printed last) or cannot be installed by this user;
# 1 with one line saying what to do when an installation as root fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=/usr/bin/chromium  # the path tests/test_browser.py launches

say() { echo "browser.sh: $*" >&2; }
die() { echo "browser.sh: error: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# One run at a time (CI steps and tests may call this concurrently).
LOCK="${TMPDIR:-/tmp}/pitfalls-browser.lock"
{ [ -e "$LOCK" ] || : >"$LOCK"; } 2>/dev/null || true
if command -v flock >/dev/null 2>&1 && { exec 9<"$LOCK"; } 2>/dev/null; then
  flock -w 900 9 || die "the lock $LOCK must be free within 900 s. Got it held by another browser.sh run. Fix: wait for it to finish."
else
  say "running without the lock $LOCK (cannot open it)"
fi

apt_knows_chromium() {
  local candidate
  candidate="$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')"
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

install_chromium() {
  [ -x "$CHROMIUM" ] && return 0
  if ! is_root; then
    say "chromium is missing at $CHROMIUM and $(id -un) is not root, so it cannot be installed here."
    say "to run the browser tests: sudo apt-get install -y chromium (or: sudo bash scripts/browser.sh)."
    say "until then, tests/test_browser.py skips."
    exit 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get must be available to install chromium. Got none on this machine. Fix: install chromium at $CHROMIUM with this system's package manager."
  if ! apt_knows_chromium; then
    say "apt-get update (no chromium candidate known yet)"
    apt-get update -qq
  fi
  say "installing chromium with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || die "\`apt-get install chromium\` must succeed. Got the failure above. Fix: run apt-get update, then sudo apt-get install -y chromium."
  [ -x "$CHROMIUM" ] || die "chromium must be at $CHROMIUM after installing it. Got nothing there. Fix: check what dpkg -L chromium lists and link its binary there."
}

install_chromium
# Debian's /usr/bin/chromium wrapper script may print harmless shell warnings on stderr.
version="$("$CHROMIUM" --version 2>/dev/null | head -n 1 || true)"
[ -n "$version" ] || die "\`$CHROMIUM --version\` must print a version. Got nothing. Fix: reinstall it (sudo apt-get install --reinstall -y chromium)."
say "ready: $version"
echo "$version"
