#!/usr/bin/env bash
# Memory of rgate over many millions of distinct requests.
#
# Target: memory after 10M requests vs after 1M: no growth beyond noise.
#
# Starts the bench backend (127.0.0.1:$BACKEND_PORT) and rgate
# (127.0.0.1:$RGATE_PORT) with every per-client and per-URL structure on:
# rate_limit per client IP (X-Forwarded-For believed from 127.0.0.0/8, so
# each request's client is a different address; max_keys 100000 so the
# table must evict), a response cache bounded at 16 MiB (every URL is new,
# so it fills and evicts), the access log (to /dev/null), metrics and
# stats; 20% of the requests match no route (default response). Then
# bench/tools/soak sends TOTAL requests as fast as rgate takes them, from
# CONNS connections over 16 source addresses, every path and query string
# distinct, and samples rgate's VmRSS and Go heap (from /metrics) every
# million requests, pausing the load for a few seconds before each sample.
#
# It takes a while (about 20-30 min for 10M on a 2-core machine); run it in
# the background:
#   nohup timeout 40m bench/soak.sh > /tmp/soak.out 2>&1 &
# It stops by itself after MAX_TIME (default 38m) and reports what it
# reached. Exit 0: RSS growth from the first checkpoint to the last within
# GROWTH_PCT percent (default 10); 1: more; 2: setup failure.
# Settings (environment): TOTAL=10000000 CHECKPOINTS=1000000,10000000
# CONNS=32 MAX_TIME=38m GROWTH_PCT=10 BACKEND_PORT=18281 RGATE_PORT=18300
# KEEP=1 BACKEND_BIN=...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools/lib.sh"

TOTAL=${TOTAL:-10000000}
CHECKPOINTS=${CHECKPOINTS:-1000000,10000000}
EVERY=${EVERY:-1000000}
CONNS=${CONNS:-32}
MAX_TIME=${MAX_TIME:-38m}
GROWTH_PCT=${GROWTH_PCT:-10}
BACKEND_PORT=${BACKEND_PORT:-18281}
RGATE_PORT=${RGATE_PORT:-18300}

for p in "$BACKEND_PORT" "$RGATE_PORT"; do port_free "$p" || die "port $p is busy"; done
build_all
start_bg backend - "$WORK/backend" -addr "127.0.0.1:$BACKEND_PORT"
cat >"$WORK/rgate.yml" <<EOF
routes:
  - path_prefix: /c
    backend: bk
    rate_limit:
      key: client_ip
      default: {requests: 50, per: 1s, burst: 50}
      max_keys: 100000
    cache: {ttl: 30s, max_bytes: 16MiB}
  - path_prefix: /p
    backend: bk
    rate_limit:
      key: client_ip
      default: {requests: 50, per: 1s, burst: 50}
      max_keys: 100000
default_response:
  body: "no route"
  status_code: 404
backends:
  - name: bk
    urls: [http://127.0.0.1:$BACKEND_PORT]
server:
  trusted_proxies: [127.0.0.0/8]
access_log: {enabled: true}
EOF
# The access log goes to stdout: /dev/null (a file would grow by GBs).
"$WORK/rgate" --config "$WORK/rgate.yml" --port "$RGATE_PORT" --bind 127.0.0.1 --log-level warn \
  >/dev/null 2>"$WORK/rgate.log" &
RGATE_PID=$!
STARTED_PIDS+=("$RGATE_PID")
wait_http "http://127.0.0.1:$BACKEND_PORT/" || die "backend did not answer"
wait_http "http://127.0.0.1:$RGATE_PORT/c/x" || { cat "$WORK/rgate.log" >&2; die "rgate did not answer"; }
log "rgate pid $RGATE_PID on :$RGATE_PORT; config:"
sed 's/^/    /' "$WORK/rgate.yml" >&2
log "sending $TOTAL requests (max $MAX_TIME)"

rc=0
"$WORK/soak" -url "http://127.0.0.1:$RGATE_PORT" -total "$TOTAL" -checkpoints "$CHECKPOINTS" -every "$EVERY" \
  -conns "$CONNS" -src 16 -pid "$RGATE_PID" -metrics "http://127.0.0.1:$RGATE_PORT/metrics" \
  -max-time "$MAX_TIME" | tee "$WORK/soak.out" || rc=$?
kill -0 "$RGATE_PID" 2>/dev/null || { tail -50 "$WORK/rgate.log" >&2; die "rgate died during the soak"; }
if grep -qi 'panic\|fatal' "$WORK/rgate.log"; then
  log "rgate logged errors:"; grep -i 'panic\|fatal' "$WORK/rgate.log" | head >&2
fi
((rc == 0)) || die "soak failed ($rc)"
awk -v max="$GROWTH_PCT" '/^RESULT/ {
  for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  g = v["rss_growth_pct"] + 0
  printf "SOAK_RSS_GROWTH_PCT=%.1f (%s -> %s requests; allowed %s%%): %s\n", g, v["first"], v["last"], max, (g <= max ? "PASS" : "FAIL")
  exit (g <= max ? 0 : 1)
}' "$WORK/soak.out"
