# Sourced by the NAT benchmarks (scripts/bench_nat44.sh, bench_nat64.sh) after root.sh: one
# network namespace with only loopback (scripts/lib/netns.sh; telemetry needs no network),
# optional hugepages, and the pieces every measurement is made of: dpdk-testpmd io-forward on
# the NAT's own vdevs (the baseline of the ratio method), cgnatd started on them, the session
# setup rate, and counters read through cgnatctl.
#
#   bench_begin NAME        root check, namespace $ns, work folder $work, packages and build;
#                           BENCH_HUGEPAGES=N: 2 MB hugepages (N reserved if fewer are, the
#                           reservation put back at the end; --in-memory), else --no-huge;
#                           BENCH_SECONDS=S: the measuring window (default 5; 1 for a smoke run)
#   mem_args MB             EAL's memory options, the same for cgnatd and testpmd
#   bench_stat PREFIX KEY   one counter of cgnatctl stats (the cgnatd of file prefix PREFIX)
#   bench_drops PREFIX      the drop_ counters that are not zero, one "name: value" a line
#   bench_testpmd MB MBUFS VDEV...
#                           testpmd io-forward on the vdevs, every port's RX summed over one
#                           stats period of $seconds (the first with a rate: the first display
#                           has none): prints packets a second
#   bench_cgnatd CONF MB PREFIX VDEV...
#                           cgnatd with one worker (-l 0-1) on the vdevs; sets $pid; returns
#                           when it is ready (2 minutes at most), 1 if it failed
#   bench_setup_rate PREFIX FLOWS
#                           sessions a second while the first FLOWS are being made (every
#                           packet a new flow): the ones made between the first and the last
#                           sample that saw creation going on, not the start nor the end; a
#                           lower bound (FLOWS over the whole wait) when it was too quick to
#                           sample; 30 s at most

bench_begin() {
	. "$top/scripts/lib/netns.sh"
	netns_begin "$1"
	"$top/scripts/setup.sh" >/dev/null
	seconds=${BENCH_SECONDS:-5}
	huge=${BENCH_HUGEPAGES:-0}
	if [ "$huge" -gt 0 ]; then
		nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
		reserved_before=$(cat $nr)
		bench_cleanup() { netns_cleanup; echo "$reserved_before" > "$nr"; }
		trap bench_cleanup EXIT INT TERM
		[ "$reserved_before" -ge "$huge" ] || echo "$huge" > $nr
		mount | grep -q "type hugetlbfs" || { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; }
		echo "hugepages: $(cat $nr) of 2 MB"
	fi
}

mem_args() {
	if [ "$huge" -gt 0 ]; then echo "--in-memory -m $1"; else echo "--no-huge --no-shconf -m $1"; fi
}

bench_stat() { ip netns exec "$ns" "$top/build/control/cgnatctl" -p "$1" stats | awk -v k="$2:" '$1 == k {print $2}'; }
bench_drops() { ip netns exec "$ns" "$top/build/control/cgnatctl" -p "$1" stats | awk '/^drop_/ && $2 > 0'; }

bench_testpmd() {
	local mb=$1 mbufs=$2 vdevs=() v pps
	shift 2
	for v in "$@"; do vdevs+=(--vdev "$v"); done
	pps=$(timeout $((2 * seconds + 120)) ip netns exec "$ns" dpdk-testpmd -l 0-1 $(mem_args "$mb") --no-pci \
		--file-prefix "tp$$" "${vdevs[@]}" --log-level='*:warning' -- --auto-start --forward-mode=io \
		--stats-period="$seconds" --total-num-mbufs="$mbufs" --mbuf-size=256 < /dev/null 2>&1 |
		awk -v ports=$# '/Rx-pps:/ { n++; sum += $2; if (n % ports == 0) { if (sum > 0) { print sum; exit } sum = 0 } }') || true
	rm -rf "/var/run/dpdk/tp$$"
	echo "${pps:-0}"
}

bench_cgnatd() {
	local conf=$1 mb=$2 prefix=$3 vdevs=() v
	shift 3
	for v in "$@"; do vdevs+=(--vdev "$v"); done
	: > "$work/cgnatd.log" # emptied here, not by the job's redirection: no "ready" of the last one
	ip netns exec "$ns" "$top/build/control/cgnatd" -l 0-1 $(mem_args "$mb") --no-pci --file-prefix "$prefix" \
		"${vdevs[@]}" -- -c "$conf" >> "$work/cgnatd.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 1200); do
		grep -q "cgnatd: ready" "$work/cgnatd.log" && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/cgnatd.log"
	rm -rf "/var/run/dpdk/$prefix" # EAL made it before it failed
	return 1
}

bench_setup_rate() {
	local prefix=$1 flows=$2 t0 t1 ta="" ma=0 tb="" mb=0 made now
	t0=$(date +%s.%N)
	for _ in $(seq 1 3000); do
		made=$(bench_stat "$prefix" pkt_sessions_created)
		now=$(date +%s.%N)
		[ "${made:-0}" -ge "$flows" ] && break
		if [ "${made:-0}" -gt 0 ]; then
			[ -z "$ta" ] && ta=$now ma=$made
			tb=$now mb=$made
		fi
		sleep 0.01
	done
	t1=$(date +%s.%N)
	if [ -n "$ta" ] && [ "$mb" -gt "$ma" ]; then
		echo "($mb - $ma) / ($tb - $ta)" | bc -l
	else
		echo "$flows / ($t1 - $t0)" | bc -l
	fi
}
