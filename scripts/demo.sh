#!/usr/bin/env bash
# The main job, start to end: sets up what is missing, builds, and shows cgnatd at work.
#
# Today the lab is one network namespace with cgnatd on its loopback (docs/examples/
# loopback.conf): a subscriber asks for a port mapping with pcpc, the mapping appears in the
# data plane's shared table, cgnatctl shows it with the counters, the subscriber deletes it.
# The namespace is created here and always deleted on exit; nothing touches the host's network.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. "$top/scripts/lib/netns.sh"
netns_begin demo

"$top/scripts/setup.sh"

bin="$top/build/control"
prefix="cgnatdemo$$"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
in_ns() { ip netns exec "$ns" "$@"; }

step "a network namespace of our own, loopback only"
echo "namespace $ns"

step "cgnatd on docs/examples/loopback.conf (PCP on 127.0.0.1:5351, pool 203.0.113.0/28)"
sed "s/file_prefix = \"cgnat\"/file_prefix = \"$prefix\"/" docs/examples/loopback.conf > "$work/cgnat.conf"
ip netns exec "$ns" "$bin/cgnatd" -c "$work/cgnat.conf" > "$work/cgnatd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	grep -q "cgnatd: ready" "$work/cgnatd.log" && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/cgnatd.log"; exit 1; }
	sleep 0.1
done
grep "cgnatd: ready" "$work/cgnatd.log"

nonce=00112233445566778899aabb
step "the subscriber 127.0.0.1 asks for UDP port 8080 to be reachable (PCP MAP)"
in_ns "$bin/pcpc" --irt 0.5 -n "$nonce" -p udp -i 8080 -l 3600 map

step "and for TCP 22, suggesting external port 2222"
in_ns "$bin/pcpc" --irt 0.5 -p tcp -i 22 -e 2222 map

step "the shared table, as the data-plane workers see it (cgnatctl mappings)"
sleep 0.2
in_ns "$bin/cgnatctl" -p "$prefix" mappings

step "a malformed request gets the RFC 6887 §8.2 answer: a MAP cut short → MALFORMED_REQUEST"
in_ns "$bin/pcpc" --irt 0.5 raw 0201000000000e1000000000000000000000ffff7f00000100000000 || echo "(exit status $?: the result code)"

step "the subscriber deletes its UDP mapping (lifetime 0, same nonce)"
in_ns "$bin/pcpc" --irt 0.5 -n "$nonce" -p udp -i 8080 -d map
sleep 0.2
in_ns "$bin/cgnatctl" -p "$prefix" mappings

step "counters (cgnatctl stats, non-zero ones)"
in_ns "$bin/cgnatctl" -p "$prefix" stats | grep -v ': 0$'

step "stopping cgnatd (SIGTERM)"
kill "$pid"
wait "$pid"
pid=""
tail -n 1 "$work/cgnatd.log"
echo
echo "demo: done"
