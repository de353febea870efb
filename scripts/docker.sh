#!/usr/bin/env bash
# Make a Docker engine and the candidate image's base ready on this machine (also what CI runs).
#
# Idempotent; each step is skipped when already done:
#   1. if no engine answers: install Debian's docker.io (and debootstrap) as root, then start dockerd
#      with overlay2, --iptables=false and --bridge=none (containers use --network none or host),
#      logging to $PITFALLS_DOCKERD_LOG, and wait (bounded) until `docker info` answers;
#   2. copy the CPU torch wheel pip finds on this machine (PIP_FIND_LINKS, pip's find-links, /opt/wheels)
#      into docker/wheels/ (git-ignored), so the image build needs no multi-GB download; without one,
#      the Dockerfile installs torch from the PyTorch CPU index instead;
#   3. if the image the Dockerfile's FROM names is missing, build it: debootstrap --variant=minbase
#      bookworm, the host's CA bundle copied in (pip inside builds then trusts the host's proxy),
#      `docker import`. Without root, it falls back to pulling debian:bookworm-slim from a registry.
# Exits 0 when the engine and the base image are ready; otherwise 1 with one line saying what to do.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE="${PITFALLS_BASE_IMAGE:-pitfalls-base:bookworm}"
MIRROR="${PITFALLS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${PITFALLS_DOCKERD_LOG:-/var/log/pitfalls-dockerd.log}"
WAIT_SECONDS="${PITFALLS_DOCKERD_WAIT:-60}"
TORCH_WHEEL_GLOB="torch-2.13.*+cpu-cp311-cp311-*linux*_$(uname -m).whl"
WHEEL_DIR="docker/wheels"

say() { echo "docker.sh: $*" >&2; }
die() { echo "docker.sh: error: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
engine_answers() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }

# One run at a time (tests and other tools may call this concurrently).
LOCK="${TMPDIR:-/tmp}/pitfalls-docker.lock"
{ [ -e "$LOCK" ] || : >"$LOCK"; } 2>/dev/null || true
if command -v flock >/dev/null 2>&1 && { exec 9<"$LOCK"; } 2>/dev/null; then
  flock -w 900 9 || die "the lock $LOCK must be free within 900 s. Got it held by another docker.sh run. Fix: wait for it to finish."
else
  say "running without the lock $LOCK (cannot open it)"
fi

apt_install() {
  is_root || die "the packages $* must be installed. Got a non-root user ($(id -un)) who cannot install them. Fix: sudo apt-get install -y $*, or run sudo bash scripts/docker.sh once."
  command -v apt-get >/dev/null 2>&1 || die "apt-get must be available to install $*. Got none on this machine. Fix: install $* with this system's package manager."
  say "installing $* with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

start_engine() {
  engine_answers && return 0
  is_root || die "a Docker engine must answer \`docker info\`. Got no answer, and $(id -un) is not root so dockerd cannot be started here. Fix: start Docker (sudo systemctl start docker, or sudo bash scripts/docker.sh) and make sure your user may use it (the docker group)."
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v docker >/dev/null 2>&1 || need+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  if ((${#need[@]})); then apt_install $(printf '%s\n' "${need[@]}" | sort -u); fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd (overlay2, no iptables, no bridge); log: $DOCKERD_LOG"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    setsid nohup dockerd --storage-driver=overlay2 --iptables=false --bridge=none \
      >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  else
    say "dockerd is running but does not answer yet; waiting"
  fi
  local waited=0
  until engine_answers; do
    if ((waited >= WAIT_SECONDS)); then
      die "dockerd must answer \`docker info\` within ${WAIT_SECONDS} s. Got no answer. Fix: read the end of $DOCKERD_LOG ($(tail -n 1 "$DOCKERD_LOG" 2>/dev/null | cut -c1-200))."
    fi
    sleep 1; waited=$((waited + 1))
  done
  say "engine ready after ${waited} s"
}

find_links_dirs() {
  local raw="${PIP_FIND_LINKS:-}"
  local pip
  for pip in pip3 pip; do
    if command -v "$pip" >/dev/null 2>&1; then
      raw="$raw $("$pip" config get global.find-links 2>/dev/null || true)"
      raw="$raw $("$pip" config get install.find-links 2>/dev/null || true)"
      break
    fi
  done
  raw="$raw /opt/wheels"
  local d
  for d in $raw; do
    d="${d#file://}"
    [ -d "$d" ] && echo "$d"
  done | awk '!seen[$0]++'
}

stage_torch_wheel() {
  mkdir -p "$WHEEL_DIR"
  local dir wheel=""
  while read -r dir; do
    wheel="$(ls -1 "$dir"/$TORCH_WHEEL_GLOB 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$wheel" ] && break
  done < <(find_links_dirs)
  if [ -z "$wheel" ]; then
    say "no local torch CPU wheel ($TORCH_WHEEL_GLOB) in pip's find-links; the build will use the PyTorch CPU index"
    return 0
  fi
  local target="$WHEEL_DIR/$(basename "$wheel")"
  if [ -f "$target" ] && [ "$(stat -c %s "$target")" = "$(stat -c %s "$wheel")" ]; then
    return 0
  fi
  find "$WHEEL_DIR" -maxdepth 1 -name 'torch-*.whl' -delete
  say "copying $wheel into $WHEEL_DIR/"
  cp "$wheel" "$target.part" && mv "$target.part" "$target"
}

make_base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  if ! is_root; then
    say "base image $BASE_IMAGE is missing; trying to pull debian:bookworm-slim instead (debootstrap needs root)"
    if docker pull -q debian:bookworm-slim >/dev/null 2>&1 && docker tag debian:bookworm-slim "$BASE_IMAGE"; then
      return 0
    fi
    die "the base image $BASE_IMAGE must exist. Got none, no registry answered, and $(id -un) is not root so debootstrap cannot make it. Fix: sudo bash scripts/docker.sh once."
  fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  local rootfs
  rootfs="$(mktemp -d /var/tmp/pitfalls-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  say "debootstrap --variant=minbase bookworm (about 30 s)"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
    || { tail -n 5 "$rootfs.log" >&2; die "debootstrap must succeed. Got the failure above. Fix: check that $MIRROR is reachable."; }
  rm -f "$rootfs.log"
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  # The host's CA bundle, and its local CAs where Debian's update-ca-certificates keeps them when
  # a build installs ca-certificates (which rewrites the bundle).
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/tmp/*
  say "importing the rootfs as $BASE_IMAGE"
  tar --numeric-owner -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null \
    || die "\`docker import\` must create $BASE_IMAGE. Got a failure. Fix: read $DOCKERD_LOG."
  rm -rf "$rootfs"; trap - EXIT
}

start_engine
stage_torch_wheel
make_base_image
say "engine and base image $BASE_IMAGE are ready"
