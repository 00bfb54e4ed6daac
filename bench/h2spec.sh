#!/usr/bin/env bash
# HTTP/2 conformance: h2spec against rgate's TLS port and against h2c on the
# plain port, both proxying to bench/backend. Prints each run's failures and
# its summary line; exits 1 when any case fails (3 and 4 do: see the README's
# "HTTP/2 and gRPC"). Needs go, openssl, curl and python3; h2spec is built from its
# module (github.com/summerwind/h2spec) when H2SPEC is not set.
#
#   bench/h2spec.sh                 # build rgate from this checkout
#   bench/h2spec.sh --rgate-bin B   # another rgate build
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

rgate_bin=""
while [ $# -gt 0 ]; do
	case $1 in
	--rgate-bin) rgate_bin=$2; shift 2 ;;
	-h | --help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "h2spec.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

run=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$run"
}
trap cleanup EXIT

h2spec=${H2SPEC:-}
if [ -z "$h2spec" ]; then
	GOBIN=$run go install github.com/summerwind/h2spec/cmd/h2spec@v2.0.0 2>/dev/null ||
		GOBIN=$run go install github.com/summerwind/h2spec/cmd/h2spec@latest
	h2spec=$run/h2spec
fi
if [ -z "$rgate_bin" ]; then
	go build -o "$run/rgate" ./cmd/rgate
	rgate_bin=$run/rgate
fi
go build -o "$run/backend" ./bench/backend

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
backend_port=$(port) plain_port=$(port) tls_port=$(port)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-keyout "$run/key.pem" -out "$run/cert.pem" -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 2>/dev/null
cat >"$run/rgate.yml" <<EOF
server:
  h2c: true
  tls:
    port: $tls_port
    certificates:
      - {cert_file: "$run/cert.pem", key_file: "$run/key.pem"}
routes:
  - {path_prefix: /, backend: bench}
backends:
  - {name: bench, urls: ["http://127.0.0.1:$backend_port"]}
EOF

"$run/backend" -addr "127.0.0.1:$backend_port" >/dev/null 2>&1 &
pids+=($!)
"$rgate_bin" --config "$run/rgate.yml" --port "$plain_port" --bind 127.0.0.1 --log-level warn >"$run/rgate.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	curl -sfk -o /dev/null "https://127.0.0.1:$tls_port/" && break
	sleep 0.2
done
curl -sfk -o /dev/null "https://127.0.0.1:$tls_port/" || { echo "rgate did not answer:"; cat "$run/rgate.log"; exit 2; }

status=0
for mode in tls h2c; do
	echo "== h2spec, $mode"
	if [ $mode = tls ]; then
		args=(-t -k -p "$tls_port")
	else
		args=(-p "$plain_port")
	fi
	out=$("$h2spec" -h 127.0.0.1 "${args[@]}" -o 3 2>&1) || status=1
	echo "$out" | sed -n '/^Failures:/,$p'
done
exit $status
