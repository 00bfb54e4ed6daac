#!/usr/bin/env bash
# rgate's reverse-proxy benchmark: rgate (plain, and with policies on) vs the
# backend alone, nginx, haproxy, caddy (those installed), traefik (if
# TRAEFIK_BIN points at a binary), a stdlib httputil.ReverseProxy and any
# number of candidates, measured side by side in one run with wrk, reported as
# ratios. Loopback only. See bench/README.md and --help.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
ORIG_ARGS=("$0" "$@")
export PATH="/usr/local/go/bin:$PATH"

# ---------------------------------------------------------------- defaults
MODE=full
DURATION=""      # seconds per measured wrk run
WARMUP=""        # seconds of discarded wrk run before each measurement
REPS=""          # measurements per (target, size)
SIZES=""         # response body sizes, comma separated
THREADS=1
CONNS=64
LAYOUT=split     # split | iso | none   (see README "CPU layout")
ORDER=interleaved  # interleaved | blocked
BACKEND_PORT=18080
BACKEND_DELAY=0s
WITH_BASELINE=1
WITH_RGATE=1
NICE=0           # nice value for wrk, backend and proxies (negative = favour them over other tenants)
NOISE_MAX=20     # a measurement with more foreign CPU than this (% of one core) is re-run once
STEAL_MAX=5      # ... or with more CPU stolen by the hypervisor than this (% of one core)
TARGETS_FILTER=""
KEEP_RUNDIR=0
OUT_JSON="$BENCH_DIR/results/latest.json"
TRAEFIK_BIN=${TRAEFIK_BIN:-}
declare -a CAND_NAMES=() CAND_CMDS=() CAND_PORTS=()
PEND_CMD="" PEND_NAME=""

PORT_NGINX=18081 PORT_HAPROXY=18082 PORT_CADDY=18083 PORT_TRAEFIK=18084
PORT_RGATE=18085 PORT_RGATE_POLICIES=18086 PORT_BASELINE=18090
PORT_RGATE_RL_LOCAL=18087 PORT_RGATE_RL_CLUSTER=18088 REDIS_PORT=18089
# Opt-in rgate configs, run only when --targets names them: a route with API-key
# or JWT auth, tracing at sample_ratio 0 and 1 (to bench/otlp-sink on
# $OTLP_SINK_PORT), and cluster: without a cluster-scoped route.
OPTIN_TARGETS=(rgate-auth-key rgate-auth-jwt rgate-tracing0 rgate-tracing1 rgate-cluster-idle)
declare -A OPTIN_PORT=([rgate-auth-key]=18091 [rgate-auth-jwt]=18092 [rgate-tracing0]=18093
  [rgate-tracing1]=18094 [rgate-cluster-idle]=18096)
OTLP_SINK_PORT=18095

usage() {
  cat <<EOF
Usage: bench/run.sh [options]

Builds rgate from this repository and measures it side by side with the backend
alone, the peer proxies that are installed and a plain Go reverse proxy, on
127.0.0.1 only. Prints one table row per (size, target) and an "rgate vs peers"
summary; writes everything to bench/results/latest.json. See bench/README.md.

Targets (each proxies 127.0.0.1:PORT -> backend 127.0.0.1:$BACKEND_PORT):
  direct $BACKEND_PORT (backend alone), nginx $PORT_NGINX, haproxy $PORT_HAPROXY, caddy $PORT_CADDY,
  traefik $PORT_TRAEFIK, rgate $PORT_RGATE, rgate-policies $PORT_RGATE_POLICIES, baseline-go $PORT_BASELINE,
  rgate-rl-local $PORT_RGATE_RL_LOCAL, rgate-rl-cluster $PORT_RGATE_RL_CLUSTER (with a redis-server on $REDIS_PORT).
  Only when named in --targets: rgate-auth-key 18091, rgate-auth-jwt 18092 (wrk sends the
  credential), rgate-tracing0 18093, rgate-tracing1 18094 (with bench/otlp-sink on $OTLP_SINK_PORT),
  rgate-cluster-idle 18096 (cluster: with no cluster-scoped route; with the redis-server).
  A peer proxy that is not installed is skipped (and named at the end); so is
  rgate-rl-cluster without redis-server.

Run length:
  --quick                   short run: 1 KiB only, 2 reps x 3 s
  --sizes 1024,65536        body sizes in bytes           (full: 1024,65536; quick: 1024)
  --duration S              seconds per measurement       (full: 5; quick: 3)
  --warmup S                warm-up seconds before each   (full: 2; quick: 1)
  --reps N                  measurements per target/size  (full: 3; quick: 2)
Targets:
  --targets a,b,c           only these (direct,nginx,haproxy,caddy,traefik,rgate,
                            rgate-policies,rgate-rl-local,rgate-rl-cluster,baseline-go,
                            <candidate names>)
  --no-rgate                do not build or run rgate, rgate-policies and rgate-rl-*
  --no-baseline             do not include the stdlib baseline-go proxy
  --candidate 'CMD'         start CMD (via bash -c, pinned like the proxies) as a target
  --candidate-port N        port CMD listens on (127.0.0.1:N); required after each --candidate
  --candidate-name NAME     label for the preceding --candidate (default candidate1, ...)
Load and machine:
  --threads N --connections N   wrk -t / -c               (default 1 / 64)
  --layout split|iso|none   CPU pinning (default split: wrk cpu0, proxy+backend cpu1)
  --order interleaved|blocked   A B C, C B A, ... (default) or A A A B B B
  --backend-delay D         artificial backend delay, Go duration (default 0s)
  --nice N                  run wrk, backend and proxies with this nice value (default 0)
  --noise-max P             re-run a measurement once if other processes used more than P% of a
                            core during it (default 20; 0 disables re-runs)
  --steal-max P             ... or if the hypervisor stole more than P% of a core from this
                            machine during it (default 5)
Output:
  --out FILE                JSON output (default bench/results/latest.json, plus a
                            timestamped copy bench/results/run-*.json)
  --keep                    keep the temporary run directory (configs, logs, rgate access log)
Setup:
  --install-deps            apt-get update, then apt-get install nginx haproxy caddy wrk curl; exit
  -h, --help                this text

Environment: TRAEFIK_BIN=/path/to/traefik adds traefik as a peer (skipped if unset/absent).
Needs go (/usr/local/go/bin is put on PATH), wrk, taskset, curl, python3, ss, and 2 CPUs
for the default layout.
Exit codes: 0 ok; 2 usage/setup failure (missing tool, build failure, port busy, a server
not answering, wrk failing); 3 the run completed but some requests failed (numbers suspect).
EOF
}

die() { echo "run.sh: SETUP FAILURE: $*" >&2; exit 2; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) MODE=quick ;;
    --candidate) [[ $# -ge 2 ]] || die "--candidate needs a command"
      [[ -z "$PEND_CMD" ]] || die "--candidate without --candidate-port"
      PEND_CMD=$2; shift ;;
    --candidate-name) [[ $# -ge 2 ]] || die "--candidate-name needs a value"; PEND_NAME=$2; shift
      if [[ -z "$PEND_CMD" && ${#CAND_NAMES[@]} -gt 0 ]]; then CAND_NAMES[-1]=$PEND_NAME; PEND_NAME=""; fi ;;
    --candidate-port) [[ $# -ge 2 ]] || die "--candidate-port needs a value"
      [[ -n "$PEND_CMD" ]] || die "--candidate-port without --candidate"
      [[ "$2" =~ ^[0-9]+$ ]] || die "bad port $2"
      CAND_CMDS+=("$PEND_CMD"); CAND_PORTS+=("$2")
      CAND_NAMES+=("${PEND_NAME:-candidate$(( ${#CAND_CMDS[@]} ))}")
      PEND_CMD="" PEND_NAME=""; shift ;;
    --no-baseline) WITH_BASELINE=0 ;;
    --no-rgate) WITH_RGATE=0 ;;
    --targets) TARGETS_FILTER=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --layout) LAYOUT=$2; shift ;;
    --order) ORDER=$2; shift ;;
    --backend-delay) BACKEND_DELAY=$2; shift ;;
    --nice) NICE=$2; shift ;;
    --noise-max) NOISE_MAX=$2; shift ;;
    --steal-max) STEAL_MAX=$2; shift ;;
    --out) OUT_JSON=$2; shift ;;
    --keep) KEEP_RUNDIR=1 ;;
    --install-deps)
      apt-get update || exit 2
      DEBIAN_FRONTEND=noninteractive apt-get install -y nginx haproxy caddy wrk curl || exit 2
      exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
[[ -z "$PEND_CMD" ]] || die "--candidate given without --candidate-port"

if [[ $MODE == quick ]]; then
  : "${DURATION:=3}" "${WARMUP:=1}" "${REPS:=2}" "${SIZES:=1024}"
else
  : "${DURATION:=5}" "${WARMUP:=2}" "${REPS:=3}" "${SIZES:=1024,65536}"
fi

case "$LAYOUT" in
  split) LG_CPUS=0; PROXY_CPUS=1; BACKEND_CPUS=1 ;;
  iso)   LG_CPUS=0; PROXY_CPUS=1; BACKEND_CPUS=0 ;;
  none)  LG_CPUS=0-$(( $(nproc) - 1 )); PROXY_CPUS=$LG_CPUS; BACKEND_CPUS=$LG_CPUS ;;
  *) die "unknown layout $LAYOUT" ;;
esac
[[ $ORDER == interleaved || $ORDER == blocked ]] || die "unknown order $ORDER"
[[ $(nproc) -ge 2 || $LAYOUT == none ]] || die "layout $LAYOUT needs 2 CPUs (use --layout none)"
# Proxy worker count (nginx workers, haproxy threads) = CPUs the proxy may use.
WORKERS=$(taskset -c "$PROXY_CPUS" nproc)
[[ "$NICE" =~ ^-?[0-9]+$ ]] || die "bad --nice $NICE"
# Simple-command prefixes (no functions), so that $! is the started program itself.
PIN_LG=(nice -n "$NICE" taskset -c "$LG_CPUS")
PIN_PROXY=(nice -n "$NICE" taskset -c "$PROXY_CPUS")
PIN_BACKEND=(nice -n "$NICE" taskset -c "$BACKEND_CPUS")

# ---------------------------------------------------------------- prerequisites
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 64+ connections per side, several proxies
for t in go wrk taskset curl python3 ss; do
  command -v "$t" >/dev/null || die "'$t' not found (try: $0 --install-deps)"
done

declare -a TARGETS=(direct)
declare -A PORT=([direct]=$BACKEND_PORT) KIND=([direct]=direct) CMD=() SKIPPED=()
add_target() { TARGETS+=("$1"); PORT[$1]=$2; KIND[$1]=$3; }
# Peers: whichever are installed; the others are skipped and named at the end.
declare -A PEER_PORT=([nginx]=$PORT_NGINX [haproxy]=$PORT_HAPROXY [caddy]=$PORT_CADDY)
for p in nginx haproxy caddy; do
  if command -v "$p" >/dev/null; then
    add_target "$p" "${PEER_PORT[$p]}" peer
  else
    SKIPPED[$p]="not installed; $0 --install-deps"
  fi
done
if [[ -n "$TRAEFIK_BIN" && -x "$TRAEFIK_BIN" ]]; then
  add_target traefik "$PORT_TRAEFIK" peer
else
  SKIPPED[traefik]="TRAEFIK_BIN ${TRAEFIK_BIN:-unset}${TRAEFIK_BIN:+ (not an executable)}"
fi
BUILD_DIR="$BENCH_DIR/.build"
mkdir -p "$BUILD_DIR"
RGATE_BIN="$BUILD_DIR/rgate"
if [[ $WITH_RGATE == 1 ]]; then
  # rgate is started by start_target (config rendered and validated first);
  # CMD is filled in there, for the record.
  add_target rgate "$PORT_RGATE" rgate
  add_target rgate-policies "$PORT_RGATE_POLICIES" rgate
  # A rate-limited route, scope local vs scope cluster (one Redis decision per
  # request, against the redis-server started below).
  add_target rgate-rl-local "$PORT_RGATE_RL_LOCAL" rgate
  if command -v redis-server >/dev/null; then
    add_target rgate-rl-cluster "$PORT_RGATE_RL_CLUSTER" rgate
  else
    SKIPPED[rgate-rl-cluster]="redis-server not installed (apt-get install redis-server)"
  fi
  for t in "${OPTIN_TARGETS[@]}"; do
    [[ ",$TARGETS_FILTER," == *",$t,"* ]] && add_target "$t" "${OPTIN_PORT[$t]}" rgate
  done
fi
# Request headers wrk and the readiness checks send to a target (its credential).
declare -A HDR=([rgate-auth-key]="X-API-Key: bench-api-key-0123456789")
HDR[rgate-auth-jwt]="Authorization: Bearer $(tr -d '\n' <"$BENCH_DIR/configs/rgate-auth-jwt.token")"
if [[ $WITH_BASELINE == 1 ]]; then
  add_target baseline-go "$PORT_BASELINE" candidate
  CMD[baseline-go]="$BUILD_DIR/baseline-go -listen 127.0.0.1:$PORT_BASELINE -upstream http://127.0.0.1:$BACKEND_PORT"
fi
for i in "${!CAND_CMDS[@]}"; do
  n=${CAND_NAMES[$i]}
  [[ -z "${PORT[$n]:-}" ]] || die "duplicate target name $n (built in: direct, the peers, rgate, rgate-policies, rgate-rl-*, baseline-go; see --no-rgate, --no-baseline)"
  add_target "$n" "${CAND_PORTS[$i]}" candidate
  CMD[$n]=${CAND_CMDS[$i]}
done
if [[ -n "$TARGETS_FILTER" ]]; then
  declare -a keep=()
  IFS=, read -ra want <<<"$TARGETS_FILTER"
  for w in "${want[@]}"; do
    [[ -z "${SKIPPED[$w]:-}" ]] || die "target '$w' is unavailable: ${SKIPPED[$w]}"
    [[ -n "${PORT[$w]:-}" ]] || die "unknown target '$w' (see --help; --no-rgate/--no-baseline remove targets)"
  done
  for t in "${TARGETS[@]}"; do
    for w in "${want[@]}"; do [[ $t == "$w" ]] && keep+=("$t"); done
  done
  TARGETS=("${keep[@]}")
fi
has_target() { local t; for t in "${TARGETS[@]}"; do [[ $t == "$1" ]] && return 0; done; return 1; }
IFS=, read -ra SIZE_LIST <<<"$SIZES"

# Ports must be distinct and free.
declare -A seen=()
for t in "${TARGETS[@]}" ; do
  p=${PORT[$t]}
  [[ $t == direct || -z "${seen[$p]:-}" ]] || die "port $p used by two targets"
  seen[$p]=1
done
busy_ports=$(ss -Htln | awk '{print $4}' | sed 's/.*://' | sort -u)
NEED_REDIS=0
has_target rgate-rl-cluster && NEED_REDIS=1
has_target rgate-cluster-idle && NEED_REDIS=1
for p in "$BACKEND_PORT" $( ((NEED_REDIS)) && echo "$REDIS_PORT" || true) $(for t in "${TARGETS[@]}"; do [[ $t == direct ]] || echo "${PORT[$t]}"; done); do
  if grep -qx "$p" <<<"$busy_ports"; then die "port $p is already in use"; fi
done

# ---------------------------------------------------------------- process control
RUN_DIR=$(mktemp -d /tmp/rbench.XXXXXX)
declare -A PID=()
BACKEND_PID=""
REDIS_PID="" SINK_PID=""
cleanup() {
  local rc=$?
  for t in "${!PID[@]}"; do stop_pid "${PID[$t]}"; done
  [[ -n "$BACKEND_PID" ]] && stop_pid "$BACKEND_PID"
  [[ -n "$REDIS_PID" ]] && stop_pid "$REDIS_PID"
  [[ -n "$SINK_PID" ]] && stop_pid "$SINK_PID"
  if [[ $KEEP_RUNDIR == 1 || $rc -ne 0 ]]; then
    echo "run.sh: logs and configs kept in $RUN_DIR" >&2
  else
    rm -rf "$RUN_DIR"
  fi
  exit "$rc"
}
stop_pid() {  # stop a process we started and its descendants, by PID; SIGKILL after 5 s
  local -a pids=() todo=("$1")
  local p i alive
  while ((${#todo[@]})); do
    p=${todo[0]}; todo=("${todo[@]:1}")
    kill -0 "$p" 2>/dev/null || continue
    pids+=("$p"); todo+=($(pgrep -P "$p" || true))
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for i in $(seq 50); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  wait "$1" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

render() {  # render configs/$1.tmpl to $RUN_DIR/$1
  sed -e "s#@RUN@#$RUN_DIR#g" -e "s#@PORT@#$2#g" -e "s#@BACKEND_PORT@#$BACKEND_PORT#g" \
      -e "s#@WORKERS@#$WORKERS#g" -e "s#@REDIS_ADDR@#127.0.0.1:$REDIS_PORT#g" -e "s#@BENCH_DIR@#$BENCH_DIR#g" \
      "$BENCH_DIR/configs/$1.tmpl" > "$RUN_DIR/$1"
}

wait_ready() {  # wait_ready NAME PORT PID: until GET / returns 200 with the default body
  local name=$1 port=$2 pid=$3 i out
  for i in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$RUN_DIR/$name.log" >&2; die "$name exited during startup"; }
    out=$(curl -s -o /dev/null -m 2 -w '%{http_code} %{size_download}' ${HDR[$name]:+-H "${HDR[$name]}"} "http://127.0.0.1:$port/" 2>/dev/null || true)
    [[ $out == "200 1024" ]] && return 0
    sleep 0.1
  done
  tail -20 "$RUN_DIR/$name.log" >&2
  die "$name not ready on 127.0.0.1:$port after 15 s (last answer: '$out')"
}

# ---------------------------------------------------------------- build + start
GO_VERSION=$(go version | awk '{print $3}')
log "building backend and baseline-go ($GO_VERSION)"
# Both are standard-library-only packages of this module (bench/backend, bench/baseline-go).
(cd "$REPO_DIR" && go build -trimpath -o "$BUILD_DIR/backend" ./bench/backend) || die "backend build failed"
(cd "$REPO_DIR" && go build -trimpath -o "$BUILD_DIR/baseline-go" ./bench/baseline-go) || die "baseline-go build failed"
RGATE_GIT=""
rgate_targets=0
for t in "${TARGETS[@]}"; do [[ ${KIND[$t]} == rgate ]] && rgate_targets=1; done
if ((rgate_targets)); then
  RGATE_GIT=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
  log "building rgate from $REPO_DIR (git $RGATE_GIT)"
  (cd "$REPO_DIR" && go build -o "$RGATE_BIN" ./cmd/rgate) || die "rgate build failed (go build ./cmd/rgate in $REPO_DIR)"
fi

log "layout=$LAYOUT (wrk cpus $LG_CPUS, proxy cpus $PROXY_CPUS, backend cpus $BACKEND_CPUS), order=$ORDER"
"${PIN_BACKEND[@]}" "$BUILD_DIR/backend" -addr "127.0.0.1:$BACKEND_PORT" -size 1024 \
  -delay "$BACKEND_DELAY" >"$RUN_DIR/backend.log" 2>&1 &
BACKEND_PID=$!
wait_ready backend "$BACKEND_PORT" "$BACKEND_PID"
redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
if ((NEED_REDIS)); then
  # The shared store of rgate-rl-cluster: loopback only, no persistence, pinned
  # like the backend (a dependency of the target, not the proxy measured).
  command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
  "${PIN_BACKEND[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$RUN_DIR" --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
  REDIS_PID=$!
  for i in $(seq 100); do [[ $(redis_cli ping 2>/dev/null) == PONG ]] && break; sleep 0.1; done
  [[ $(redis_cli ping 2>/dev/null) == PONG ]] || { tail -20 "$RUN_DIR/redis.log" >&2; die "redis-server not answering on 127.0.0.1:$REDIS_PORT"; }
  log "started redis-server (pid $REDIS_PID) on 127.0.0.1:$REDIS_PORT"
fi
if has_target rgate-tracing0 || has_target rgate-tracing1; then
  # The collector of the tracing targets: accepts OTLP/HTTP exports and counts
  # them, pinned like the backend.
  (cd "$REPO_DIR" && go build -trimpath -o "$BUILD_DIR/otlp-sink" ./bench/otlp-sink) || die "otlp-sink build failed"
  "${PIN_BACKEND[@]}" "$BUILD_DIR/otlp-sink" -addr "127.0.0.1:$OTLP_SINK_PORT" >"$RUN_DIR/otlp-sink.log" 2>&1 &
  SINK_PID=$!
  for i in $(seq 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$OTLP_SINK_PORT/stats" && break; sleep 0.1; done
  log "started otlp-sink (pid $SINK_PID) on 127.0.0.1:$OTLP_SINK_PORT"
fi

start_target() {
  local t=$1 port=${PORT[$1]}
  case $t in
    direct) return 0 ;;
    nginx)
      mkdir -p "$RUN_DIR/nginx-tmp"; render nginx.conf "$port"
      "${PIN_PROXY[@]}" nginx -e "$RUN_DIR/nginx-error.log" -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR/" \
        >"$RUN_DIR/$t.log" 2>&1 & ;;
    haproxy)
      render haproxy.cfg "$port"
      "${PIN_PROXY[@]}" haproxy -db -f "$RUN_DIR/haproxy.cfg" >"$RUN_DIR/$t.log" 2>&1 & ;;
    caddy)
      render Caddyfile "$port"; mkdir -p "$RUN_DIR/xdg"
      HOME="$RUN_DIR/xdg" XDG_CONFIG_HOME="$RUN_DIR/xdg" XDG_DATA_HOME="$RUN_DIR/xdg" \
        "${PIN_PROXY[@]}" caddy run --config "$RUN_DIR/Caddyfile" --adapter caddyfile \
        >"$RUN_DIR/$t.log" 2>&1 & ;;
    traefik)
      render traefik-static.yml "$port"; render traefik-dynamic.yml "$port"
      "${PIN_PROXY[@]}" "$TRAEFIK_BIN" --configFile="$RUN_DIR/traefik-static.yml" \
        >"$RUN_DIR/$t.log" 2>&1 & ;;
    rgate|rgate-policies|rgate-rl-local|rgate-rl-cluster|rgate-auth-key|rgate-auth-jwt|rgate-tracing0|rgate-tracing1|rgate-cluster-idle)
      render "$t.yml" "$port"
      "$RGATE_BIN" validate --config "$RUN_DIR/$t.yml" >"$RUN_DIR/$t-validate.log" 2>&1 \
        || { cat "$RUN_DIR/$t-validate.log" >&2; die "$t: config $RUN_DIR/$t.yml does not validate"; }
      CMD[$t]="$RGATE_BIN --config $RUN_DIR/$t.yml --port $port --bind 127.0.0.1 --log-level warn"
      if [[ $t == rgate-policies ]]; then
        # stdout is the access log (one JSON line per request), kept in a file as in production
        "${PIN_PROXY[@]}" "$RGATE_BIN" --config "$RUN_DIR/$t.yml" --port "$port" --bind 127.0.0.1 \
          --log-level warn >>"$RUN_DIR/$t-access.log" 2>"$RUN_DIR/$t.log" &
      else
        "${PIN_PROXY[@]}" "$RGATE_BIN" --config "$RUN_DIR/$t.yml" --port "$port" --bind 127.0.0.1 \
          --log-level warn >"$RUN_DIR/$t.log" 2>&1 &
      fi ;;
    *)  # candidate: bash runs the command line (a simple command replaces bash itself);
        # it is stopped with all its descendants, by PID
      "${PIN_PROXY[@]}" bash -c "${CMD[$t]}" >"$RUN_DIR/$t.log" 2>&1 & ;;
  esac
  PID[$t]=$!
  wait_ready "$t" "$port" "${PID[$t]}"
  log "started $t (pid ${PID[$t]}) on 127.0.0.1:$port"
}
for t in "${TARGETS[@]}"; do start_target "$t"; done

# Every target must serve every size correctly before we measure anything.
for t in "${TARGETS[@]}"; do
  for s in "${SIZE_LIST[@]}"; do
    out=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{size_download}' ${HDR[$t]:+-H "${HDR[$t]}"} "http://127.0.0.1:${PORT[$t]}/?size=$s" || true)
    [[ $out == "200 $s" ]] || die "$t returned '$out' for size $s"
  done
done
# rgate-policies must really run its policies: rate-limit headers on the answer,
# one access-log line per request, the breaker closed.
if has_target rgate-policies; then
  hdrs=$(curl -s -D - -o /dev/null -m 5 "http://127.0.0.1:$PORT_RGATE_POLICIES/" || true)
  grep -qi '^RateLimit-Policy:' <<<"$hdrs" || die "rgate-policies: no RateLimit-Policy header (rate_limit not active?)"
  sleep 0.2
  [[ -s "$RUN_DIR/rgate-policies-access.log" ]] || die "rgate-policies: nothing in its access log"
  curl -s -m 5 "http://127.0.0.1:$PORT_RGATE_POLICIES/metrics" | grep -q '^rgate_backend_breaker_state' \
    || die "rgate-policies: /metrics has no rgate_backend_breaker_state (circuit_breaker not active?)"
fi
for t in rgate-rl-local rgate-rl-cluster; do
  has_target "$t" || continue
  hdrs=$(curl -s -D - -o /dev/null -m 5 "http://127.0.0.1:${PORT[$t]}/" || true)
  grep -qi '^RateLimit-Policy:' <<<"$hdrs" || die "$t: no RateLimit-Policy header (rate_limit not active?)"
done
# The auth targets must refuse a request without the credential.
for t in rgate-auth-key rgate-auth-jwt; do
  has_target "$t" || continue
  out=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:${PORT[$t]}/" || true)
  [[ $out == 401 ]] || die "$t answered $out without a credential, want 401 (auth not active?)"
done
if has_target rgate-rl-cluster; then
  curl -s -m 5 "http://127.0.0.1:$PORT_RGATE_RL_CLUSTER/health" \
    | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin).get("cluster", {}).get("state") != "ok")' \
    || die "rgate-rl-cluster: /health does not show the cluster store ok"
  redis_cli config resetstat >/dev/null || die "redis-cli config resetstat failed"
fi

# ---------------------------------------------------------------- versions
ver() { "$@" 2>&1 | head -1 | tr -d '"\\' || true; }
declare -A VERSION=(
  [direct]="backend (go $GO_VERSION)"
  [baseline-go]="net/http/httputil $GO_VERSION"
)
has_target nginx && VERSION[nginx]="$(ver nginx -v)"
has_target haproxy && VERSION[haproxy]="$(ver haproxy -v)"
has_target caddy && VERSION[caddy]="$(ver caddy version)"
has_target traefik && VERSION[traefik]="$("$TRAEFIK_BIN" version 2>&1 | awk -F': *' '/^Version/{print "traefik " $2}')"
if [[ -n "$RGATE_GIT" ]]; then
  VERSION[rgate]="$("$RGATE_BIN" --version 2>&1 | head -1 | tr -d '"\\') (git $RGATE_GIT, $GO_VERSION)"
  VERSION[rgate-policies]=${VERSION[rgate]}
  VERSION[rgate-rl-local]=${VERSION[rgate]}
  VERSION[rgate-rl-cluster]="${VERSION[rgate]}; $(redis-server --version 2>/dev/null | awk '{print $1" "$2" "$3}')"
  for t in "${OPTIN_TARGETS[@]}"; do VERSION[$t]=${VERSION[rgate]}; done
fi

# ---------------------------------------------------------------- measure
SAMPLES="$RUN_DIR/samples.jsonl"; : >"$SAMPLES"
CLK_TCK=$(getconf CLK_TCK)
core_busy() {  # "busy total" jiffies summed over a cpu list like 1 or 0-1
  awk -v spec="$1" 'BEGIN{n=split(spec,a,"-"); lo=a[1]; hi=(n>1?a[2]:a[1])}
    /^cpu[0-9]+ /{id=substr($1,4)+0; if(id>=lo && id<=hi){t=0; for(i=2;i<=NF;i++)t+=$i;
      busy+=t-$5-$6; tot+=t}} END{print busy, tot}' /proc/stat
}
sys_jiffies() {  # all cpus: "task(user+nice+system) softirq+irq steal" jiffies
  awk '/^cpu /{print $2+$3+$4, $7+$8, $9; exit}' /proc/stat
}
tree_jiffies() {  # utime+stime (all threads) of the given PIDs and their descendants
  local -a todo=("$@") files=()
  local p
  while ((${#todo[@]})); do
    p=${todo[0]}; todo=("${todo[@]:1}")
    [[ -r /proc/$p/stat ]] || continue
    files+=("/proc/$p/stat")
    todo+=($(pgrep -P "$p" || true))
  done
  ((${#files[@]})) || { echo 0; return; }
  awk '{sub(/^.*\) /, ""); s += $12 + $13} END{print s + 0}' "${files[@]}"
}
RETRIES_LEFT=0   # global budget for re-running noisy measurements; set before the loop
measure_once() {  # measure_once TARGET SIZE ROUND -> one JSON sample on stdout
  local t=$1 s=$2 r=$3 url="http://127.0.0.1:${PORT[$1]}/?size=$2" out json
  local ppid=""
  [[ $t == direct ]] || ppid=${PID[$t]}
  if [[ $WARMUP != 0 ]]; then
    "${PIN_LG[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" ${HDR[$t]:+-H "${HDR[$t]}"} "$url" >/dev/null 2>&1 \
      || die "wrk warm-up against $t failed"
  fi
  local lg0 lgt0 sv0 svt0 st0 sq0 ss0 bk0 px0 lg1 lgt1 sv1 svt1 st1 sq1 ss1 bk1 px1
  read -r lg0 lgt0 < <(core_busy "$LG_CPUS"); read -r sv0 svt0 < <(core_busy "$PROXY_CPUS")
  read -r st0 sq0 ss0 < <(sys_jiffies); bk0=$(tree_jiffies "$BACKEND_PID"); px0=$(tree_jiffies $ppid)
  local TIMEFORMAT='BENCHTIME %3R %3U %3S'
  out=$( { time "${PIN_LG[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency ${HDR[$t]:+-H "${HDR[$t]}"} \
        -s "$BENCH_DIR/lib/report.lua" "$url" 2>&1; } 2>&1 ) || { echo "$out" >&2; die "wrk against $t failed"; }
  px1=$(tree_jiffies $ppid); bk1=$(tree_jiffies "$BACKEND_PID"); read -r st1 sq1 ss1 < <(sys_jiffies)
  read -r lg1 lgt1 < <(core_busy "$LG_CPUS"); read -r sv1 svt1 < <(core_busy "$PROXY_CPUS")
  json=$(sed -n 's/^BENCHJSON //p' <<<"$out")
  [[ -n "$json" ]] || { echo "$out" >&2; die "no wrk report for $t"; }
  local wall wu ws
  read -r _ wall wu ws < <(grep '^BENCHTIME ' <<<"$out")
  # All CPU figures are % of one core over the wrk wall time. foreign = task time
  # on all cpus not spent by wrk, the backend or the proxy (other tenants).
  awk -v t="$t" -v s="$s" -v r="$r" -v w="$wall" -v wu="$wu" -v ws="$ws" -v c="$CLK_TCK" \
      -v px=$((px1 - px0)) -v bk=$((bk1 - bk0)) -v st=$((st1 - st0)) -v sq=$((sq1 - sq0)) -v ss=$((ss1 - ss0)) \
      -v lgb=$((lg1 - lg0)) -v lgt=$((lgt1 - lgt0)) -v svb=$((sv1 - sv0)) -v svt=$((svt1 - svt0)) -v json="$json" '
    BEGIN {
      wrk = 100 * (wu + ws) / w; prx = 100 * px / c / w; bke = 100 * bk / c / w
      f = 100 * st / c / w - wrk - prx - bke; if (f < 0) f = 0
      printf "{\"target\":\"%s\",\"size\":%s,\"round\":%s,\"wall_s\":%s,\"cpu\":{\"wrk_pct\":%.1f,\"proxy_pct\":%.1f,\"backend_pct\":%.1f,\"foreign_pct\":%.1f,\"softirq_pct\":%.1f,\"steal_pct\":%.1f,\"loadgen_core_busy_pct\":%.1f,\"server_core_busy_pct\":%.1f},\"wrk\":%s}\n",
        t, s, r, w, wrk, prx, bke, f, 100 * sq / c / w, 100 * ss / c / w,
        (lgt ? 100 * lgb / lgt : 0), (svt ? 100 * svb / svt : 0), json
    }'
}
measure() {  # measure TARGET SIZE ROUND: one sample, re-run once if other tenants were busy
  local line noisy attempt=1
  while :; do
    line=$(measure_once "$@") || exit $?
    noisy=$(python3 - "$line" "$NOISE_MAX" "$attempt" "$STEAL_MAX" <<'PY' >&2; echo $?
import json, sys
x = json.loads(sys.argv[1]); j = x["wrk"]; c = x["cpu"]
rps = j["requests"] / (j["duration_us"] / 1e6)
errs = sum(j[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
noisy = float(sys.argv[2]) > 0 and (c["foreign_pct"] > float(sys.argv[2]) or c["steal_pct"] > float(sys.argv[4]))
print(f"    {x['target']:<14} size={x['size']:<6} round={x['round']} {rps:>9.0f} req/s  "
      f"p50={j['p50_us']/1000:.2f}ms p99={j['p99_us']/1000:.2f}ms  cpu% wrk={c['wrk_pct']:.0f} "
      f"proxy={c['proxy_pct']:.0f} backend={c['backend_pct']:.0f} other={c['foreign_pct']:.0f} steal={c['steal_pct']:.0f}"
      + (f"  ERRORS={errs}" if errs else "") + ("  (noisy" + (", re-running)" if sys.argv[3] == "1" else ")") if noisy else ""))
sys.exit(1 if noisy else 0)
PY
)
    if [[ $noisy == 1 && $attempt == 1 && $RETRIES_LEFT -gt 0 ]]; then
      RETRIES_LEFT=$((RETRIES_LEFT - 1)); attempt=2; continue
    fi
    # annotate and keep this sample
    python3 -c 'import json,sys; x=json.loads(sys.argv[1]); x["attempt"]=int(sys.argv[2]); x["noisy"]=sys.argv[3]=="1"; print(json.dumps(x))' \
      "$line" "$attempt" "$noisy" >>"$SAMPLES"
    return 0
  done
}

# How busy is the machine before we start? (only idle proxies of ours are running)
read -r b0 _ _ < <(sys_jiffies); sleep 1; read -r b1 _ _ < <(sys_jiffies)
BG_PCT=$(awk -v j=$((b1 - b0)) -v c="$CLK_TCK" 'BEGIN{printf "%.0f", 100*j/c}')
log "background CPU before measuring: ${BG_PCT}% of one core"
(( BG_PCT < 20 )) || log "WARNING: other processes are busy; expect noisy results (see 'other' cpu%)"

START_TS=$(date +%s)
n_meas=$(( ${#TARGETS[@]} * ${#SIZE_LIST[@]} * REPS ))
RETRIES_LEFT=$(( (n_meas + 5) / 6 ))
[[ $NOISE_MAX == 0 ]] && RETRIES_LEFT=0
log "measuring ${#TARGETS[@]} targets x ${#SIZE_LIST[@]} sizes x $REPS reps = $n_meas runs of ${WARMUP}+${DURATION} s (~$(( n_meas * (WARMUP + DURATION) )) s)"
for s in "${SIZE_LIST[@]}"; do
  if [[ $ORDER == interleaved ]]; then
    for r in $(seq "$REPS"); do
      # serpentine order (A B C, C B A, ...) so linear drift hits every target alike
      if (( r % 2 )); then order=("${TARGETS[@]}"); else order=(); for ((i=${#TARGETS[@]}-1; i>=0; i--)); do order+=("${TARGETS[$i]}"); done; fi
      for t in "${order[@]}"; do measure "$t" "$s" "$r"; done
    done
  else
    for t in "${TARGETS[@]}"; do for r in $(seq "$REPS"); do measure "$t" "$s" "$r"; done; done
  fi
done
ELAPSED=$(( $(date +%s) - START_TS ))

# ---------------------------------------------------------------- report
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
# What rgate-policies did during the run: nothing refused (a 429 would also count
# as a failed request), the breaker still closed, one access-log line per request.
POLICY_JSON=null
if has_target rgate-policies; then
  POLICY_JSON=$(curl -s -m 5 "http://127.0.0.1:$PORT_RGATE_POLICIES/metrics" | python3 -c '
import json, sys
vals = {}
for line in sys.stdin:
    if line.startswith("#") or not line.strip():
        continue
    name = line.split("{")[0].split(" ")[0]
    if name in ("rgate_rate_limited_total", "rgate_backend_breaker_state", "rgate_backend_breaker_trips_total", "rgate_requests_total"):
        vals[name] = vals.get(name, 0) + float(line.rsplit(" ", 1)[1])
lines = sum(1 for _ in open(sys.argv[1], "rb"))
print(json.dumps({"metrics": vals, "access_log_lines": lines}))
' "$RUN_DIR/rgate-policies-access.log" || echo null)
fi
# What rgate-rl-cluster cost Redis: commands per admitted request, from INFO
# commandstats (reset before measuring) over rgate's own request counters.
CLUSTER_RL_JSON=null
if has_target rgate-rl-cluster; then
  CLUSTER_RL_JSON=$(python3 - "$(redis_cli info commandstats)" \
      "$(curl -s -m 5 "http://127.0.0.1:$PORT_RGATE_RL_CLUSTER/metrics")" <<'PY' || echo null
import json, sys
stats = {}
for line in sys.argv[1].splitlines():
    if line.startswith("cmdstat_"):
        name, rest = line.strip().split(":", 1)
        stats[name[len("cmdstat_"):]] = int(dict(kv.split("=") for kv in rest.split(","))["calls"])
m = {}
for line in sys.argv[2].splitlines():
    if line.startswith("#") or not line.strip():
        continue
    name = line.split("{")[0].split(" ")[0]
    if name.startswith("rgate_requests_total") and 'code="2xx"' not in line:
        continue
    m[name] = m.get(name, 0) + float(line.rsplit(" ", 1)[1])
admitted = m.get("rgate_requests_total", 0)  # 2xx only: the admitted requests
client = sum(v for k, v in stats.items() if k in ("evalsha", "eval"))
print(json.dumps({"redis_commandstats": stats, "admitted_2xx": admitted,
                  "redis_client_commands": client,
                  "redis_commands_per_admitted": round(client / admitted, 4) if admitted else None,
                  "fallback_decisions": m.get("rgate_ratelimit_fallback_total", 0),
                  "store_errors": m.get("rgate_ratelimit_store_errors_total", 0)}))
PY
)
fi
META="$RUN_DIR/meta.json"
{
  printf '{"started_unix":%s,"measure_seconds":%s,"mode":"%s","layout":"%s","order":"%s",' "$START_TS" "$ELAPSED" "$MODE" "$LAYOUT" "$ORDER"
  printf '"cpus":{"loadgen":"%s","proxy":"%s","backend":"%s"},"proxy_workers":%s,' "$LG_CPUS" "$PROXY_CPUS" "$BACKEND_CPUS" "$WORKERS"
  printf '"wrk":{"threads":%s,"connections":%s,"duration_s":%s,"warmup_s":%s,"reps":%s,"version":"%s"},' \
    "$THREADS" "$CONNS" "$DURATION" "$WARMUP" "$REPS" "$(wrk -v 2>&1 | head -1 | awk '{print $1" "$2}')"
  printf '"nice":%s,"noise_max_pct":%s,"background_cpu_pct_before":%s,' "$NICE" "$NOISE_MAX" "$BG_PCT"
  printf '"backend_delay":"%s","host":{"nproc":%s,"kernel":"%s","cpu":"%s"},' "$BACKEND_DELAY" "$(nproc)" "$(uname -r)" \
    "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  printf '"argv":%s,' "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${ORIG_ARGS[@]}")"
  printf '"rgate_git":%s,"rgate_policies":%s,"rgate_rl_cluster":%s,' "$(jstr "$RGATE_GIT")" "$POLICY_JSON" "$CLUSTER_RL_JSON"
  printf '"skipped":{'
  first=1
  for t in "${!SKIPPED[@]}"; do
    [[ $first == 1 ]] || printf ','; first=0
    printf '%s:%s' "$(jstr "$t")" "$(jstr "${SKIPPED[$t]}")"
  done
  printf '},"traefik_bin":%s,"targets":[' "$(jstr "${TRAEFIK_BIN:-}")"
  first=1
  for t in "${TARGETS[@]}"; do
    [[ $first == 1 ]] || printf ','; first=0
    if [[ -n "${CMD[$t]:-}" ]]; then c=$(jstr "${CMD[$t]}"); else c=null; fi
    printf '{"name":"%s","kind":"%s","port":%s,"version":%s,"command":%s}' "$t" "${KIND[$t]}" "${PORT[$t]}" "$(jstr "${VERSION[$t]:-}")" "$c"
  done
  printf ']}\n'
} >"$META"
mkdir -p "$(dirname "$OUT_JSON")"
agg_rc=0
python3 "$BENCH_DIR/lib/aggregate.py" "$META" "$SAMPLES" "$OUT_JSON" || agg_rc=$?
if [[ $OUT_JSON == "$BENCH_DIR/results/latest.json" ]]; then
  cp "$OUT_JSON" "$BENCH_DIR/results/run-$(date -d "@$START_TS" +%Y%m%d-%H%M%S).json"
fi
log "wrote $OUT_JSON (measurement phase ${ELAPSED}s)"
exit $agg_rc
