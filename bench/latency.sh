#!/usr/bin/env bash
# Added latency of rgate at a fixed request rate.
#
# Target: added p99 latency at a fixed 5k req/s (rgate vs the backend
# alone) <= 1 ms.
#
# Starts the bench backend (127.0.0.1:$BACKEND_PORT) and rgate
# (127.0.0.1:$RGATE_PORT, route "/" -> the backend as a static `urls:`
# upstream), then runs bench/tools/loadgen (open loop, constant rate,
# latency from the scheduled send time) against the backend directly and
# through rgate, interleaved (direct, rgate, then rgate, direct, ...),
# ROUNDS rounds of DURATION each. CPU layout (LAYOUT=split, the default) as
# in bench/run.sh: loadgen on CPU 0, rgate and the backend on CPU 1;
# LAYOUT=none leaves all three unpinned.
#
# Prints per run p50/p90/p99/p99.9/max and the CPU rgate (or, for direct,
# the backend) spent per request, then the added p99 (rgate minus direct,
# per round and median). Exit 0: measured and within target; 1: measured,
# target missed; 2: setup failure; 3: requests failed; 4: too noisy to tell.
#
# Other processes on the machine spoil latency figures: each run reports how
# much CPU everything else used meanwhile, and a run where that exceeded
# NOISE_MAX % of one core is measured again (up to RERUNS times); the verdict
# says NOISY if some runs stayed above it.
#
# Settings (environment): RATE=5000 DURATION=20s ROUNDS=2 CONNS=64
# WARMUP=2s LAYOUT=split BACKEND_PORT=18280 RGATE_PORT=18200 TARGET_US=1000 NOISE_MAX=20
# RERUNS=2 KEEP=1 (keep the work directory) RGATE_BIN=... (use this rgate
# binary instead of building the working tree) BACKEND_BIN=...
# RGATE_CONFIG_TMPL=bench/configs/NAME.yml.tmpl runs rgate on that template
# instead of the plain route (@BACKEND_PORT@ filled in); a template with
# @REDIS_ADDR@ also gets a redis-server on 127.0.0.1:$REDIS_PORT (default
# 18289, no persistence, pinned like rgate; REDIS_CPU=0 pins it with the
# load generator instead, the closest this machine has to a Redis on its
# own host, whose CPU does not compete with rgate's). The added p99 of a cluster
# rate limit over a local one is the difference of two runs:
#   RATE=N RGATE_CONFIG_TMPL=bench/configs/rgate-rl-local.yml.tmpl bench/latency.sh
#   RATE=N RGATE_CONFIG_TMPL=bench/configs/rgate-rl-cluster.yml.tmpl bench/latency.sh
# or, interleaved in one run (less noise between the two), with
# BASE_CONFIG_TMPL: a second rgate on that template (port RGATE_PORT+1)
# takes the backend's place as the reference ("base" instead of "direct"):
#   RATE=N BASE_CONFIG_TMPL=bench/configs/rgate-rl-local.yml.tmpl \
#     RGATE_CONFIG_TMPL=bench/configs/rgate-rl-cluster.yml.tmpl bench/latency.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools/lib.sh"

RATE=${RATE:-5000}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-64}
WARMUP=${WARMUP:-2s}
BACKEND_PORT=${BACKEND_PORT:-18280}
RGATE_PORT=${RGATE_PORT:-18200}
TARGET_US=${TARGET_US:-1000}
NOISE_MAX=${NOISE_MAX:-20}
LAYOUT=${LAYOUT:-split}
case "$LAYOUT" in
  split) CPU_LG=0 CPU_SRV=1 ;;
  none) CPU_LG=- CPU_SRV=- ;;
  *) die "LAYOUT must be split or none" ;;
esac
RERUNS=${RERUNS:-2}
RGATE_CONFIG_TMPL=${RGATE_CONFIG_TMPL:-}
REDIS_PORT=${REDIS_PORT:-18289}
REDIS_CPU=${REDIS_CPU:-$CPU_SRV}
BASE_CONFIG_TMPL=${BASE_CONFIG_TMPL:-}
BASE_PORT=$((RGATE_PORT + 1))
NEED_REDIS=0
for tmpl in "$RGATE_CONFIG_TMPL" "$BASE_CONFIG_TMPL"; do
  [[ -n "$tmpl" ]] || continue
  [[ -r "$tmpl" ]] || die "$tmpl: not readable"
  if grep -q '@REDIS_ADDR@' "$tmpl"; then NEED_REDIS=1; fi
done

ports=("$BACKEND_PORT" "$RGATE_PORT")
[[ -z "$BASE_CONFIG_TMPL" ]] || ports+=("$BASE_PORT")
for p in "${ports[@]}"; do port_free "$p" || die "port $p is busy"; done
if ((NEED_REDIS)); then
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || die "redis-server and redis-cli are needed for $RGATE_CONFIG_TMPL"
  port_free "$REDIS_PORT" || die "port $REDIS_PORT is busy"
fi
build_all

start_bg backend "$CPU_SRV" "$WORK/backend" -addr "127.0.0.1:$BACKEND_PORT"
BACKEND_PID=$PID
OURS=("$BACKEND_PID") # the processes under test: their CPU is not "other"
if ((NEED_REDIS)); then
  start_bg redis "$REDIS_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK"
  OURS+=("$PID")
  for _ in $(seq 100); do [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break; sleep 0.1; done
  [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer on 127.0.0.1:$REDIS_PORT"
fi
render_config() { # render_config TEMPLATE OUT
  sed -e "s#@BACKEND_PORT@#$BACKEND_PORT#g" -e "s#@REDIS_ADDR@#127.0.0.1:$REDIS_PORT#g" "$1" >"$2"
  "$WORK/rgate" validate --config "$2" >&2 || die "$1 does not validate"
}
if [[ -n "$RGATE_CONFIG_TMPL" ]]; then
  render_config "$RGATE_CONFIG_TMPL" "$WORK/rgate.yml"
else
  static_config "$WORK/rgate.yml" "$BACKEND_PORT"
fi
start_bg rgate "$CPU_SRV" "$WORK/rgate" --config "$WORK/rgate.yml" --port "$RGATE_PORT" --bind 127.0.0.1 --log-level warn
RGATE_PID=$PID
OURS+=("$PID")
wait_http "http://127.0.0.1:$BACKEND_PORT/" || die "backend did not answer"
wait_http "http://127.0.0.1:$RGATE_PORT/" || { cat "$WORK/rgate.log" >&2; die "rgate did not answer"; }
log "backend pid $BACKEND_PID on :$BACKEND_PORT, rgate pid $RGATE_PID on :$RGATE_PORT; layout $LAYOUT"
# The reference the added latency is measured against: the backend alone,
# or with BASE_CONFIG_TMPL a second rgate.
REF=direct REF_URL="http://127.0.0.1:$BACKEND_PORT/" REF_PID=$BACKEND_PID
if [[ -n "$BASE_CONFIG_TMPL" ]]; then
  render_config "$BASE_CONFIG_TMPL" "$WORK/base.yml"
  start_bg base "$CPU_SRV" "$WORK/rgate" --config "$WORK/base.yml" --port "$BASE_PORT" --bind 127.0.0.1 --log-level warn
  REF=base REF_URL="http://127.0.0.1:$BASE_PORT/" REF_PID=$PID
  OURS+=("$PID")
  wait_http "$REF_URL" || { cat "$WORK/base.log" >&2; die "the base rgate did not answer"; }
  log "base rgate ($BASE_CONFIG_TMPL) pid $REF_PID on :$BASE_PORT"
fi

busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
proc_jiffies() { awk '{sub(/.*\) /, ""); print $12+$13}' "/proc/$1/stat"; }
ours_jiffies() { local p n=0; for p in "${OURS[@]}"; do n=$((n + $(proc_jiffies "$p"))); done; echo "$n"; }
# run NAME URL PID ROUND: one measurement; re-run (up to RERUNS times) when
# other processes used more than NOISE_MAX % of a core during it.
run() {
  local try
  for ((try = 0; ; try++)); do
    measure_once "$@"
    if ((OTHER <= NOISE_MAX)) || ((try >= RERUNS)); then break; fi
    log "    noisy (${OTHER}% > ${NOISE_MAX}%): measuring again"
  done
  printf '%s\n' "$LINE" >>"$WORK/results"
  if ((RC == 3)); then FAILED=1; elif ((RC != 0)); then die "loadgen failed ($RC)"; fi
}
measure_once() {
  local out rc=0 t0 t1 s0 s1 other secs
  t0=$(busy_jiffies); s0=$(ours_jiffies)
  secs=$(date +%s.%N)
  local pin=(taskset -c "$CPU_LG")
  [[ "$CPU_LG" == - ]] && pin=()
  out=$("${pin[@]}" "$WORK/loadgen" -url "$2" -rate "$RATE" -duration "$DURATION" -warmup "$WARMUP" \
    -conns "$CONNS" -pid "$3" -label "$1") || rc=$?
  t1=$(busy_jiffies); s1=$(ours_jiffies)
  secs=$(awk -v a="$secs" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
  # CPU used by everything else on the machine during the run (% of one
  # core): total busy minus the processes under test and loadgen itself.
  other=$(printf '%s\n' "$out" | awk -v t="$((t1 - t0))" -v s="$((s1 - s0))" -v secs="$secs" '
    /^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "self_cpu_ms") lg = kv[2] / 10 } }
    END { o = (t - s - lg) / secs; if (o < 0) o = 0; printf "%.0f", o }')
  printf '%s\n' "$out" | sed 's/^/    /' >&2
  log "    other processes used ${other}% of one core during this run"
  LINE="round=$4 other_pct=$other $(printf '%s\n' "$out" | grep '^RESULT')"
  OTHER=$other RC=$rc
}

quiet_check
FAILED=0
: >"$WORK/results"
VIA="http://127.0.0.1:$RGATE_PORT/"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2 == 1)); then order="direct rgate"; else order="rgate direct"; fi
  for t in $order; do
    log "round $r: ${t/direct/$REF}, $RATE req/s for $DURATION"
    if [[ $t == direct ]]; then run "$REF" "$REF_URL" "$REF_PID" "$r"; else run rgate "$VIA" "$RGATE_PID" "$r"; fi
  done
done

echo
if [[ $LAYOUT == split ]]; then lay="loadgen cpu0, rgate+backend cpu1"; else lay="unpinned"; fi
echo "rgate added latency at $RATE req/s ($DURATION x $ROUNDS rounds, $CONNS connections, $lay)"
awk -v target="$TARGET_US" -v failed="$FAILED" -v noisemax="$NOISE_MAX" -v ref="$REF" '
function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
{
  r = val("round") + 0; t = val("label")
  p50[t, r] = val("p50_us"); p90[t, r] = val("p90_us"); p99[t, r] = val("p99_us"); p999[t, r] = val("p999_us")
  mx[t, r] = val("max_us"); cpu[t, r] = val("cpu_us_per_req"); lag[t, r] = val("lag_p99_us"); oth[t, r] = val("other_pct")
  if (val("other_pct") + 0 > noisemax) noisy = 1
  if (r > rounds) rounds = r
}
END {
  printf "%-7s %5s %9s %9s %9s %9s %9s %12s %12s %8s\n", "target", "round", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us", "cpu us/req", "lag p99 us", "other %"
  for (r = 1; r <= rounds; r++) for (ti = 1; ti <= 2; ti++) {
    t = (ti == 1 ? ref : "rgate")
    printf "%-7s %5d %9.0f %9.0f %9.0f %9.0f %9.0f %12s %12.0f %8s\n", t, r, p50[t, r], p90[t, r], p99[t, r], p999[t, r], mx[t, r], cpu[t, r], lag[t, r], oth[t, r]
  }
  n = 0
  for (r = 1; r <= rounds; r++) { d[++n] = p99["rgate", r] - p99[ref, r]; d50[n] = p50["rgate", r] - p50[ref, r] }
  # median of the per-round differences
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) { if (d[j] < d[i]) { x = d[i]; d[i] = d[j]; d[j] = x } if (d50[j] < d50[i]) { x = d50[i]; d50[i] = d50[j]; d50[j] = x } }
  med = (n % 2 ? d[(n + 1) / 2] : (d[n / 2] + d[n / 2 + 1]) / 2)
  med50 = (n % 2 ? d50[(n + 1) / 2] : (d50[n / 2] + d50[n / 2 + 1]) / 2)
  printf "added p99 per round (rgate - %s, us):", ref
  for (r = 1; r <= rounds; r++) printf " %.0f", p99["rgate", r] - p99[ref, r]
  printf "\nadded p50 (median over rounds): %.0f us\n", med50
  verdict = (med <= target ? "PASS" : "FAIL"); code = (med <= target ? 0 : 1)
  if (noisy) { verdict = "NOISY (would be " verdict "; other processes used > " noisemax "% of a core during some runs: rerun when quiet)"; code = 4 }
  if (failed) { verdict = "INVALID (requests failed)"; code = 3 }
  printf "ADDED_P99_US=%.0f (median over rounds; target <= %d us): %s\n", med, target, verdict
  exit code
}' "$WORK/results" || VERDICT=$?
if ((FAILED)); then log "some requests failed (see above)"; fi
exit "${VERDICT:-0}"
