#!/usr/bin/env bash
# Set up everything pitfalls needs on a fresh Debian/Ubuntu machine (also what CI runs):
# the sandbox's system tools, then a virtualenv with the package and its test dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else
    echo "pitfalls needs: ${need_apt[*]}. Install with: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# torch is pinned to the CPU build (torch==2.13.*) in pyproject.toml; where the registry only
# offers CUDA builds, point pip at the CPU index: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
"$VENV/bin/pip" install --quiet --disable-pip-version-check -e ".[dev]"
echo "pitfalls is set up in $VENV ($("$VENV/bin/pitfalls" --version))."
