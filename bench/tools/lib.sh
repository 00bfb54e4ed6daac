# Shared helpers for bench/latency.sh, bench/idle.sh and bench/soak.sh.
# RGATE_BIN=path uses that rgate binary instead of building ./cmd/rgate from
# the working tree; BACKEND_BIN=path likewise for the bench backend.
# Source it; it sets REPO_DIR, WORK (a temporary directory removed at exit
# unless KEEP=1) and stops every process started with start_bg at exit, by
# PID, including on failure or Ctrl-C.

export PATH="/usr/local/go/bin:$PATH"
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rgate-perf.XXXXXX")
declare -a STARTED_PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

cleanup() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ "${KEEP:-0}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build_all: rgate, the bench tools and the backend into $WORK.
build_all() {
  command -v go >/dev/null || die "go not found (expected in /usr/local/go/bin)"
  log "building rgate and the bench tools into $WORK"
  if [[ -n "${RGATE_BIN:-}" ]]; then
    cp "$RGATE_BIN" "$WORK/rgate" || die "RGATE_BIN=$RGATE_BIN: cannot copy"
    log "rgate: using RGATE_BIN=$RGATE_BIN"
  else
    (cd "$REPO_DIR" && CGO_ENABLED=0 go build -o "$WORK/rgate" ./cmd/rgate) || die "building ./cmd/rgate failed"
    log "rgate: built from the working tree, git $(cd "$REPO_DIR" && git describe --always --dirty 2>/dev/null || echo '?')"
  fi
  local t
  for t in loadgen idleconns soak; do
    (cd "$REPO_DIR" && go build -o "$WORK/$t" "./bench/tools/$t") || die "building ./bench/tools/$t failed"
  done
  if [[ -n "${BACKEND_BIN:-}" ]]; then
    cp "$BACKEND_BIN" "$WORK/backend"
  elif [[ -f "$REPO_DIR/bench/backend/main.go" ]]; then
    (cd "$REPO_DIR" && go build -o "$WORK/backend" ./bench/backend) || die "building ./bench/backend failed"
  elif [[ -x /work/shared/bench/.build/backend ]]; then
    cp /work/shared/bench/.build/backend "$WORK/backend"
  else
    die "no bench backend: set BACKEND_BIN"
  fi
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_bg NAME CPUS CMD...: run CMD in the background (pinned to CPUS with
# taskset when CPUS is not "-"), stdout+stderr to $WORK/NAME.log; sets PID.
start_bg() {
  local name=$1 cpus=$2; shift 2
  if [[ "$cpus" != "-" ]] && command -v taskset >/dev/null; then
    taskset -c "$cpus" "$@" >"$WORK/$name.log" 2>&1 &
  else
    "$@" >"$WORK/$name.log" 2>&1 &
  fi
  PID=$!
  STARTED_PIDS+=("$PID")
}

# wait_http URL [SECONDS]: until GET URL answers 200.
wait_http() {
  local url=$1 secs=${2:-15} i
  for ((i = 0; i < secs * 10; i++)); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# cpu_busy_pct SECONDS: % of one core the whole machine used over SECONDS
# (from /proc/stat), to spot other load before measuring.
cpu_busy_pct() {
  local a b
  a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  sleep "$1"
  b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" -v s="$1" 'BEGIN{split(a,x," ");split(b,y," ");
    hz=100; printf "%.0f", 100*(y[1]-x[1])/(hz*s)}'
}

# quiet_check: warn when other processes are busy (numbers would be noisy).
quiet_check() {
  local busy
  busy=$(cpu_busy_pct 2)
  if ((busy > 15)); then
    log "WARNING: the machine is busy before the run (${busy}% of one core used by other processes):"
    ps -eo pid,pcpu,comm --sort=-pcpu | sed -n 2,6p >&2
    log "WARNING: results will be noisy; rerun when it is quiet"
  else
    log "machine quiet before the run (${busy}% of one core busy)"
  fi
}

# static_config FILE BACKEND_PORT [EXTRA...]: a config with route "/" to a
# static backend at 127.0.0.1:BACKEND_PORT.
static_config() {
  cat >"$1" <<EOF
routes:
  - path_prefix: /
    backend: bk
backends:
  - name: bk
    urls: [http://127.0.0.1:$2]
EOF
}
