#!/usr/bin/env bash
# Starts demo containers for examples/rgate.yml, built offline from
# test/testapp (nothing is pulled):
#   payment-1, payment-2  app_name=payment env=production  ports 9001, 9002
#   orders-1              app_name=orders  env=production  port 9003
# All run with --network host and listen on 127.0.0.1 only.
#
#   examples/demo.sh          start them (again: a no-op for those running)
#   examples/demo.sh stop     remove them (every container labelled rgate.demo=1)
#   examples/demo.sh status   list them
#   REBUILD=1 examples/demo.sh   rebuild the image first
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
IMAGE=rgate-testapp:latest

# build_image makes the image from the static testapp binary alone, as the
# end-to-end tests do: /app, /bin/sh linked to it (for health checks), /tmp.
# It runs in a subshell, so that the trap removing its temporary directory
# fires when it ends (done or failed) and is not left set for the rest.
build_image() (
	rootfs=$(mktemp -d)
	trap 'rm -rf "$rootfs"' EXIT
	echo "building $IMAGE from test/testapp"
	CGO_ENABLED=0 go build -o "$rootfs/app" ./test/testapp
	mkdir -p "$rootfs/bin" "$rootfs/tmp"
	chmod 1777 "$rootfs/tmp"
	ln "$rootfs/app" "$rootfs/bin/sh"
	tar -C "$rootfs" -c . | docker import -c 'ENTRYPOINT ["/app"]' - "$IMAGE" >/dev/null
)

# run NAME PORT APP_NAME: starts the container unless it is running already.
run() {
	local name=$1 port=$2 app=$3 running
	running=$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null || true)
	case "$running" in
	true)
		echo "$name already running on 127.0.0.1:$port"
		return
		;;
	false)
		echo "starting existing $name"
		docker start "$name" >/dev/null
		;;
	*)
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "port $port is already in use by something else; $name would not start" >&2
			exit 1
		fi
		docker run -d --name "$name" --network host \
			--label rgate.demo=1 --label "app_name=$app" --label env=production \
			--label "rgate.port=$port" \
			-e "LISTEN=127.0.0.1:$port" -e "NAME=$name" \
			"$IMAGE" >/dev/null
		;;
	esac
	for _ in $(seq 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$name listening on 127.0.0.1:$port"
			return
		fi
		sleep 0.1
	done
	echo "$name did not start listening on 127.0.0.1:$port; docker logs:" >&2
	docker logs "$name" >&2 || true
	exit 1
}

start() {
	if [[ "${REBUILD:-}" == 1 ]] || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
		build_image
	fi
	run payment-1 9001 payment
	run payment-2 9002 payment
	run orders-1 9003 orders
	cat <<'MSG'

Now start the gateway in another terminal:
  go run ./cmd/rgate --config examples/rgate.yml --port 8080

and try:
  curl -i localhost:8080/api/payment/charge      # payment-1 or payment-2 (see X-Backend-Name)
  curl -i localhost:8080/api/orders/list         # orders-1
  curl -i localhost:8080/nope                    # 403 "This is not reachable"
  curl -s localhost:8080/api/payment/bytes?n=100 | wc -c
  curl -i localhost:8080/api/payment/sleep?d=1s
  curl -s localhost:8080/stats
  curl -s localhost:8080/health
  docker stop payment-1                          # now only payment-2 answers
  docker start payment-1

Stop the demo with: examples/demo.sh stop
MSG
}

stop() {
	local ids
	ids=$(docker ps -aq --filter label=rgate.demo=1)
	if [[ -n "$ids" ]]; then
		# shellcheck disable=SC2086 # one id per word
		docker rm -f $ids >/dev/null
		echo "removed the demo containers"
	else
		echo "no demo containers"
	fi
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status) docker ps -a --filter label=rgate.demo=1 --format 'table {{.Names}}\t{{.Status}}\t{{.Label "rgate.port"}}' ;;
*)
	echo "usage: $0 [start|stop|status]" >&2
	exit 2
	;;
esac
