#!/usr/bin/env bash
# Benchmark (not a test) of the NAT64 fast path against NAT44's, in one run, by the ratio
# method of scripts/bench_nat44.sh: each measurement of cgnatd (one worker) is divided by
# dpdk-testpmd io-forward on the same vdevs and core layout, measured just before it, and the
# NAT64 ratio by the NAT44 ratio. Per FLOWS, per family (nat64: IPv6 subscribers to
# 64:ff9b:1::198.51.100.1, RFC 8215's local-use prefix; nat44: IPv4 subscribers to
# 198.51.100.1), minimum-size UDP frames (tests/bench/gen_flows.c: IPv6 64 octets, IPv4 60):
#   out   inside -> outside (6->4, 4->4): net_pcap reading the flows over and over
#         (infinite_rx=1) into net_null, after the sessions exist; and the session setup rate
#         while the first pass makes them (every packet a new flow);
#   ret   the return traffic, outside -> inside (4->6, 4->4): the outside port's pcap is what
#         cgnatd sent there in a recording run (net_pcap tx_pcap), every frame's addresses and
#         ports swapped (gen_flows -r); the measuring run makes the same sessions from the
#         inside's pcap, read once (dataplane.seed fixed, one worker: the same external
#         endpoints), while the outside's pcap plays over and over; measured once every
#         session exists. The inside port's TX says how many were translated; a mismatch
#         (another allocation) shows as drops and a low tx_pps.
#
#   scripts/bench_nat64.sh [FLOWS...]        default: 10000 1000000
#   BENCH_SECONDS=S (default 5), BENCH_HUGEPAGES=N: as for bench_nat44.sh (scripts/lib/bench.sh);
#   a smoke run: BENCH_SECONDS=1 scripts/bench_nat64.sh 1000; BENCH_FAMILIES="nat64" (or
#   "nat44") measures one family only (no NAT64/NAT44 line then)
#
# Lines "RESULT ..." carry the numbers: one per family and direction, then per direction the
# NAT64/NAT44 ratio. Runs in a network namespace of its own.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
CGN_SUDO_KEEP="BENCH_HUGEPAGES BENCH_SECONDS BENCH_FAMILIES" need_root bench_nat64 "$top/scripts/bench_nat64.sh" "$@"
. "$top/scripts/lib/bench.sh"
bench_begin bench-nat64
flows_list=("$@")
[ ${#flows_list[@]} -gt 0 ] || flows_list=(10000 1000000)
gen=$top/build/tests/bench/gen_flows

write_conf() { # FLOWS MBUFS TABLE OUTSIDE_VDEV_NAME
	local subs=$(( $1 / 64 + 1 ))
	cat > "$work/nat.conf" <<EOF
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10", "2001:db8::/32" ]; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/24" ]; block_size = 64; max_blocks = 2; max_subscribers = $subs;
        timeouts = { udp = 3600; }; };
nat64 = { prefixes = [ "64:ff9b:1::/96" ]; subscriber_prefix_len = 56; };
dataplane = { table_size = $3; mbufs = $2; mbuf_size = 256; expire_budget = 64; seed = 1; };
ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:01:01"; },
          { name = "$4"; role = "outside"; peer_mac = "02:00:00:00:02:02"; } );
EOF
}

# Counters over the window: sets d_NAME (a second) for each NAME given, from cgnatd $1.
window() {
	local prefix=$1 k
	shift
	declare -A a
	for k in "$@"; do a[$k]=$(bench_stat "$prefix" "$k"); done
	sleep "$seconds"
	for k in "$@"; do printf -v "d_$k" '%s' $(( ($(bench_stat "$prefix" "$k") - ${a[$k]:-0}) / seconds )); done
}

wait_sessions() { # PREFIX FLOWS: 60 s at most
	for _ in $(seq 1 600); do
		[ "$(bench_stat "$1" pkt_sessions_created)" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "only $(bench_stat "$1" pkt_sessions_created) of $2 sessions after 60 s"
	bench_drops "$1"
	return 1
}

ratio() { echo "if (${2:-0} > 0) $1 / $2 else 0" | bc -l; }
nat_ns() { echo "if ($1 > 0 && ${2:-0} > 0) 1000000000 / $1 - 1000000000 / $2 else 0" | bc -l; }

declare -A R # R[fam,dir,flows]: cgnatd / testpmd
for flows in "${flows_list[@]}"; do
	mbufs=$(( flows + 16384 ))
	table=$(( flows + flows / 4 + 4096 ))
	mem=$(( 1024 + (flows > table ? flows : table) * 15 / 10000 ))
	tpmem=$(( 1024 + flows * 6 / 10000 ))
	"$gen" "$work/fwd44.pcap" "$flows"
	"$gen" -6 "$work/fwd64.pcap" "$flows"
	for fam in ${BENCH_FAMILIES:-nat64 nat44}; do
		fwd=$work/fwd${fam#nat}.pcap
		in_inf="net_pcap0,rx_pcap=$fwd,infinite_rx=1"

		echo "== $fam, $flows flows, out: testpmd io-forward net_pcap(infinite) -> net_null"
		base=$(bench_testpmd $tpmem $mbufs "$in_inf" "net_null0,no-rx=1")
		echo "testpmd: $base pps"
		echo "== $fam, $flows flows, out: cgnatd"
		write_conf "$flows" "$mbufs" "$table" net_null0
		bench_cgnatd "$work/nat.conf" $mem "b$$" "$in_inf" "net_null0,no-rx=1"
		setup=$(bench_setup_rate "b$$" "$flows")
		wait_sessions "b$$" "$flows"
		window "b$$" pkt_rx pkt_tx
		created=$(bench_stat "b$$" pkt_sessions_created)
		drops=$(bench_drops "b$$")
		netns_stop_cgnatd
		R[$fam,out,$flows]=$(ratio "$d_pkt_rx" "$base")
		printf 'RESULT %s dir=out flows=%s cgnatd_pps=%s tx_pps=%s testpmd_pps=%s ratio=%.3f nat_ns_per_packet=%.1f sessions=%s sessions_per_s=%.0f\n' \
			"$fam" "$flows" "$d_pkt_rx" "$d_pkt_tx" "$base" "${R[$fam,out,$flows]}" "$(nat_ns "$d_pkt_rx" "$base")" \
			"$created" "$setup"
		[ -n "$drops" ] && echo "drops: $drops"

		echo "== $fam, $flows flows, ret: recording what cgnatd sends on its outside"
		write_conf "$flows" "$mbufs" "$table" net_pcap1
		bench_cgnatd "$work/nat.conf" $mem "b$$" "net_pcap0,rx_pcap=$fwd" "net_pcap1,tx_pcap=$work/out.pcap"
		wait_sessions "b$$" "$flows"
		for _ in $(seq 1 100); do
			[ "$(bench_stat "b$$" port1_opackets)" -ge "$flows" ] && break
			sleep 0.1
		done
		netns_stop_cgnatd
		n=$("$gen" -r "$work/out.pcap" "$work/ret.pcap")
		rm -f "$work/out.pcap"
		[ "$n" -eq "$flows" ] || { echo "bench_nat64: recorded $n frames, not $flows"; exit 1; }
		in_once="net_pcap0,rx_pcap=$fwd" out_inf="net_pcap1,rx_pcap=$work/ret.pcap,infinite_rx=1"

		echo "== $fam, $flows flows, ret: testpmd io-forward net_pcap(once) <-> net_pcap(infinite)"
		base=$(bench_testpmd $tpmem $mbufs "$in_once" "$out_inf")
		echo "testpmd: $base pps"
		echo "== $fam, $flows flows, ret: cgnatd, sessions made by one pass from the inside"
		bench_cgnatd "$work/nat.conf" $mem "b$$" "$in_once" "$out_inf"
		wait_sessions "b$$" "$flows"
		sleep 0.5
		drops0=$(bench_drops "b$$")
		window "b$$" port1_ipackets port0_opackets
		drops=$(bench_drops "b$$")
		netns_stop_cgnatd
		rm -f "$work/ret.pcap"
		R[$fam,ret,$flows]=$(ratio "$d_port1_ipackets" "$base")
		printf 'RESULT %s dir=ret flows=%s cgnatd_pps=%s tx_pps=%s testpmd_pps=%s ratio=%.3f nat_ns_per_packet=%.1f\n' \
			"$fam" "$flows" "$d_port1_ipackets" "$d_port0_opackets" "$base" "${R[$fam,ret,$flows]}" \
			"$(nat_ns "$d_port1_ipackets" "$base")"
		[ "$drops" != "$drops0" ] && echo "drops before the window: ${drops0:-none}; after: $drops"
	done
	rm -f "$work/fwd44.pcap" "$work/fwd64.pcap"
	[ -n "${R[nat64,out,$flows]:-}" ] && [ -n "${R[nat44,out,$flows]:-}" ] || continue
	for dir in out ret; do
		printf 'RESULT nat64/nat44 dir=%s flows=%s ratio=%.3f\n' "$dir" "$flows" \
			"$(ratio "${R[nat64,$dir,$flows]}" "${R[nat44,$dir,$flows]}")"
	done
done
