#!/usr/bin/env bash
# rgate's edge benchmark: HTTPS (TLS 1.3, ECDSA P-256) with HTTP/1.1
# keep-alive, HTTP/2 over TLS, and new TLS connections per second, for rgate,
# nginx, caddy and traefik (if TRAEFIK_BIN points at a binary), all with the
# same certificate and the same backend, side by side in one run, plus rgate
# over plaintext in the same run. Loopback only. See bench/README.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"

MODES=h1,h2,handshake DURATION=5 WARMUP=2 REPS=3 CONNS=64 STREAMS=10 SIZE=1024
TARGETS_FILTER="" OUT_JSON="$BENCH_DIR/results/edge-latest.json" KEEP_RUNDIR=0
TRAEFIK_BIN=${TRAEFIK_BIN:-} RGATE_BIN=""
BACKEND_PORT=18080
declare -A PORT=([nginx]=18181 [caddy]=18183 [traefik]=18184 [rgate]=18185)
RGATE_PLAIN_PORT=18195

usage() {
  cat <<EOF
Usage: bench/edge.sh [options]

Every target terminates TLS 1.3 with one ECDSA P-256 certificate (made for the
run) and proxies to the plain backend on 127.0.0.1:$BACKEND_PORT. Modes:
  h1         wrk -t1 -c$CONNS over https, HTTP/1.1 keep-alive
  h2         h2load -t1 -c$CONNS -m$STREAMS over https (ALPN h2)
  handshake  wrk -t1 -c$CONNS with "Connection: close": one full handshake per request
rgate is also measured over plaintext (target rgate-http) in the h1 mode, for
the HTTPS-vs-plaintext CPU ratio.

  --quick               2 reps x 3 s, 1 s warm-up
  --modes a,b           h1,h2,handshake (default all)
  --reps N --duration S --warmup S   (default 3, 5, 2)
  --targets a,b         nginx,caddy,traefik,rgate (default: those installed)
  --rgate-bin PATH      measure this rgate binary instead of building this checkout
  --out FILE            JSON output (default bench/results/edge-latest.json)
  --keep                keep the run directory
TRAEFIK_BIN=/path/to/traefik adds traefik. Needs go, wrk, h2load (nghttp2-client),
openssl, taskset, curl, python3 and 2 CPUs (load generator on cpu0, proxy and
backend on cpu1, as in run.sh).
EOF
}
die() { echo "edge.sh: SETUP FAILURE: $*" >&2; exit 2; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

while (($#)); do
  case $1 in
    --quick) REPS=2 DURATION=3 WARMUP=1 ;;
    --modes) MODES=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --targets) TARGETS_FILTER=$2; shift ;;
    --rgate-bin) RGATE_BIN=$2; shift ;;
    --out) OUT_JSON=$2; shift ;;
    --keep) KEEP_RUNDIR=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
  shift
done
for t in go wrk h2load openssl taskset curl python3 ss; do
  command -v "$t" >/dev/null || die "'$t' not found (apt-get install wrk nghttp2-client openssl curl)"
done
[[ $(nproc) -ge 2 ]] || die "needs 2 CPUs"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PIN_LG=(taskset -c 0) PIN_PROXY=(taskset -c 1)

declare -a TARGETS=()
for t in nginx caddy; do command -v "$t" >/dev/null && TARGETS+=("$t"); done
[[ -n "$TRAEFIK_BIN" && -x "$TRAEFIK_BIN" ]] && TARGETS+=(traefik)
TARGETS+=(rgate)
if [[ -n "$TARGETS_FILTER" ]]; then
  IFS=, read -ra want <<<"$TARGETS_FILTER"; keep=()
  for t in "${TARGETS[@]}"; do for w in "${want[@]}"; do [[ $t == "$w" ]] && keep+=("$t"); done; done
  TARGETS=("${keep[@]}")
fi
IFS=, read -ra MODE_LIST <<<"$MODES"

RUN_DIR=$(mktemp -d /tmp/redge.XXXXXX)
declare -A PID=()
cleanup() {
  local rc=$? p
  for p in "${PID[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [[ $KEEP_RUNDIR == 1 || $rc -ne 0 ]]; then echo "edge.sh: run directory kept: $RUN_DIR" >&2; else rm -rf "$RUN_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One certificate for every proxy: ECDSA P-256, for 127.0.0.1 and localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$RUN_DIR/key.pem" -out "$RUN_DIR/cert.pem" 2>/dev/null \
  || die "openssl could not make the certificate"

render() {  # render configs/edge/$1.tmpl to $RUN_DIR/$1
  sed -e "s#@RUN@#$RUN_DIR#g" -e "s#@PORT@#$2#g" -e "s#@BACKEND_PORT@#$BACKEND_PORT#g" \
      -e "s#@PLAIN_PORT@#$RGATE_PLAIN_PORT#g" "$BENCH_DIR/configs/edge/$1.tmpl" >"$RUN_DIR/$1"
}
wait_ready() {  # wait_ready NAME URL PID
  local i out
  for i in $(seq 150); do
    kill -0 "$3" 2>/dev/null || { tail -20 "$RUN_DIR/$1.log" >&2; die "$1 exited during startup"; }
    out=$(curl -sk -o /dev/null -m 2 -w '%{http_code} %{size_download}' "$2" 2>/dev/null || true)
    [[ $out == "200 $SIZE" ]] && return 0
    sleep 0.1
  done
  tail -20 "$RUN_DIR/$1.log" >&2; die "$1 not ready at $2 (last answer '$out')"
}

mkdir -p "$BENCH_DIR/.build"
(cd "$REPO_DIR" && go build -trimpath -o "$BENCH_DIR/.build/backend" ./bench/backend) || die "backend build failed"
if [[ -z "$RGATE_BIN" ]]; then
  RGATE_BIN="$BENCH_DIR/.build/rgate"
  (cd "$REPO_DIR" && go build -o "$RGATE_BIN" ./cmd/rgate) || die "rgate build failed"
fi
# A port already taken would measure whatever listens there (wait_ready
# only checks that something answers), so refuse to start, as run.sh does.
busy_ports=$(ss -Htln | awk '{print $4}' | sed 's/.*://' | sort -u)
for p in "$BACKEND_PORT" "$RGATE_PLAIN_PORT" $(for t in "${TARGETS[@]}"; do echo "${PORT[$t]}"; done); do
  if grep -qx "$p" <<<"$busy_ports"; then die "port $p is already in use"; fi
done
"${PIN_PROXY[@]}" "$BENCH_DIR/.build/backend" -addr "127.0.0.1:$BACKEND_PORT" -size "$SIZE" >"$RUN_DIR/backend.log" 2>&1 &
PID[backend]=$!
wait_ready backend "http://127.0.0.1:$BACKEND_PORT/" "${PID[backend]}"

start_target() {
  local t=$1 port=${PORT[$1]}
  case $t in
    nginx)
      mkdir -p "$RUN_DIR/nginx-tmp"; render nginx.conf "$port"
      "${PIN_PROXY[@]}" nginx -e "$RUN_DIR/nginx-error.log" -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR/" >"$RUN_DIR/$t.log" 2>&1 & ;;
    caddy)
      render Caddyfile "$port"; mkdir -p "$RUN_DIR/xdg"
      HOME="$RUN_DIR/xdg" XDG_CONFIG_HOME="$RUN_DIR/xdg" XDG_DATA_HOME="$RUN_DIR/xdg" \
        "${PIN_PROXY[@]}" caddy run --config "$RUN_DIR/Caddyfile" --adapter caddyfile >"$RUN_DIR/$t.log" 2>&1 & ;;
    traefik)
      render traefik-static.yml "$port"; render traefik-dynamic.yml "$port"
      "${PIN_PROXY[@]}" "$TRAEFIK_BIN" --configFile="$RUN_DIR/traefik-static.yml" >"$RUN_DIR/$t.log" 2>&1 & ;;
    rgate)
      render rgate.yml "$port"
      "$RGATE_BIN" validate --config "$RUN_DIR/rgate.yml" >"$RUN_DIR/rgate-validate.log" 2>&1 \
        || { cat "$RUN_DIR/rgate-validate.log" >&2; die "rgate: $RUN_DIR/rgate.yml does not validate"; }
      "${PIN_PROXY[@]}" "$RGATE_BIN" --config "$RUN_DIR/rgate.yml" --port "$RGATE_PLAIN_PORT" --bind 127.0.0.1 \
        --log-level warn >"$RUN_DIR/$t.log" 2>&1 & ;;
  esac
  PID[$t]=$!
  wait_ready "$t" "https://127.0.0.1:$port/?size=$SIZE" "${PID[$t]}"
  # HTTP/2 must really be offered, or the h2 rows would measure nothing.
  [[ $(curl -sk --http2 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$port/") == 2 ]] \
    || die "$t does not negotiate HTTP/2"
  [[ $(curl -sk -o /dev/null -w '%{ssl_verify_result}' --tlsv1.3 "https://127.0.0.1:$port/") == 0 || true ]]
  log "started $t (pid ${PID[$t]}) on https://127.0.0.1:$port"
}
for t in "${TARGETS[@]}"; do start_target "$t"; done
if [[ " ${TARGETS[*]} " == *" rgate "* ]]; then
  PID[rgate-http]=${PID[rgate]} PORT[rgate-http]=$RGATE_PLAIN_PORT
  wait_ready rgate "http://127.0.0.1:$RGATE_PLAIN_PORT/?size=$SIZE" "${PID[rgate]}"
fi

CLK_TCK=$(getconf CLK_TCK)
tree_jiffies() {  # utime+stime of a PID and its descendants
  local -a todo=("$1") files=(); local p
  while ((${#todo[@]})); do
    p=${todo[0]}; todo=("${todo[@]:1}")
    [[ -r /proc/$p/stat ]] || continue
    files+=("/proc/$p/stat"); todo+=($(pgrep -P "$p" || true))
  done
  ((${#files[@]})) || { echo 0; return; }
  awk '{sub(/^.*\) /, ""); s += $12 + $13} END{print s + 0}' "${files[@]}"
}
steal() { awk '/^cpu /{print $9; exit}' /proc/stat; }

# load MODE URL SECONDS -> "requests failed"
load() {
  local mode=$1 url=$2 d=$3 out
  case $mode in
    h1|http)
      out=$("${PIN_LG[@]}" wrk -t1 -c"$CONNS" -d"${d}s" -s "$BENCH_DIR/lib/report.lua" "$url" 2>&1) || { echo "$out" >&2; return 1; } ;;
    handshake)
      out=$("${PIN_LG[@]}" wrk -t1 -c"$CONNS" -d"${d}s" -H 'Connection: close' -s "$BENCH_DIR/lib/report.lua" "$url" 2>&1) || { echo "$out" >&2; return 1; } ;;
    h2)
      out=$("${PIN_LG[@]}" h2load -t1 -c"$CONNS" -m"$STREAMS" -D "$d" "$url" 2>&1) || { echo "$out" >&2; return 1; }
      awk '/^requests:/{print $8, $10 + $12 + $14}' <<<"$out"; return 0 ;;
  esac
  python3 -c 'import json,sys
j = json.loads(sys.argv[1])
print(j["requests"], j["err_connect"] + j["err_read"] + j["err_write"] + j["err_status"] + j["err_timeout"])' \
    "$(sed -n 's/^BENCHJSON //p' <<<"$out")"
}

SAMPLES="$RUN_DIR/samples.jsonl"; : >"$SAMPLES"
measure() {  # measure TARGET MODE ROUND
  local t=$1 mode=$2 r=$3 scheme=https req fail px0 px1 s0 s1 t0 t1
  [[ $mode == http ]] && scheme=http
  local url="$scheme://127.0.0.1:${PORT[$t]}/?size=$SIZE"
  [[ $WARMUP == 0 ]] || load "$mode" "$url" "$WARMUP" >/dev/null || die "warm-up of $t ($mode) failed"
  px0=$(tree_jiffies "${PID[$t]}"); s0=$(steal); t0=$(date +%s.%N)
  read -r req fail < <(load "$mode" "$url" "$DURATION") || die "$t ($mode) load failed"
  t1=$(date +%s.%N); px1=$(tree_jiffies "${PID[$t]}"); s1=$(steal)
  python3 - "$t" "$mode" "$r" "$req" "$fail" "$((px1 - px0))" "$CLK_TCK" "$t0" "$t1" "$((s1 - s0))" >>"$SAMPLES" <<'PY'
import json, sys
t, mode, r, req, fail, px, clk, t0, t1, st = sys.argv[1:]
wall = float(t1) - float(t0); req = int(req)
x = {"target": t, "mode": mode, "round": int(r), "requests": req, "failed": int(fail),
     "wall_s": wall, "rps": req / wall, "us_per_req": (int(px) / int(clk)) * 1e6 / max(req, 1),
     "proxy_pct": 100 * int(px) / int(clk) / wall, "steal_pct": 100 * int(st) / int(clk) / wall}
print(json.dumps(x))
print(f"    {t:<10} {mode:<9} round={r} {x['rps']:>9.0f} req/s  {x['us_per_req']:6.1f} us/req  "
      f"proxy={x['proxy_pct']:.0f}%  steal={x['steal_pct']:.0f}%" + (f"  FAILED={fail}" if int(fail) else ""), file=sys.stderr)
PY
}

log "targets: ${TARGETS[*]}; modes: ${MODE_LIST[*]}; $REPS x (${WARMUP}+${DURATION}) s each"
for mode in "${MODE_LIST[@]}"; do
  list=("${TARGETS[@]}")
  [[ $mode == h1 && -n "${PID[rgate-http]:-}" ]] && list+=(rgate-http)
  for r in $(seq "$REPS"); do
    if (( r % 2 )); then order=("${list[@]}"); else order=(); for ((i=${#list[@]}-1; i>=0; i--)); do order+=("${list[$i]}"); done; fi
    for t in "${order[@]}"; do
      m=$mode; [[ $t == rgate-http ]] && m=http
      measure "$t" "$m" "$r"
    done
  done
done
mkdir -p "$(dirname "$OUT_JSON")"
python3 "$BENCH_DIR/lib/edge_report.py" "$SAMPLES" "$OUT_JSON" "$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)"
