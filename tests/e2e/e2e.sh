#!/usr/bin/env bash
# Suite 'e2e': real kernel traffic through cgnatd in the lab of scripts/lab.sh (its own
# namespaces, prefixed, always deleted). Each case asserts what a user would see; the last
# line is "N passed, M failed" (scripts/test.sh counts the cases from it).
#   CGNATD_BUILD: the build folder (meson passes it)
#   E2E_CASES: the cases to run, by name without case_ (default: all, in order)
set -uo pipefail

[ "$(id -u)" -eq 0 ] || { echo "e2e: network namespaces need root; run the test suite as root" >&2; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
export CGNATD_BUILD=${CGNATD_BUILD:-$top/build}
export LAB_PREFIX="e2e$$-"
bin=$CGNATD_BUILD/control
lab=$top/scripts/lab.sh
www=$(mktemp -d /tmp/cgnat-e2e.XXXXXX)
passed=0 failed=0

cleanup() {
	stop_jobs
	"$lab" down
	rm -rf "$www"
}
trap cleanup EXIT INT TERM

. "$top/scripts/lib/lab_client.sh"
counter() { ctl stats | awk -v k="$1:" '$1 == k { print $2 }'; }
pcpc() { local n=$1; shift; in_ns "$n" timeout 20 "$bin/pcpc" --irt 0.3 --mrc 3 "$@"; }
fail() { echo "    $*"; exit 1; } # cases run in a subshell: this ends the case

run_case() { # NAME: runs case_NAME, prints PASS/FAIL
	local out
	if out=$("case_$1" 2>&1); then
		echo "PASS $1"
		passed=$((passed + 1))
	else
		echo "FAIL $1"
		echo "$out" | sed 's/^/    /' | tail -20
		failed=$((failed + 1))
	fi
}

mapped() { cat "$www/ext" 2>/dev/null; }

# Runs a check until it holds, 2 s at most: a change cgnatd has answered (PCP, NAT-PMP)
# reaches the table a moment later, when a worker applies it from its ring, and telemetry
# reads that table (once seen missing under the sanitizers right after the answer).
eventually() { local i; for i in $(seq 1 20); do "$@" && return 0; sleep 0.1; done; return 1; }
nat64_mapping_on() { ctl mappings -a | grep -Eq "^tcp +\[2001:db8:6::2\]:8080 +$1 .*EXPLICIT"; }
natpmp_mapping_of_sub1() { ctl sessions 100.64.1.2 | grep -q "^tcp .*100.64.1.2:9000 .*NATPMP"; }


# For a case that reloads cgnatd: sets the caller's state (the lab's folder), conf (its config
# file) and pid (cgnatd's), keeps a copy of the file in $www/cgnat.conf.orig to put back, and
# checks that sub2 reaches inet beforehand.
lab_conf_to_edit() {
	state=/run/cgnat-lab${LAB_PREFIX:+-$LAB_PREFIX}
	conf=$state/cgnat.conf
	pid=$(cat "$state/cgnatd.pid")
	cp "$conf" "$www/cgnat.conf.orig"
	in_ns sub2 ping -c 1 -W 2 198.51.100.10 >/dev/null || fail "no ping before"
} # sub1's TCP 8080 mapping, made by pcp_map_then_inbound_tcp

case_ping_through_the_nat() {
	in_ns sub2 ping -c 3 -i 0.2 -W 2 198.51.100.10 | grep -q "3 received" || fail "sub2 cannot ping inet"
	in_ns sub1 ping -c 1 -W 2 100.64.0.254 | grep -q "1 received" || fail "no echo from the CGN's inside address"
	[ "$(counter pkt_echo_replies)" -ge 1 ] || fail "pkt_echo_replies not counted"
}

case_next_hops_resolved_by_arp() {
	# The lab names next hops, not MACs: cgnatd asked for them (ARP requests from its port
	# addresses) and learned the answers; the traffic of the other cases depends on it.
	local table
	table=$(ctl neighbours)
	echo "$table" | grep -Eq "^100\.64\.0\.1 +net_af_packet0 +02:00:00:00:10:01 +(reachable|stale) +gateway" ||
		fail "inside next hop 100.64.0.1 unresolved: $table"
	echo "$table" | grep -Eq "^198\.51\.100\.10 +net_af_packet1 +02:00:00:00:20:01 +(reachable|stale) +gateway" ||
		fail "outside next hop 198.51.100.10 unresolved: $table"
	[ "$(counter nh_arp_requests)" -ge 2 ] || fail "no ARP requests counted"
	[ "$(counter pkt_arp_learned)" -ge 2 ] || fail "no ARP answers learned"
	in_ns inet ip neigh show 198.51.100.1 | grep -q lladdr || fail "inet has no neighbour entry for cgnatd"
}

case_ipv6_subscriber_reaches_the_router() {
	# sub6, IPv6 only, behind the access router: the router's addresses on sub6's segment and
	# on the access segment to cgnatd answer (IPv6 on r-in, forwarding in the cgn namespace),
	# the router sends 64:ff9b::/96 to cgnatd, and the kernel leaves cgnatd's ports alone.
	local a out l
	for a in 2001:db8:6::1 2001:db8:100::1; do
		out=$(in_ns sub6 ping -6 -c 3 -i 0.2 -W 2 "$a" 2>&1) || fail "sub6 cannot ping $a: $out"
		echo "$out" | grep -q "3 received" || fail "ping $a: $out"
	done
	[ "$(in_ns cgn sysctl -n net.ipv6.conf.all.forwarding)" = 1 ] || fail "the router does not forward IPv6"
	in_ns cgn ip -6 route show 64:ff9b::/96 | grep -q "via 2001:db8:100::254 dev r-in" ||
		fail "no route to 64:ff9b::/96: $(in_ns cgn ip -6 route)"
	for l in dp-in dp-out; do
		[ "$(in_ns cgn sysctl -n "net.ipv6.conf.$l.disable_ipv6")" = 1 ] || fail "the kernel speaks IPv6 on $l"
	done
	in_ns sub6 ip -4 addr show dev s6 | grep -q inet && fail "sub6 has IPv4: $(in_ns sub6 ip addr)"
	return 0
}

case_cgnatd_answers_ipv6_on_its_inside_port() {
	# An echo request from sub6 to cgnatd's inside address 2001:db8:100::254 is answered (RFC 4443 §4.2); the
	# router found that address by Neighbor Discovery, and cgnatd its route's next hop, the
	# router: 2001:db8:100::1 learned by ND (RFC 4861 §7.2; from the router's own solicitation
	# (§7.2.3) or an answer to cgnatd's), so no reply waits for it and all three come back.
	local out table
	out=$(in_ns sub6 ping -6 -c 3 -i 0.2 -W 2 2001:db8:100::254 2>&1) || fail "no echo from 2001:db8:100::254: $out"
	echo "$out" | grep -q "3 received" || fail "ping 2001:db8:100::254: $out"
	table=$(ctl neighbours)
	echo "$table" | awk '$1 == "2001:db8:100::1" && $2 == "net_af_packet0" && $3 == "02:00:00:00:10:01" &&
		$4 ~ /^(reachable|stale|delay|probe)$/ { found = 1 } END { exit !found }' ||
		fail "2001:db8:100::1 not learned on net_af_packet0 with 02:00:00:00:10:01: $table"
}

case_directly_connected_host() {
	# 100.64.0.7 on the access router's segment (a second address of r-in) is directly
	# connected: the first reply to it finds no neighbour (dropped, counted), cgnatd asks for
	# it by ARP, the kernel answers, and the rest arrive.
	local before out
	before=$(counter nh_learned)
	in_ns cgn ip addr add 100.64.0.7/24 dev r-in
	out=$(in_ns cgn ping -c 4 -i 0.3 -W 2 -I 100.64.0.7 198.51.100.10 || true)
	in_ns cgn ip addr del 100.64.0.7/24 dev r-in
	echo "$out" | grep -Eq "[34] received" || fail "ping from 100.64.0.7: $out"
	[ "$(counter nh_learned)" -eq $((before + 1)) ] || fail "no neighbour learned"
	[ "$(counter drop_NO_NEIGHBOUR)" -ge 1 ] || fail "the first reply was not counted as NO_NEIGHBOUR"
	ctl neighbours | grep -Eq "^100\.64\.0\.7 +net_af_packet0 +02:00:00:00:10:01 +reachable +learned" ||
		fail "100.64.0.7 not in the neighbour table: $(ctl neighbours)"
	ctl routes | grep -Eq "^100\.64\.0\.0/24 +inside +net_af_packet0 +connected" || fail "routes: $(ctl routes)"
}

case_traceroute_through_the_nat() {
	# traceroute from sub2 with UDP, ICMP and TCP probes: 1 the access router, 2 the CGN
	# (time exceeded from dataplane.icmp_source, translated back, RFC 5508), 3 inet itself
	# (its port unreachable, echo reply or SYN/ACK found its way back through the NAT). Two
	# probes a hop, one answer needed: full runs of the suite twice lost the one probe of the
	# third hop (NAT44 TCP under the sanitizers, NAT64 ICMP in the plain build), never seen in
	# runs of the lab alone.
	local method out
	for method in "" "-I" "-T -p 80"; do
		out=$(in_ns sub2 timeout 60 traceroute -n -q 2 -w 3 -m 5 $method 198.51.100.10 2>&1) ||
			fail "traceroute $method: $out"
		echo "$out" | grep -Eq "^ 1  (\* )?100\.64\.2\.1 " || fail "traceroute $method, hop 1: $out"
		echo "$out" | grep -Eq "^ 2  (\* )?203\.0\.113\.15 " || fail "traceroute $method, hop 2 is not the CGN: $out"
		echo "$out" | grep -Eq "^ 3  (\* )?198\.51\.100\.10 " || fail "traceroute $method, hop 3 is not inet: $out"
		echo "$out" | grep -q "^ 4 " && fail "traceroute $method went past inet: $out"
	done
	return 0
}

case_implicit_mapping_browsing() {
	local got
	got=$(in_ns sub2 curl -sS -m 5 http://198.51.100.10/) || fail "curl failed"
	[ "$got" = "inet page" ] || fail "sub2 got '$got'"
	ctl sessions 100.64.2.2 | grep -q "^tcp .*100.64.2.2:.*IMPLICIT" || fail "no implicit TCP session for sub2"
}

case_pcp_map_then_inbound_tcp() {
	# RFC 6887 §11: MAP through cgnatd's inside DPDK port; then inet connects in (§11.3's purpose).
	local out got
	out=$(pcpc sub1 -s 100.64.0.254 -p tcp -i 8080 -l 600 map) || fail "pcpc: $out"
	local ext
	ext=$(echo "$out" | awk '/^external:/ { print $2 }')
	echo "$ext" > "$www/ext"
	[[ "$ext" == 203.0.113.* ]] || fail "external endpoint '$ext' not in the pool"
	got=$(in_ns inet curl -sS -m 5 "http://$ext/") || fail "inet cannot connect to $ext"
	[ "$got" = "sub1 page" ] || fail "inet got '$got'"
	[ "$(counter punt_answered)" -ge 1 ] || fail "the answer did not come by the DPDK port"
}

case_hairpin_to_an_external_address() {
	local got ext
	ext=$(mapped)
	[ -n "$ext" ] || fail "no mapping from the previous case"
	got=$(in_ns sub2 curl -sS -m 5 "http://$ext/") || fail "sub2 cannot reach $ext"
	[ "$got" = "sub1 page" ] || fail "sub2 got '$got'"
	[ "$(counter pkt_hairpinned)" -ge 1 ] || fail "pkt_hairpinned not counted"
}

case_tcp_transfer_of_4_mb() {
	local got ext
	ext=$(mapped)
	[ -n "$ext" ] || fail "no mapping from the previous case"
	got=$(in_ns inet curl -sS -m 30 "http://$ext/blob" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$(sha256sum < "$www/sub1/blob" | cut -d' ' -f1)" ] || fail "4 MiB through the NAT arrived damaged or short"
	[ "$(in_ns inet curl -sS -m 30 -o /dev/null -w '%{size_download}' "http://$ext/blob")" = 4194304 ] ||
		fail "byte count differs"
}

case_datagrams_in_fragments_both_ways() {
	# Datagrams bigger than the links' MTU (1500) cross in fragments, each way: sub2's kernel
	# fragments a 4000-octet echo request and a 4096-octet UDP datagram, inet's kernel its
	# answers; each end reassembles and checks the checksums the CGN fixed. net_af_packet's
	# socket hands cgnatd the datagrams whole (DPDK 22.11 joins its fanout group with
	# PACKET_FANOUT_FLAG_DEFRAG), so here cgnatd translates them whole and fragments them for
	# the 1500-octet link they leave by (mtu.c, RFC 791 §3.2); its own handling of fragments
	# (RFC 4787 REQ-14, fragment.h) is the golden cases' to show, with net_pcap.
	local before out
	before=$(counter pkt_fragmented)
	out=$(in_ns sub2 ping -c 2 -i 0.3 -W 2 -s 4000 198.51.100.10) || fail "ping -s 4000: $out"
	echo "$out" | grep -q "2 received" || fail "ping -s 4000: $out"
	in_ns inet timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.10", 7007))
for _ in range(3):
    d, a = s.recvfrom(65535)
    s.sendto(d, a)' &
	local server=$!
	in_ns sub2 timeout 15 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
d = bytes(range(256)) * 16
for _ in range(3):  # the server may not be listening yet
    s.sendto(d, ("198.51.100.10", 7007))
    try:
        r, a = s.recvfrom(65535)
    except socket.timeout:
        continue
    sys.exit(0 if r == d and a == ("198.51.100.10", 7007) else 1)
sys.exit(1)' || { kill $server 2>/dev/null; fail "4096-octet UDP datagram not echoed intact"; }
	kill $server 2>/dev/null
	wait $server 2>/dev/null
	# The two pings, the UDP datagram and their answers: six datagrams that left in fragments.
	[ "$(counter pkt_fragmented)" -ge $((before + 6)) ] ||
		fail "pkt_fragmented $(counter pkt_fragmented), was $before"
}

# NAT64 (RFC 6146): sub6, IPv6 only, reaches inet at 64:ff9b::198.51.100.10, written
# 64:ff9b::c633:640a too (the Well-Known Prefix; inet's documentation address is declared
# global by the lab's nat64.treat_as_global, RFC 6052 §3.1); the router sends the prefix to
# cgnatd's inside port, cgnatd translates (RFC 7915) to IPv4 from the pool and back.
inet6=64:ff9b::c633:640a

# The NAT64 sessions of sub6 (PROTO: tcp, udp or icmp) in cgnatctl sessions: internal endpoint
# sub6's IPv6 address (with or without brackets around it), external one in the pool.
nat64_sessions() {
	ctl sessions -a | awk -v p="$1" '$1 == p && $2 ~ /^\[?2001:db8:6::2\]?:[0-9]+$/ && $3 ~ /^203\.0\.113\.([0-9]|1[0-5]):[0-9]+$/'
}

case_nat64_ping() {
	# ICMPv6 echo to the embedded address crosses as ICMPv4 echo (RFC 7915 §4.2, §5.2): the
	# replies come back from 64:ff9b::c633:640a, and the session's internal endpoint is
	# sub6's address and echo identifier.
	local out
	out=$(in_ns sub6 ping -6 -c 3 -i 0.2 -W 2 64:ff9b::198.51.100.10 2>&1) || fail "ping: $out"
	echo "$out" | grep -q "3 received" || fail "ping: $out"
	echo "$out" | grep -q "bytes from $inet6: icmp_seq=" || fail "replies not from $inet6: $out"
	[ -n "$(nat64_sessions icmp)" ] || fail "no NAT64 icmp session for 2001:db8:6::2: $(ctl sessions)"
}

case_nat64_well_known_prefix_with_a_non_global_address() {
	# RFC 6052 §3.1: the Well-Known Prefix with a non-global IPv4 address (10.0.0.1, RFC 1918,
	# not in the lab's treat_as_global) MUST be dropped: no echo, no session, the drop counted
	# under a NAT64_ reason.
	local before after out
	before=$(ctl stats | awk '$1 ~ /^drop_NAT64_/ { n += $2 } END { print n + 0 }')
	out=$(in_ns sub6 ping -6 -c 2 -i 0.2 -W 1 64:ff9b::10.0.0.1 2>&1)
	echo "$out" | grep -q " 0 received" || fail "answered: $out"
	after=$(ctl stats | awk '$1 ~ /^drop_NAT64_/ { n += $2 } END { print n + 0 }')
	[ "$after" -ge $((before + 2)) ] || fail "drop_NAT64_* went from $before to $after: $(ctl stats | grep '^drop_')"
}

case_nat64_web_page() {
	# TCP, an implicit session: inet's web server answers sub6 as it answers sub2.
	local got
	got=$(in_ns sub6 curl -gsS -m 5 "http://[$inet6]:80/" 2>&1) || fail "curl: $got"
	[ "$got" = "inet page" ] || fail "sub6 got '$got'"
	nat64_sessions tcp | grep -q IMPLICIT || fail "no implicit NAT64 tcp session for 2001:db8:6::2: $(ctl sessions)"
}

case_nat64_4_mb_both_ways() {
	# 4 MiB each way over TCP, checked by SHA-256: inet -> sub6 a download from inet's web
	# server, sub6 -> inet a stream to a receiver on inet that answers with the length and
	# SHA-256 of what arrived. The checksums the NAT64 rewrote (pseudo-header: RFC 7915 §4.5,
	# §5.5) are checked by the kernels at each end.
	local want got
	want=$(sha256sum < "$www/inet/blob" | cut -d' ' -f1)
	got=$(in_ns sub6 curl -gsS -m 30 "http://[$inet6]:80/blob" | sha256sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "inet -> sub6: 4 MiB arrived damaged or short"
	in_ns inet timeout 40 python3 -c '
import hashlib, socket
s = socket.create_server(("198.51.100.10", 7008))
s.settimeout(30)
c, _ = s.accept()
c.settimeout(30)
h, n = hashlib.sha256(), 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d)
    n += len(d)
c.sendall(("%d %s\n" % (n, h.hexdigest())).encode())
c.close()' &
	local server=$!
	got=$(in_ns sub6 timeout 40 python3 - "$www/sub6/blob" "$inet6" <<'PY'
import socket, sys, time
data = open(sys.argv[1], "rb").read()
for _ in range(25):  # the receiver may not be listening yet (refused: RST, translated back)
    try:
        c = socket.create_connection((sys.argv[2], 7008), timeout=2)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("no connection")
c.settimeout(30)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
r = b""
while True:
    d = c.recv(4096)
    if not d:
        break
    r += d
print(r.decode().strip())
PY
	) || { kill $server 2>/dev/null; fail "sub6 -> inet: no answer from the receiver: $got"; }
	wait $server 2>/dev/null
	[ "$got" = "4194304 $(sha256sum < "$www/sub6/blob" | cut -d' ' -f1)" ] ||
		fail "sub6 -> inet: the receiver saw '$got'"
}

case_nat64_datagrams_in_fragments() {
	# Bigger than the links' MTU: sub6's kernel sends a 4000-octet echo request and a 4096-octet
	# UDP datagram in IPv6 fragments (net_af_packet joins only IPv4 fragments: cgnatd sees
	# these as fragments and translates each, RFC 7915 §5.1.1); inet's answers leave its
	# kernel in IPv4 fragments, reach cgnatd whole (PACKET_FANOUT_FLAG_DEFRAG) and must leave
	# in IPv6 fragments that fit the 1500-octet link (RFC 7915 §4.1, §6).
	# Both are tried, and the case fails with what each got wrong.
	local out bad=""
	out=$(in_ns sub6 ping -6 -c 2 -i 0.3 -W 2 -s 4000 64:ff9b::198.51.100.10 2>&1)
	echo "$out" | grep -q "2 received" || bad="ping -6 -s 4000: $out"
	in_ns inet timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.10", 7009))
for _ in range(3):
    d, a = s.recvfrom(65535)
    s.sendto(d, a)' &
	local server=$!
	in_ns sub6 timeout 15 python3 - "$inet6" <<'PY' || bad="$bad${bad:+
}4096-octet UDP datagram not echoed intact over NAT64"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
d = bytes(range(256)) * 16
for _ in range(3):  # the server may not be listening yet
    s.sendto(d, (sys.argv[1], 7009))
    try:
        r, a = s.recvfrom(65535)
    except socket.timeout:
        continue
    sys.exit(0 if r == d and a[:2] == (sys.argv[1], 7009) else 1)
sys.exit(1)
PY
	kill $server 2>/dev/null
	wait $server 2>/dev/null
	[ -z "$bad" ] || fail "$bad"
}

case_nat64_traceroute() {
	# traceroute -6 with UDP, ICMPv6 and TCP probes: 1 the access router; 2 the CGN (the hop
	# limit runs out there: ICMPv6 time exceeded, RFC 7915 §5.1 / RFC 6146 §3.5, from its
	# icmp_source6, the inside port's 2001:db8:100::254, or from a Pref64 address); 3 inet at
	# its embedded address (its port unreachable translated to ICMPv6, RFC 7915 §4.2; its echo
	# reply; its SYN/ACK).
	# Every method is tried, and the case fails with what each got wrong. Two probes a hop, one
	# answer needed (see traceroute_through_the_nat).
	local method out why bad=""
	for method in "" "-I" "-T -p 80"; do
		why=""
		out=$(in_ns sub6 timeout 60 traceroute -6 -n -q 2 -w 3 -m 5 $method 64:ff9b::198.51.100.10 2>&1) ||
			why="failed"
		echo "$out" | grep -Eq "^ 1  (\* )?2001:db8:6::1 " || why="$why; hop 1 is not the router"
		echo "$out" | grep -Eq "^ 2  (\* )?(2001:db8:100::254|64:ff9b::[0-9a-f:]+) " || why="$why; hop 2 is not the CGN"
		echo "$out" | grep -Eq "^ 3  (\* )?$inet6 " || why="$why; hop 3 is not inet"
		echo "$out" | grep -q "^ 4  $inet6 " && why="$why; went past inet"
		[ -z "$why" ] || bad="$bad
traceroute -6 ${method:-(UDP)}: ${why#; }
$out"
	done
	[ -z "$bad" ] || fail "$bad"
}

case_nat64_hairpin_to_a_nat44_mapping() {
	# RFC 6146 §3.8: sub6 connects to sub1's PCP mapping (pcp_map_then_inbound_tcp) at its
	# external address under the Pref64; cgnatd sends it straight back inside, to sub1, from
	# sub6's own external endpoint, and sub1's answer returns the same way.
	local ext a1 a2 a3 a4 got before
	ext=$(mapped)
	[ -n "$ext" ] || fail "no mapping from pcp_map_then_inbound_tcp"
	IFS=. read -r a1 a2 a3 a4 <<< "${ext%:*}"
	before=$(counter pkt_hairpinned)
	got=$(in_ns sub6 curl -gsS -m 5 "http://[$(printf '64:ff9b::%02x%02x:%02x%02x' "$a1" "$a2" "$a3" "$a4")]:${ext##*:}/" 2>&1) ||
		fail "sub6 cannot reach $ext over NAT64: $got"
	[ "$got" = "sub1 page" ] || fail "sub6 got '$got'"
	[ "$(counter pkt_hairpinned)" -gt "$before" ] || fail "pkt_hairpinned not counted"
}

case_nat64_and_nat44_share_the_pool() {
	# At the same time: sub6 over NAT64, sub1 and sub2 over NAT44 each download inet's 4 MiB;
	# all arrive intact, and the sessions of both families have their external endpoints in
	# the one pool 203.0.113.0/28.
	local want n j ok=1 pids=()
	want=$(sha256sum < "$www/inet/blob" | cut -d' ' -f1)
	in_ns sub6 curl -gsS -m 30 "http://[$inet6]:80/blob" -o "$www/got6" &
	pids+=($!)
	in_ns sub1 curl -sS -m 30 http://198.51.100.10/blob -o "$www/got1" &
	pids+=($!)
	in_ns sub2 curl -sS -m 30 http://198.51.100.10/blob -o "$www/got2" &
	pids+=($!)
	for j in "${pids[@]}"; do wait "$j" || ok=0; done
	[ "$ok" = 1 ] || fail "a download failed"
	for n in 6 1 2; do
		[ "$(sha256sum < "$www/got$n" | cut -d' ' -f1)" = "$want" ] || fail "sub$n's 4 MiB arrived damaged or short"
	done
	[ -n "$(nat64_sessions tcp)" ] || fail "no NAT64 tcp session: $(ctl sessions)"
	for n in 1 2; do
		ctl sessions "100.64.$n.2" | grep -Eq "^tcp .*100\.64\.$n\.2:[0-9]+ +203\.0\.113\.([0-9]|1[0-5]):[0-9]+ " ||
			fail "no NAT44 tcp session of sub$n in the pool: $(ctl sessions "100.64.$n.2")"
	done
}

case_nat64_pcp_prefix64_and_inbound_tcp() {
	# RFC 7225 and RFC 6887 §11 over IPv6, through cgnatd's inside DPDK port: sub6 asks its
	# MAP for PREFIX64 and learns the lab's one Pref64, 64:ff9b::/96 (null suffix, every IPv4
	# destination); the MAP makes a NAT64 mapping of sub6's [2001:db8:6::2]:8080 with an IPv4
	# external endpoint from the pool, through which inet gets sub6's page (4 -> 6, RFC 6146).
	local out ext got before
	before=$(counter punt_answered)
	out=$(pcpc sub6 -s 2001:db8:100::254 --prefix64 -p tcp -i 8080 -l 600 map) || fail "pcpc: $out"
	[ "$(echo "$out" | grep -c '^prefix64:')" = 1 ] || fail "not one PREFIX64: $out"
	echo "$out" | grep -qx "prefix64: 64:ff9b::/96 suffix - ipv4 any" || fail "not the lab's Pref64: $out"
	ext=$(echo "$out" | awk '/^external:/ { print $2 }')
	echo "$ext" > "$www/ext6"
	[[ "$ext" =~ ^203\.0\.113\.([0-9]|1[0-5]):[0-9]+$ ]] || fail "external endpoint '$ext' not in the pool: $out"
	eventually nat64_mapping_on "$ext" ||
		fail "no NAT64 mapping of [2001:db8:6::2]:8080 on $ext: $(ctl mappings -a)"
	[ "$(counter punt_answered)" -gt "$before" ] || fail "the answer did not come by the DPDK port"
	got=$(in_ns inet curl -sS -m 5 "http://$ext/") || fail "inet cannot connect to $ext"
	[ "$got" = "sub6 page" ] || fail "inet got '$got'"
	nat64_sessions tcp | grep -q "$ext" || fail "no NAT64 tcp session on $ext: $(ctl sessions)"
}

case_natpmp_from_a_subscriber() {
	# RFC 6886 through the same port: Debian's natpmpc, not our client.
	local out
	out=$(in_ns sub1 timeout 20 natpmpc -g 100.64.0.254 -a 9000 9000 tcp 600 2>&1) || fail "natpmpc: $out"
	echo "$out" | grep -q "Public IP address : 203.0.113." || fail "no public address: $out"
	echo "$out" | grep -q "Mapped public port [0-9]* protocol TCP to local port 9000" || fail "no mapping: $out"
	eventually natpmp_mapping_of_sub1 || fail "not in the table: $(ctl sessions 100.64.1.2)"
}

case_pcp_from_the_internet_is_ignored() {
	# RFC 6887 §8.2: the server serves its inside; a request by the outside port gets no
	# answer, even one claiming to be a subscriber, unless from the management host.
	local before out
	before=$(counter punt_outside_refused)
	if out=$(in_ns inet timeout 20 "$bin/pcpc" -b 198.51.100.10 -s 198.51.100.1 --irt 0.2 --mrc 2 -p tcp -i 80 map 2>&1); then
		fail "answered from the outside: $out"
	fi
	echo "$out" | grep -q "^result:" && fail "a result came back: $out"
	[ "$(counter punt_outside_refused)" -ge $((before + 2)) ] || fail "punt_outside_refused did not count the requests"
}

case_third_party_from_the_management_host() {
	# The lab's outside port is a management port: 198.51.100.20 is in pcp.third_party and
	# maps a port for sub1 (§13.1); sub1's second server (8081) is then reachable through it.
	local out ext got
	out=$(in_ns inet timeout 20 "$bin/pcpc" -b 198.51.100.20 -s 198.51.100.1 --irt 0.3 --mrc 3 \
		-t 100.64.1.2 -p tcp -i 8081 -l 600 map 2>&1) || fail "pcpc: $out"
	ext=$(echo "$out" | awk '/^external:/ { print $2 }')
	[[ "$ext" == 203.0.113.* ]] || fail "no external endpoint: $out"
	got=$(in_ns inet curl -sS -m 5 "http://$ext/") || fail "inet cannot connect to $ext"
	[ "$got" = "sub1 page" ] || fail "inet got '$got'"
}

case_third_party_from_an_unauthorised_subscriber() {
	# RFC 6887 §13.1: THIRD_PARTY from a host not allowed to send it: UNSUPP_OPTION.
	local out
	out=$(pcpc sub2 -s 100.64.0.254 -t 100.64.1.2 -p tcp -i 7000 map 2>&1) && fail "accepted: $out"
	echo "$out" | grep -q "UNSUPP_OPTION" || fail "$out"
	ctl sessions 100.64.1.2 | grep -q ":7000 " && fail "a mapping was made"
	return 0
}

case_pool_change_while_forwarding() {
	# SIGHUP with a new nat.pool while traffic flows: the workers pause, sessions on an
	# address that stays keep their endpoint, the others start again on the new pool.
	local state conf pid out ext
	lab_conf_to_edit
	in_ns sub2 ping -c 25 -i 0.2 -W 2 198.51.100.10 > "$www/ping.out" 2>&1 &
	local pinger=$!
	sleep 1
	# 1. A prefix added: every address stays, every session too.
	sed -i 's|pool = \[ "203.0.113.0/28" \]|pool = [ "203.0.113.0/28", "203.0.113.32/28" ]|' "$conf"
	grep -q '203.0.113.32/28' "$conf" || fail "the lab's pool line changed: update this test"
	kill -HUP "$pid"
	sleep 1.5
	grep -q "new pool in the data plane: [1-9][0-9]* implicit sessions kept, 0 removed" "$state/cgnatd.log" ||
		fail "added prefix: $(grep 'new pool' "$state/cgnatd.log")"
	# 2. The first prefix removed: sub2's sessions go, and start again on 203.0.113.32/28.
	sed -i 's|pool = \[ "203.0.113.0/28", "203.0.113.32/28" \]|pool = [ "203.0.113.32/28" ]|' "$conf"
	kill -HUP "$pid"
	wait "$pinger"
	out=$(cat "$www/ping.out")
	ext=$(ctl sessions 100.64.2.2 | awk '$1 == "icmp" { print $3 }')
	cp "$www/cgnat.conf.orig" "$conf"
	kill -HUP "$pid" # the original pool again, for the cases after this one
	grep -Eq "new pool in the data plane: [0-9]+ implicit sessions kept, [1-9][0-9]* removed" "$state/cgnatd.log" ||
		fail "removed prefix: $(grep 'new pool' "$state/cgnatd.log")"
	echo "$out" | grep -Eq "2[3-5] received" || fail "pings lost across the pool changes: $out"
	echo "$ext" | grep -Eq "^203\.0\.113\.(3[2-9]|4[0-7]):" || fail "sub2's ping session is not on the new pool: '$ext'"
	sleep 1
	in_ns sub2 curl -sS -m 5 http://198.51.100.10/ | grep -q "inet page" || fail "no web after the changes"
}

case_routes_change_on_reload() {
	# SIGHUP with a new route and a new nat.port_hold_s: the workers pause for a moment, the
	# route is in force, every session stays. A change of arp still needs a restart.
	local state conf pid before after
	lab_conf_to_edit
	before=$(ctl sessions 100.64.2.2 | grep -c IMPLICIT)
	sed -i 's|routes = ( |routes = ( { prefix = "100.64.7.0/24"; port = "net_af_packet0"; via = "100.64.0.1"; },\n           |' "$conf"
	sed -i 's|max_blocks = 8; };|max_blocks = 8; port_hold_s = 30; };|' "$conf"
	grep -q '100.64.7.0/24' "$conf" && grep -q 'port_hold_s = 30' "$conf" || fail "the lab's config changed: update this test"
	kill -HUP "$pid"
	sleep 1
	grep -Eq "new routes, neighbours, timeouts and hold time in the data plane: workers paused [0-9]+ ms" \
		"$state/cgnatd.log" || fail "no reconfiguration logged: $(tail -3 "$state/cgnatd.log")"
	ctl routes | grep -Eq "^100\.64\.7\.0/24 +inside +net_af_packet0 +100\.64\.0\.1" || fail "routes: $(ctl routes)"
	after=$(ctl sessions 100.64.2.2 | grep -c IMPLICIT)
	[ "$before" -ge 1 ] && [ "$after" -eq "$before" ] || fail "sessions: $before before, $after after"
	in_ns sub2 ping -c 2 -i 0.2 -W 2 198.51.100.10 | grep -q "2 received" || fail "no ping after the reload"
	# arp needs a restart: refused, nothing changes.
	sed -i 's|^dataplane = {|arp = { probes = 7; };\ndataplane = {|' "$conf"
	kill -HUP "$pid"
	sleep 1
	grep -q "arp changed: that needs a restart; nothing was changed" "$state/cgnatd.log" ||
		fail "arp change not refused: $(tail -3 "$state/cgnatd.log")"
	cp "$www/cgnat.conf.orig" "$conf"
	kill -HUP "$pid" # the lab's routes again
	sleep 1
	ctl routes | grep -q "100\.64\.7\.0/24" && fail "the route stayed after the original config came back"
	return 0
}

# survives NAME HOW: sub1 maps TCP 8082 (its third web server, which no other case maps) with a
# DESCRIPTION, then HOW
# (restart or crash) happens to cgnatd: the state store gives the mapping back with the same
# external endpoint and text, inet reaches sub1 through it without sub1 mapping again, and the
# epoch went on (RFC 6887 §8.5: no state was lost, so it must not go back).
survives() {
	local out ext e1 e2 got nonce=5ca1ab1e0000c0ffee000001
	out=$(pcpc sub1 -s 100.64.0.254 -n "$nonce" -p tcp -i 8082 -l 3600 -D "$1" map) || fail "map: $out"
	ext=$(echo "$out" | awk '/^external:/ { print $2 }')
	e1=$(echo "$out" | awk '/^epoch:/ { print $2 }')
	[[ "$ext" == 203.0.113.* ]] || fail "no external endpoint: $out"
	in_ns inet curl -sS -m 5 "http://$ext/" | grep -q "sub1 page" || fail "inet cannot reach $ext before"
	sleep 2
	"$lab" "$2" >/dev/null || fail "$2 failed"
	ctl mappings -a | grep -F "$ext" | grep -q "$1" ||
		fail "the mapping of $ext ($1) is not back: $(ctl mappings -a)"
	got=$(in_ns inet curl -sS -m 5 "http://$ext/") || fail "inet cannot connect to $ext after the $2"
	[ "$got" = "sub1 page" ] || fail "inet got '$got' after the $2"
	out=$(pcpc sub1 -s 100.64.0.254 announce) || fail "announce after: $out"
	e2=$(echo "$out" | awk '/^epoch:/ { print $2 }')
	[ -n "$e1" ] && [ -n "$e2" ] && [ "$e2" -ge $((e1 + 2)) ] || fail "epoch went from '$e1' to '$e2' across the $2"
	out=$(pcpc sub1 -s 100.64.0.254 -n "$nonce" -p tcp -i 8082 -l 0 map) || fail "delete: $out" # for the next case
}

case_kill_9_keeps_mappings_and_epoch() { survives "camera after a crash" crash; }
case_clean_restart_keeps_mappings_and_epoch() { survives "camera after a restart" restart; }

case_restart_without_state_means_a_new_epoch() {
	# §8.5: the epoch tells clients the server lost state: with its store gone, a restart
	# starts it again.
	local e1 e2
	sleep 2
	e1=$(pcpc sub1 -s 100.64.0.254 -p udp -i 5000 -l 600 map | awk '/^epoch:/ { print $2 }')
	[ -n "$e1" ] && [ "$e1" -ge 2 ] || fail "epoch before restart: '$e1'"
	"$lab" restart --empty >/dev/null || fail "restart failed"
	e2=$(pcpc sub1 -s 100.64.0.254 -p udp -i 5000 -l 600 map | awk '/^epoch:/ { print $2 }')
	[ -n "$e2" ] && [ "$e2" -lt "$e1" ] || fail "epoch after restart '$e2' not below '$e1'"
}

case_nat64_restart_means_a_new_epoch() {
	# §8.5 for sub6: after a restart of cgnatd without its store, its next response over IPv6 carries an epoch
	# that went back (a solicited ANNOUNCE, §14.1.2, still with the Pref64); sub6 maps again
	# (§8.5: the client re-creates its mappings) and inet reaches its page through the new
	# endpoint.
	local out e1 e2 ext got
	sleep 2
	out=$(pcpc sub6 -s 2001:db8:100::254 --prefix64 announce) || fail "announce before: $out"
	e1=$(echo "$out" | awk '/^epoch:/ { print $2 }')
	[ -n "$e1" ] && [ "$e1" -ge 2 ] || fail "epoch before restart: '$e1'"
	"$lab" restart --empty >/dev/null || fail "restart failed"
	out=$(pcpc sub6 -s 2001:db8:100::254 --prefix64 announce) || fail "announce after: $out"
	e2=$(echo "$out" | awk '/^epoch:/ { print $2 }')
	[ -n "$e2" ] && [ "$e2" -lt "$e1" ] || fail "epoch after restart '$e2' not below '$e1'"
	echo "$out" | grep -qx "prefix64: 64:ff9b::/96 suffix - ipv4 any" || fail "no Pref64 after the restart: $out"
	out=$(pcpc sub6 -s 2001:db8:100::254 -p tcp -i 8080 -l 600 map) || fail "map again: $out"
	ext=$(echo "$out" | awk '/^external:/ { print $2 }')
	[[ "$ext" == 203.0.113.* ]] || fail "no external endpoint: $out"
	got=$(in_ns inet curl -sS -m 5 "http://$ext/") || fail "inet cannot connect to $ext after the restart"
	[ "$got" = "sub6 page" ] || fail "inet got '$got'"
}

"$lab" up || { echo "0 passed, 1 failed"; exit 1; }
mkdir -p "$www/sub1" "$www/sub6" "$www/inet"
echo "sub1 page" > "$www/sub1/index.html"
echo "sub6 page" > "$www/sub6/index.html"
echo "inet page" > "$www/inet/index.html"
head -c 4194304 /dev/urandom > "$www/sub1/blob"
head -c 4194304 /dev/urandom > "$www/sub6/blob"
head -c 4194304 /dev/urandom > "$www/inet/blob"
start_web sub1 100.64.1.2 8080 "$www/sub1" && start_web sub1 100.64.1.2 8081 "$www/sub1" &&
	start_web sub1 100.64.1.2 8082 "$www/sub1" &&
	start_web sub6 2001:db8:6::2 8080 "$www/sub6" && start_web inet 198.51.100.10 80 "$www/inet" ||
	{ echo "0 passed, 1 failed"; exit 1; }

cases="ping_through_the_nat next_hops_resolved_by_arp ipv6_subscriber_reaches_the_router \
	 cgnatd_answers_ipv6_on_its_inside_port directly_connected_host traceroute_through_the_nat \
	 implicit_mapping_browsing pcp_map_then_inbound_tcp \
	 hairpin_to_an_external_address tcp_transfer_of_4_mb datagrams_in_fragments_both_ways \
	 nat64_ping nat64_well_known_prefix_with_a_non_global_address nat64_web_page nat64_4_mb_both_ways nat64_datagrams_in_fragments nat64_traceroute \
	 nat64_hairpin_to_a_nat44_mapping nat64_and_nat44_share_the_pool nat64_pcp_prefix64_and_inbound_tcp \
	 natpmp_from_a_subscriber \
	 pcp_from_the_internet_is_ignored third_party_from_the_management_host \
	 third_party_from_an_unauthorised_subscriber pool_change_while_forwarding routes_change_on_reload \
	 kill_9_keeps_mappings_and_epoch clean_restart_keeps_mappings_and_epoch \
	 restart_without_state_means_a_new_epoch nat64_restart_means_a_new_epoch"
for c in ${E2E_CASES:-$cases}; do
	run_case "$c"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
