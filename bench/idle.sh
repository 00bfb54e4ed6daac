#!/usr/bin/env bash
# Memory of rgate holding many idle keep-alive client connections.
#
# Target: RSS with 10k idle keep-alive client connections <= 80 MiB.
#
# Starts the bench backend (127.0.0.1:$BACKEND_PORT) and rgate
# (127.0.0.1:$RGATE_PORT, route "/" -> the backend), warms rgate up with a
# few seconds of traffic, then bench/tools/idleconns opens N connections to
# rgate, sends one GET on each, reads the answer and leaves them idle; after
# SETTLE it prints rgate's VmRSS (absolute and the increase), threads, fds and
# Go heap, and checks that sampled connections still answer. rgate's
# "Max open files" limit is printed too (it needs more than N descriptors;
# the Go runtime raises its soft limit to the hard limit at start).
# With DIRECT=1 the same is measured against the backend alone (a plain
# net/http server), for comparison.
#
# Exit 0: within target; 1: target missed; 2: setup failure; 3: connections
# failed. Settings (environment): N=10000 SETTLE=30s SRC=4 (source addresses
# 127.0.0.1..127.0.0.SRC) TARGET_MIB=80 BACKEND_PORT=18280 RGATE_PORT=18200
# DIRECT=1 KEEP=1 BACKEND_BIN=...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools/lib.sh"

N=${N:-10000}
SETTLE=${SETTLE:-30s}
SRC=${SRC:-4}
TARGET_MIB=${TARGET_MIB:-80}
BACKEND_PORT=${BACKEND_PORT:-18280}
RGATE_PORT=${RGATE_PORT:-18200}
DIRECT=${DIRECT:-0}

for p in "$BACKEND_PORT" "$RGATE_PORT"; do port_free "$p" || die "port $p is busy"; done
build_all
start_bg backend - "$WORK/backend" -addr "127.0.0.1:$BACKEND_PORT"
BACKEND_PID=$PID
static_config "$WORK/rgate.yml" "$BACKEND_PORT"
start_bg rgate - "$WORK/rgate" --config "$WORK/rgate.yml" --port "$RGATE_PORT" --bind 127.0.0.1 --log-level warn
RGATE_PID=$PID
wait_http "http://127.0.0.1:$BACKEND_PORT/" || die "backend did not answer"
wait_http "http://127.0.0.1:$RGATE_PORT/" || { cat "$WORK/rgate.log" >&2; die "rgate did not answer"; }
log "rgate pid $RGATE_PID: $(grep 'Max open files' "/proc/$RGATE_PID/limits" | tr -s ' ')"
log "warming rgate up: 3 s at 2000 req/s"
"$WORK/loadgen" -url "http://127.0.0.1:$RGATE_PORT/" -rate 2000 -duration 3s -warmup 0s -conns 16 >/dev/null ||
  die "warm-up failed"

measure() { # measure NAME URL PID METRICS
  local rc=0
  log "$1: $N idle connections"
  "$WORK/idleconns" -url "$2" -n "$N" -pid "$3" -settle "$SETTLE" -src "$SRC" ${4:+-metrics "$4"} \
    | tee "$WORK/$1.out" | sed 's/^/    /' >&2 || rc=$?
  return "$rc"
}

rc=0
measure rgate "http://127.0.0.1:$RGATE_PORT/" "$RGATE_PID" "http://127.0.0.1:$RGATE_PORT/metrics" || rc=$?
if [[ "$DIRECT" == 1 ]]; then
  measure direct "http://127.0.0.1:$BACKEND_PORT/" "$BACKEND_PID" "" || true
fi
((rc == 0 || rc == 3)) || die "idleconns failed ($rc)"

echo
awk -v target="$TARGET_MIB" -v n="$N" -v rc="$rc" '
/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
END {
  rss = v["rss_after_kib"] / 1024
  printf "rgate with %d idle keep-alive connections: VmRSS %.1f MiB (+%.1f MiB, %s bytes per connection), %s fds, %s threads, %s sampled connections still open\n",
    v["conns"], rss, v["rss_delta_kib"] / 1024, v["per_conn_bytes"], v["fds"], v["threads"], v["verify_alive"]
  verdict = (rc == 3 || v["conns"] < n ? "INVALID (connections failed)" : (rss <= target ? "PASS" : "FAIL"))
  printf "IDLE_RSS_MIB=%.1f (target <= %d MiB): %s\n", rss, target, verdict
  exit (rc == 3 ? 3 : (rss <= target ? 0 : 1))
}' "$WORK/rgate.out"
