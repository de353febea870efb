#!/usr/bin/env bash
# The whole test suite as `make test` (and so CI, .ci/run) runs it, in two phases:
#   1. every test not marked `serial`, on PYTEST_WORKERS pytest-xdist workers (--dist loadfile: a
#      file stays on one worker, tests/test_library.py is split by scaffold; tests/parallel.py);
#   2. the `serial` tests (they measure time or look at the whole host), alone in one process.
# PYTEST_WORKERS=0 runs the whole suite in one process, as before the split. Arguments go to both
# phases (e.g. `scripts/test.sh -x tests/test_bad_input.py`). Exit status: the first failing phase's.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
WORKERS="${PYTEST_WORKERS:-2}"
if ! [[ "$WORKERS" =~ ^[0-9]+$ ]]; then
  echo "PYTEST_WORKERS must be a whole number (0: one process). Got '$WORKERS' instead." >&2
  exit 2
fi
if [ "$WORKERS" = 0 ]; then
  exec "$PY" -m pytest --durations=40 "$@"
fi

# pytest exits 5 when a phase selects no test (e.g. arguments naming only serial files): not a failure
# unless both phases selected nothing.
# A phase still running after PYTEST_DUMP_SECONDS (default 3600: an hour) prints the busiest processes and every
# pytest process's thread stacks (SIGUSR1: tests/conftest.py), again every 10 minutes: a hung run
# then says where it hangs before CI's time limit ends it.
DUMP_SECONDS="${PYTEST_DUMP_SECONDS:-3600}"
STACKS_DIR=$(mktemp -d); export PYTEST_STACKS_DIR="$STACKS_DIR"
dog=""
dump_stacks() {
  local shell_pid="$1" started="$2" pid pids=""
  echo "== still running after $(( ($(date +%s) - started) / 60 )) min (load: $(cut -d' ' -f1-3 /proc/loadavg)); busiest processes:"
  ps -eo pid,ppid,pcpu,etimes,stat,args --sort=-pcpu | head -n 25 | cut -c1-220
  # Only pytest processes, i.e. those whose conftest registered the handler (it made $STACKS_DIR/PID.txt):
  # SIGUSR1's default action would end any other process (a test's own server or sandbox).
  for pid in $(pgrep -P "$shell_pid" -f pytest); do
    pids="$pids $pid $(pgrep -P "$pid" | tr '\n' ' ')"
  done
  pids=$(for pid in $pids; do [ -e "$STACKS_DIR/$pid.txt" ] && echo "$pid"; done)
  for pid in $pids; do kill -USR1 "$pid" 2>/dev/null; done
  sleep 2
  for pid in $pids; do
    echo "== thread stacks of pytest process $pid: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
    cat "$STACKS_DIR/$pid.txt" 2>/dev/null; : > "$STACKS_DIR/$pid.txt" 2>/dev/null
  done
}
watchdog() {  # naps of 5 s, and it ends when the script does: nothing of it holds CI's log pipe open
  local shell_pid="$1" started next nap=""
  trap 'kill $nap 2>/dev/null; exit 0' TERM
  started=$(date +%s); next=$(( started + DUMP_SECONDS ))
  while kill -0 "$shell_pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$next" ]; then dump_stacks "$shell_pid" "$started"; next=$(( $(date +%s) + 600 )); fi
    sleep 5 & nap=$!; wait "$nap"
  done
}
phase() {
  local name="$1" start=$SECONDS code; shift
  echo "== $name: pytest $*"
  watchdog $$ </dev/null & dog=$!
  "$PY" -m pytest "$@"; code=$?
  kill "$dog" 2>/dev/null; wait "$dog" 2>/dev/null; dog=""
  echo "== $name: exit $code after $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  return $code
}
# Interrupted (Ctrl-C, or CI's time limit): stop the watchdog and the image build, clean up, end here
# (phase 2 must not start).
stop() {
  kill $dog $image_pid 2>/dev/null
  rm -rf "$STACKS_DIR"
  exit "$1"
}
image_pid=""
trap 'stop 130' INT
trap 'stop 143' TERM
# The candidate image (a first build takes 10-15 minutes) builds in the background while phase 1
# trains models; the Docker tests, handed out later (tests/parallel.py), wait for it on the build
# lock (runner/live/containers.py) instead of building it first while the other worker idles.
# Only for the whole suite (no arguments): a run of a few files must not wait for a build.
if [ "$#" = 0 ]; then
  image_log=$(mktemp -d)
  PITFALLS_HOME="$image_log" "$PY" -c '
from pitfalls.live import containers as c
try:
    c.ensure_engine()
except c.ContainerError as exc:
    raise SystemExit(f"no Docker engine ({exc}): the docker tests will skip")
print("candidate image ready:", c.ensure_image())' > "$image_log/build.out" 2>&1 &
  image_pid=$!
fi

phase "phase 1 of 2 (parallel, $WORKERS workers)" -m "not serial" -n "$WORKERS" --dist loadfile \
  --no-loadscope-reorder --durations=40 "$@"; one=$?
phase "phase 2 of 2 (serial tests, one process)" -m serial -n 0 --durations=20 "$@"; two=$?
if [ -n "$image_pid" ]; then
  wait "$image_pid"; echo "== background image build (exit $?): $(tail -n 1 "$image_log/build.out")"
fi
rm -rf "$STACKS_DIR"
if [ "$one" = 5 ] && [ "$two" = 5 ]; then exit 5; fi
for code in "$one" "$two"; do
  if [ "$code" != 0 ] && [ "$code" != 5 ]; then exit "$code"; fi
done
exit 0
