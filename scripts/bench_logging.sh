#!/usr/bin/env bash
# Benchmark (not a test) of NAT logging's cost (docs/operations.md, "NAT logging"): cgnatd
# with one worker reading a pcap of N flows (net_pcap infinite_rx=1) into net_null, as
# scripts/bench_nat44.sh does, in three modes alternated twice in one run on the same cores:
#   off       no logging group
#   blocks    port-block (and binding, PCP mapping, quota) events to an IPFIX collector
#   sessions  the same and every session create/delete (logging.sessions)
# For each: the session setup rate (every packet a new flow) and the forwarding rate once
# the N sessions exist, and the events logged and lost (log_events, log_dropped). The
# collector is a UDP socket on 127.0.0.1 that nobody reads: the exporter's whole cost (the
# encoding and the sendto) is paid, the kernel drops what the socket cannot hold. Targets:
# blocks ~ off; sessions >= 0.70 of off's setup rate.
#
#   scripts/bench_logging.sh [FLOWS...]      default: 1000000
#   BENCH_SECONDS=S: the forwarding window (default 5). BENCH_ROUNDS=R: rounds of the three
#   modes (default 3). BENCH_HUGEPAGES as bench_nat44.sh.
#
# Ends with one SUMMARY line per mode: the sums over the rounds of each rate, and their ratio
# to off's (sums rather than one round: this machine's rates move by 20 % between runs).
#
# Runs in a network namespace of its own (only loopback). Numbers go to docs/performance.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
CGN_SUDO_KEEP="BENCH_HUGEPAGES BENCH_SECONDS BENCH_ROUNDS" need_root bench_logging "$top/scripts/bench_logging.sh" "$@"
. "$top/scripts/lib/bench.sh"
bench_begin bench-logging
flows_list=("$@")
[ ${#flows_list[@]} -gt 0 ] || flows_list=(1000000)
stat() { bench_stat "$@"; }

# The collector nobody reads: bound for the whole run, so the exporter's datagrams are
# accepted by the kernel (no ICMP port unreachable), then dropped when its buffer is full.
ip netns exec "$ns" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 4739))
time.sleep(36000)' &
# (the namespace's cleanup kills it with whatever else still runs there)

logging_conf() { # MODE
	case $1 in
	off) ;;
	blocks) echo 'logging = { ipfix = { collector = "127.0.0.1:4739"; transport = "udp"; }; };' ;;
	sessions) echo 'logging = { sessions = true; ipfix = { collector = "127.0.0.1:4739"; transport = "udp"; }; };' ;;
	esac
}

run_cgnatd() { # MODE PCAP FLOWS MBUFS TABLE PREFIX
	local mode=$1 pcap=$2 flows=$3 mbufs=$4 table=$5 prefix=$6
	local subs=$(( flows / 64 + 1 ))
	cat > "$work/nat.conf" <<EOF
pcp = { listen = [ "127.0.0.1:5351" ]; inside = [ "100.64.0.0/10" ]; announce = { multicast = false; }; };
nat = { pool = [ "203.0.113.0/24" ]; block_size = 64; max_blocks = 2; max_subscribers = $subs;
        timeouts = { udp = 3600; }; };
dataplane = { table_size = $table; mbufs = $mbufs; mbuf_size = 256; expire_budget = 64; seed = 1; };
ports = ( { name = "net_pcap0"; role = "inside"; peer_mac = "02:00:00:00:01:01"; },
          { name = "net_null0"; role = "outside"; peer_mac = "02:00:00:00:02:02"; } );
$(logging_conf "$mode")
EOF
	local mem=$(( 1024 + (flows > table ? flows : table) * 15 / 10000 ))
	bench_cgnatd "$work/nat.conf" $mem "$prefix" "net_pcap0,rx_pcap=$pcap,infinite_rx=1" "net_null0,no-rx=1"
}

for flows in "${flows_list[@]}"; do
	pcap="$work/flows-$flows.pcap"
	"$top/build/tests/bench/gen_flows" "$pcap" "$flows"
	mbufs=$(( flows + 16384 ))
	for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
		for mode in off blocks sessions; do
			echo "== $flows flows, $mode (round $round)"
			prefix="blog$$$mode"
			run_cgnatd "$mode" "$pcap" "$flows" "$mbufs" $(( flows + flows / 4 + 4096 )) "$prefix"
			setup=$(bench_setup_rate "$prefix" "$flows")
			rx0=$(stat "$prefix" pkt_rx)
			sleep $seconds
			rx1=$(stat "$prefix" pkt_rx)
			created=$(stat "$prefix" pkt_sessions_created)
			events=$(stat "$prefix" log_events); events=${events:-0}
			lost=$(stat "$prefix" log_dropped); lost=${lost:-0}
			netns_stop_cgnatd
			printf 'RESULT flows=%s mode=%s round=%s sessions=%s sessions_per_s=%.0f pps=%s log_events=%s log_dropped=%s\n' \
				"$flows" "$mode" "$round" "$created" "$setup" $(( (rx1 - rx0) / seconds )) "$events" "$lost" |
				tee -a "$work/results"
		done
	done
	awk -v flows="$flows" '$1 == "RESULT" && $2 == "flows=" flows {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		setup[v["mode"]] += v["sessions_per_s"]; pps[v["mode"]] += v["pps"]; n[v["mode"]]++
	} END {
		split("off blocks sessions", modes, " ")
		for (m = 1; m <= 3; m++) { k = modes[m]
			printf "SUMMARY flows=%s mode=%s rounds=%d setup_per_s=%.0f setup_ratio=%.2f pps=%.0f pps_ratio=%.2f\n",
				flows, k, n[k], setup[k] / n[k], setup[k] / setup["off"], pps[k] / n[k], pps[k] / pps["off"] }
	}' "$work/results"
	rm -f "$pcap"
done
