#!/usr/bin/env bash
# Runs examples/cluster/compose.yml as local processes, without Docker:
# redis-server, the demo backend (bench/backend), three rgate replicas and
# HAProxy in TCP mode in front of them, all on 127.0.0.1. It sends some
# traffic through HAProxy and shows /stats?scope=cluster beside each
# replica's own /stats, then keeps running until Ctrl-C (or, with --check,
# verifies that the cluster figures are the replicas' sum, stops one
# replica, verifies it drops out, and exits). Everything it started is
# stopped when it exits.
#
#   examples/cluster/run-local.sh           # demo, then serve on 127.0.0.1:18180 until Ctrl-C
#   examples/cluster/run-local.sh --check   # demo and checks, then exit (0 when they pass)
#
# Needs: go, redis-server and haproxy (Debian: apt-get install redis-server haproxy), curl.
# Ports: HAProxy 18180, rgate 18181-18183, Redis 16379, backend 19001.
set -euo pipefail

cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
CHECK=0
[[ "${1:-}" == "--check" ]] && CHECK=1

for bin in go redis-server haproxy curl; do
	command -v "$bin" >/dev/null || { echo "run-local.sh: $bin is not installed" >&2; exit 1; }
done

RUN=$(mktemp -d)
declare -a PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	echo "stopped; logs were in $RUN (removed)"
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, its output in $RUN/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$RUN/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_${name//-/_}=$!"
}

# await PORT NAME: waits up to 10s until 127.0.0.1:PORT accepts connections.
await() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "run-local.sh: $2 did not listen on 127.0.0.1:$1; its log:" >&2
	cat "$RUN/$2.log" >&2
	exit 1
}

echo "building rgate and the demo backend"
go build -o "$RUN/rgate" ./cmd/rgate
go build -o "$RUN/backend" ./bench/backend

start redis redis-server --port 16379 --bind 127.0.0.1 --save "" --appendonly no --daemonize no
await 16379 redis
start backend "$RUN/backend" -addr 127.0.0.1:19001
await 19001 backend
for i in 1 2 3; do
	start "rgate-$i" "$RUN/rgate" --config examples/cluster/rgate-local.yml --port "1818$i" --bind 127.0.0.1
done
for i in 1 2 3; do await "1818$i" "rgate-$i"; done
LISTEN=127.0.0.1:18180 RGATE_1=127.0.0.1:18181 RGATE_2=127.0.0.1:18182 RGATE_3=127.0.0.1:18183 \
	start haproxy haproxy -db -f examples/cluster/haproxy.cfg
await 18180 haproxy
sleep 2.5 # HAProxy marks a replica up after two health checks, 1s apart

echo "sending 60 requests through HAProxy (127.0.0.1:18180)"
for _ in $(seq 60); do curl -s -o /dev/null http://127.0.0.1:18180/api/payment/x; done
sleep 1.5 # one publication of every replica

# counts URL: "success error" of a /stats document.
counts() {
	curl -s "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin)["requests_count"]; print(d["success"], d["error"])'
}
sum_s=0 sum_e=0
for i in 1 2 3; do
	read -r s e < <(counts "http://127.0.0.1:1818$i/stats")
	echo "replica rgate-$i (127.0.0.1:1818$i): success $s, error $e"
	sum_s=$((sum_s + s)) sum_e=$((sum_e + e))
done
echo "GET /stats?scope=cluster through HAProxy:"
curl -s 'http://127.0.0.1:18180/stats?scope=cluster' | python3 -m json.tool
read -r cs ce < <(counts 'http://127.0.0.1:18180/stats?scope=cluster')

if [[ $CHECK == 1 ]]; then
	fail=0
	if [[ "$cs $ce" != "$sum_s $sum_e" || $sum_s -ne 60 ]]; then
		echo "FAIL: cluster $cs/$ce, replicas' sum $sum_s/$sum_e (want 60 successes)" >&2
		fail=1
	fi
	kill -9 "$PID_rgate_3"
	echo "killed rgate-3 (SIGKILL); waiting for it to drop out"
	replicas=3
	for _ in $(seq 50); do
		replicas=$(curl -s 'http://127.0.0.1:18181/stats?scope=cluster' | python3 -c 'import json,sys; print(json.load(sys.stdin)["replicas"])')
		[[ $replicas == 2 ]] && break
		sleep 0.1
	done
	if [[ $replicas != 2 ]]; then
		echo "FAIL: still $replicas replicas 5s after one was killed" >&2
		fail=1
	fi
	[[ $fail == 0 ]] && echo "PASS: cluster stats are the replicas' sum; a killed replica dropped out"
	exit $fail
fi
echo "serving: curl http://127.0.0.1:18180/api/payment/x, dashboard http://127.0.0.1:18181/dashboard; Ctrl-C stops"
wait
