#!/usr/bin/env bash
# Build the single-user image of deploy/jupyterhub/: Dockerfile.singleuser FROM the candidate image of
# this checkout (built first if missing), with the jupyterhub version of the venv that runs the hub.
# Prints the image's tag last (what jupyterhub_config.py uses by default; PITFALLS_HUB_IMAGE overrides).
#
#   bash deploy/jupyterhub/build-singleuser.sh [PYTHON]     # PYTHON: the hub's venv [.venv/bin/python]
#
# Idempotent: every step is in Docker's build cache after the first build (about 1 minute, pip from
# PyPI inside `docker build --network host`), so a second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${1:-${VENV:-.venv}/bin/python}"
candidate="$("$PY" -c 'from pitfalls.live.containers import ensure_image; print(ensure_image())')"
version="$("$PY" -c 'import jupyterhub; print(jupyterhub.__version__)')"
tag="${candidate/pitfalls-candidate:/pitfalls-candidate-singleuser:}"
docker build --quiet --network host -f deploy/jupyterhub/Dockerfile.singleuser \
  --build-arg CANDIDATE_IMAGE="$candidate" --build-arg JUPYTERHUB_VERSION="$version" \
  --label "org.jupyter.hub.version=$version" -t "$tag" deploy/jupyterhub >&2
echo "$tag"
