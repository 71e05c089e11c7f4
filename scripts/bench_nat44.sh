#!/usr/bin/env bash
# Benchmark (not a test) of the NAT44 fast path: cgnatd with one worker reading a pcap of N
# flows over and over (net_pcap infinite_rx=1) into net_null, after the N sessions exist;
# and in the same run dpdk-testpmd io-forward on the same vdevs and core layout: the
# baseline. Prints Mpps of both and the ratio; then the session setup rate (every packet a
# new flow); then memory per session slot.
#
#   scripts/bench_nat44.sh [FLOWS...]        default: 10000 1000000
#   BENCH_HUGEPAGES=N: both programs on 2 MB hugepages (N reserved if fewer are, and the
#   reservation put back as it was at the end; --in-memory); default: none (--no-huge, memory
#   sized to the flows). BENCH_SECONDS=S: the measuring window (default 5); a smoke run:
#   BENCH_SECONDS=1 scripts/bench_nat44.sh 1000.
#
# Runs in a network namespace of its own (only loopback: telemetry needs no network). Numbers
# go to docs/performance.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
CGN_SUDO_KEEP="BENCH_HUGEPAGES BENCH_SECONDS" need_root bench_nat44 "$top/scripts/bench_nat44.sh" "$@"
. "$top/scripts/lib/bench.sh"
bench_begin bench-nat44
flows_list=("$@")
[ ${#flows_list[@]} -gt 0 ] || flows_list=(10000 1000000)
stat() { bench_stat "$@"; }

run_cgnatd() { # PCAP FLOWS MBUFS TABLE PREFIX
	local pcap=$1 flows=$2 mbufs=$3 table=$4 prefix=$5
	local subs=$(( flows / 64 + 1 ))
	cat > "$work/nat.conf" <<EOF
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10" ]; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/24" ]; block_size = 64; max_blocks = 2; max_subscribers = $subs;
        timeouts = { udp = 3600; }; };
dataplane = { table_size = $table; mbufs = $mbufs; mbuf_size = 256; expire_budget = 64; seed = 1; };
ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:01:01"; },
          { name = "net_null0"; role = "outside"; peer_mac = "02:00:00:00:02:02"; } );
EOF
	local mem=$(( 1024 + (flows > table ? flows : table) * 15 / 10000 ))
	bench_cgnatd "$work/nat.conf" $mem "$prefix" "net_pcap0,rx_pcap=$pcap,infinite_rx=1" "net_null0,no-rx=1"
}

for flows in "${flows_list[@]}"; do
	pcap="$work/flows-$flows.pcap"
	"$top/build/tests/bench/gen_flows" "$pcap" "$flows"
	mbufs=$(( flows + 16384 ))

	echo "== $flows flows: baseline, dpdk-testpmd io-forward net_pcap(infinite) -> net_null"
	base=$(bench_testpmd $(( 1024 + flows * 6 / 10000 )) $mbufs "net_pcap0,rx_pcap=$pcap,infinite_rx=1" "net_null0,no-rx=1")
	echo "testpmd: $base pps"

	echo "== $flows flows: cgnatd, one worker, sessions warmed"
	run_cgnatd "$pcap" "$flows" "$mbufs" $(( flows + flows / 4 + 4096 )) "bnat$$"
	# Session setup: sessions made while the first pass over the pcap makes them (every
	# packet a new flow), not counting the start and the end (scripts/lib/bench.sh).
	setup=$(bench_setup_rate "bnat$$" "$flows")
	rx0=$(stat "bnat$$" pkt_rx); tx0=$(stat "bnat$$" pkt_tx)
	sleep $seconds
	rx1=$(stat "bnat$$" pkt_rx); tx1=$(stat "bnat$$" pkt_tx)
	created=$(stat "bnat$$" pkt_sessions_created)
	drops=$(bench_drops "bnat$$")
	rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
	netns_stop_cgnatd
	pps=$(( (rx1 - rx0) / seconds ))
	# The NAT's own cost a packet: cgnatd's time a packet less io-forward's (the same PMDs).
	nat_ns=$(echo "if ($pps > 0 && ${base:-0} > 0) 1000000000 / $pps - 1000000000 / ${base:-1} else 0" | bc -l)
	printf 'RESULT flows=%s cgnatd_pps=%s tx_pps=%s testpmd_pps=%s ratio=%.2f nat_ns_per_packet=%.1f sessions=%s sessions_per_s=%.0f rss_mb=%d\n' \
		"$flows" "$pps" $(( (tx1 - tx0) / seconds )) "${base:-0}" "$(echo "$pps / ${base:-1}" | bc -l)" "$nat_ns" \
		"$created" "$setup" $((rss / 1024))
	[ -n "$drops" ] && echo "drops: $drops"
	rm -f "$pcap"
done

echo "== memory per session slot: DPDK heap in use at start with table_size T and 2T"
pcap="$work/one.pcap"
"$top/build/tests/bench/gen_flows" "$pcap" 1
heap_for() {
	run_cgnatd "$pcap" 1 20000 "$1" "bmem$$" >/dev/null
	ip netns exec "$ns" "$top/build/control/cgnatctl" -p "bmem$$" raw /eal/heap_info,0 | awk '/^Alloc_size:/ {print $2}'
	netns_stop_cgnatd
}
h1=$(heap_for 1000000)
h2=$(heap_for 2000000)
echo "RESULT bytes_per_session_slot=$(( (h2 - h1) / 1000000 )) (the shared table: entry, buckets of both sides, RCU queue; the control plane's tables)"
