#!/usr/bin/env bash
# Benchmark (not a test): PCP MAP requests per second handled by cgnatd's control thread on one
# core over loopback, at 10 k and 1 M live mappings, against a baseline measured in the same
# run: a bare UDP reflector on the same kernel path with the same batching (pcp_load echo).
# Over IPv4 (NAT44 mappings of 127.B.x.y subscribers) and over IPv6 (NAT64 mappings, RFC 6146,
# of one /56 per subscriber in 2001:db8::/32, a local route of the namespace's loopback, to
# cgnatd on [::1]:5351 with 64:ff9b::/96), each family with its own baseline.
#
#   scripts/bench_pcp.sh [-4|-6] [MAPPINGS...]      default: both families, 10000 1000000
#
# Then the request handler alone (tests/bench/bench_handler: no sockets), per family, which shows
# how much of the per-request cost is cgnatd's and how much the kernel's.
#
# Everything runs in a network namespace of its own, deleted on exit. Prints one line per
# measurement; numbers go to docs/performance.md by hand.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
need_root bench_pcp "$top/scripts/bench_pcp.sh" "$@"
. "$top/scripts/lib/netns.sh"
netns_begin bench-pcp
"$top/scripts/setup.sh" >/dev/null

families=(4 6)
case "${1:-}" in
-4) families=(4); shift ;;
-6) families=(6); shift ;;
esac
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 1000000)
load="$top/build/tests/bench/pcp_load"
ports=64 # mappings per subscriber
# The IPv6 subscribers' sources: no address of the namespace, a local route (pcp_load sends
# from them with IPV6_FREEBIND, and cgnatd's answers come back to it by the loopback).
ip -n "$ns" -6 route add local 2001:db8::/32 dev lo

for fam in "${families[@]}"; do
	if [ "$fam" = 4 ]; then
		echo_addr=127.0.0.250 server=127.0.0.1
		pcp_conf='listen = [ "127.0.0.1:5351" ]; inside = [ "127.0.0.0/8" ];'
		nat64_conf=''
	else
		echo_addr=::1 server=::1 # cgnatd is not up yet while the reflector runs
		pcp_conf='listen = [ "[::1]:5351" ]; inside = [ "2001:db8::/32" ];'
		nat64_conf='nat64 = { prefixes = [ "64:ff9b::/96" ]; subscriber_prefix_len = 56; };'
	fi
	echo "== IPv$fam baseline: UDP reflector on $echo_addr, same batching, same core layout"
	ip netns exec "$ns" taskset -c 0 "$load" echo "$echo_addr" 30 &
	echo_pid=$!
	sleep 0.3
	base=$(ip netns exec "$ns" taskset -c 1 "$load" "$echo_addr" 10000 $ports 3 | tee /dev/stderr | sed -E 's/.*rate ([0-9]+).*/\1/')
	kill $echo_pid 2>/dev/null; wait $echo_pid 2>/dev/null || true

	for n in "${sizes[@]}"; do
		subs=$(( (n + ports - 1) / ports ))
		table=$(( n * 5 / 4 + 65536 ))
		mem=$(( 512 + n / 1000 ))
		cat > "$work/bench.conf" <<CONF
eal = { file_prefix = "cgnbench$$"; lcores = "0-1"; no_huge = true; memory_mb = $mem; };
pcp = { $pcp_conf
        max_mappings_per_subscriber = $ports; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/24" ]; block_size = 256; max_blocks = 4; max_subscribers = $(( subs + 1024 )); };
$nat64_conf
dataplane = { table_size = $table; ring_size = 65536; idle_sleep_us = 50; };
CONF
		ip netns exec "$ns" "$top/build/control/cgnatd" -c "$work/bench.conf" > "$work/cgnatd.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 600); do grep -q "cgnatd: ready" "$work/cgnatd.log" && break; sleep 0.1; done
		grep -q "cgnatd: ready" "$work/cgnatd.log" || { cat "$work/cgnatd.log"; exit 1; }
		echo "== IPv$fam, $n live mappings ($subs subscribers x $ports)"
		create=$(ip netns exec "$ns" taskset -c 1 "$load" $server $subs $ports 1 | tee /dev/stderr | sed -E 's/.*rate ([0-9]+).*/\1/')
		passes=$(( 2000000 / n > 2 ? 2000000 / n : 2 )) # at least ~2 M renewals, for a stable figure
		renew=$(ip netns exec "$ns" taskset -c 1 "$load" $server $subs $ports $passes | tee /dev/stderr | sed -E 's/.*rate ([0-9]+).*/\1/')
		live=$(ip netns exec "$ns" "$top/build/control/cgnatctl" -p "cgnbench$$" stats | awk '/^pcp_mappings:/ {print $2}')
		rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
		printf 'RESULT family=%s mappings=%s live=%s create=%s/s renew=%s/s baseline=%s/s create_ratio=%.2f renew_ratio=%.2f rss_mb=%d\n' \
			"$fam" "$n" "$live" "$create" "$renew" "$base" "$(echo "$create / $base" | bc -l)" "$(echo "$renew / $base" | bc -l)" $((rss / 1024))
		netns_stop_cgnatd
	done
done

echo "== the request handler alone (no sockets), one core"
for fam in "${families[@]}"; do
	for n in "${sizes[@]}"; do
		taskset -c 1 "$top/build/tests/bench/bench_handler" "$n" "$fam" | sed "s/^/RESULT handler family=$fam mappings=$n /"
	done
done
