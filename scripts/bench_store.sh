#!/usr/bin/env bash
# Benchmark (not a test): what the state store (docs/operations.md, "State store") costs and
# gives. At N live mappings (default 1 000 000), in one run on the same cores:
#   - PCP MAP creates per second with the store off and on, alternated twice (target: on >=
#     80 % of off), and renewals per second both ways;
#   - restart time with N stored mappings: from the start of cgnatd to "cgnatd: ready" (the
#     restore comes before it), after a clean stop (SIGTERM) and after kill -9, against the
#     start of the same configuration with an empty store;
#   - octets on disk per mapping (LMDB pages in use, mdb_stat, divided by N).
#
#   scripts/bench_store.sh [MAPPINGS]
#
# Everything runs in a network namespace of its own, deleted on exit, with the store in its
# work folder. Prints one RESULT line per measurement; numbers go to docs/performance.md by hand.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
need_root bench_store "$top/scripts/bench_store.sh" "$@"
. "$top/scripts/lib/netns.sh"
netns_begin bench-store
"$top/scripts/setup.sh" >/dev/null

n=${1:-1000000}
load="$top/build/tests/bench/pcp_load"
ctl="$top/build/control/cgnatctl"
ports=64 # mappings per subscriber
subs=$(( (n + ports - 1) / ports ))
prefix="cgnstore$$"

# write_conf STORE(on|off)
write_conf() {
	local state=""
	[ "$1" = on ] && state='state = { path = "store"; };'
	cat > "$work/bench.conf" <<CONF
eal = { file_prefix = "$prefix"; lcores = "0-1"; no_huge = true; memory_mb = $(( 512 + n / 1000 )); };
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "127.0.0.0/8" ];
        max_mappings_per_subscriber = $ports; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/24" ]; block_size = 256; max_blocks = 4; max_subscribers = $(( subs + 1024 )); };
dataplane = { table_size = $(( n * 5 / 4 + 65536 )); ring_size = 65536; idle_sleep_us = 50; };
$state
CONF
}

# start: starts cgnatd (its pid in $pid); $ready_ms: the milliseconds it took to be ready.
start() {
	local t0 t1
	t0=$(date +%s%N)
	ip netns exec "$ns" "$top/build/control/cgnatd" -c "$work/bench.conf" > "$work/cgnatd.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 1200); do grep -q "cgnatd: ready" "$work/cgnatd.log" && break; sleep 0.02; done
	t1=$(date +%s%N)
	grep -q "cgnatd: ready" "$work/cgnatd.log" || { cat "$work/cgnatd.log" >&2; exit 1; }
	ready_ms=$(( (t1 - t0) / 1000000 ))
}

live() { ip netns exec "$ns" "$ctl" -p "$prefix" stats | awk '/^pcp_mappings:/ { print $2 }'; }

crash() {
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	rm -rf "/var/run/dpdk/$prefix"
}

rate() { sed -E 's/.*rate ([0-9]+).*/\1/'; }

# Off and on alternate, twice each (the machine is shared: a burst of other load hits one
# run, not one setting); the ratio is of the sums.
declare -A create renew
create[off]=0 create[on]=0 renew[off]=0 renew[on]=0
for round in 1 2; do
	for store in off on; do
		write_conf $store
		rm -rf "$work/store"
		start
		echo "== round $round, store $store: $n mappings ($subs subscribers x $ports)"
		c=$(ip netns exec "$ns" taskset -c 1 "$load" 127.0.0.1 $subs $ports 1 2>&1 | tr '\r' '\n' | grep -a 'rate' | tail -1 | rate)
		r=$(ip netns exec "$ns" taskset -c 1 "$load" 127.0.0.1 $subs $ports 2 2>&1 | tr '\r' '\n' | grep -a 'rate' | tail -1 | rate)
		echo "RESULT round=$round store=$store mappings=$n live=$(live) create=$c/s renew=$r/s"
		create[$store]=$(( ${create[$store]} + c ))
		renew[$store]=$(( ${renew[$store]} + r ))
		[ $round = 2 ] && [ $store = on ] || netns_stop_cgnatd
	done
done
printf 'RESULT create_on_over_off=%.2f renew_on_over_off=%.2f\n' \
	"$(echo "${create[on]} / ${create[off]}" | bc -l)" "$(echo "${renew[on]} / ${renew[off]}" | bc -l)"

# Octets on disk: the pages LMDB uses for the mappings, not the file's preallocated size.
stat=$(mdb_stat -e "$work/store")
psize=$(echo "$stat" | awk '/Page size:/ { print $3 }')
used=$(echo "$stat" | awk '/Number of pages used:/ { print $5 }')
echo "RESULT disk pages=$used page_size=$psize octets_per_mapping=$(( used * psize / n )) file_octets=$(stat -c %s "$work/store/data.mdb")"

netns_stop_cgnatd
start
echo "RESULT restart=clean mappings=$n ready_ms=$ready_ms restored=$(live)"
crash
start
echo "RESULT restart=kill-9 mappings=$n ready_ms=$ready_ms restored=$(live)"
netns_stop_cgnatd
rm -rf "$work/store"
start
echo "RESULT restart=empty-store ready_ms=$ready_ms restored=$(live)"
