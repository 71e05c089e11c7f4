#!/usr/bin/env bash
# The lab: cgnatd as a box on a wire, between subscribers and an internet host, each in a
# network namespace of its own. Dual-stack inside, IPv4 outside. Nothing is added to the root
# namespace.
#
#   scripts/lab.sh up        namespaces, links, addresses; cgnatd on net_af_packet ports
#   scripts/lab.sh down      stops cgnatd, deletes every namespace and file of the lab
#   scripts/lab.sh status    what is up, and cgnatd's info
#   scripts/lab.sh restart   stops and starts cgnatd only: it restores its explicit mappings
#                            from its state store, and its PCP epoch goes on (§8.5)
#   scripts/lab.sh restart --empty   the same with the store deleted first: a new epoch
#   scripts/lab.sh crash     kill -9 cgnatd, then starts it again (the store survives)
#
#   sub1 100.64.1.2/24      s1──r-s1 ┐ cgn: kernel access router      cgnatd (DPDK, raw ports)
#   sub2 100.64.2.2/24      s2──r-s2 ┤   r-s1 100.64.1.1/24           inside, net_af_packet0:
#   sub6 2001:db8:6::2/64   s6──r-s6 ┤   r-s2 100.64.2.1/24             100.64.0.254
#        (IPv6 only)                 │   r-s6 2001:db8:6::1/64          2001:db8:100::254
#                                    └   r-in 100.64.0.1/24 ─────── dp-in
#                                             2001:db8:100::1/64    outside, net_af_packet1:
#                                                                     198.51.100.1
#   inet 198.51.100.10/24, 198.51.100.20/24  i0 ─────────────────── dp-out   pool 203.0.113.0/28
#
#   Routes: the router's default via 100.64.0.254, 64:ff9b::/96 via
#   2001:db8:100::254;
#   sub6's default via 2001:db8:6::1; cgnatd's 100.64.0.0/10 via 100.64.0.1, 0.0.0.0/0 via
#   198.51.100.10, 2001:db8::/32 via 2001:db8:100::1, 2001:db8:100::/64 directly connected.
#
# The subscribers reach cgnatd through the cgn namespace's kernel, as through a BNG: cgnatd's
# route to 100.64.0.0/10 goes via that router, its default route via the inet host (both
# resolved by ARP); hosts on the router's segment 100.64.0.0/24 are directly connected.
# IPv6: the access segment r-in/dp-in also carries 2001:db8:100::/64; the router forwards IPv6
# (net.ipv6.conf.all.forwarding, in the cgn namespace only) and routes the NAT64 prefixes
# 64:ff9b::/96 (RFC 6052) to cgnatd, which translates them to
# IPv4 (nat64, RFC 6146; sub6's prefix is in pcp.inside); sub6 is IPv6 only. The outside
# stays IPv4.
# cgnatd reads dp-in and dp-out raw (net_af_packet): the kernel of the cgn namespace must not
# forward what arrives on them nor speak IPv6 on them (disabled there before they come up;
# checked, and that r-in keeps IPv6), and senders compute their own TCP/UDP checksums (a veth
# leaves them to "hardware"; scripts/lib/tx_csum_off.py).
#
# LAB_PREFIX (default empty) prefixes every namespace and file name, so tests can run their
# own lab; CGNATD_BUILD (default build) is the build folder. Needs root: as another user it
# runs itself again through sudo, keeping those two (scripts/lib/root.sh).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
CGN_SUDO_KEEP="LAB_PREFIX CGNATD_BUILD" need_root lab "$top/scripts/lab.sh" "$@"
P=${LAB_PREFIX:-}
build=${CGNATD_BUILD:-$top/build}
state=/run/cgnat-lab${P:+-$P}
fprefix="${P}cgnlab"
ns_cgn=${P}cgn ns_sub1=${P}sub1 ns_sub2=${P}sub2 ns_sub6=${P}sub6 ns_inet=${P}inet
namespaces=("$ns_cgn" "$ns_sub1" "$ns_sub2" "$ns_sub6" "$ns_inet")
ROUTER_MAC=02:00:00:00:10:01 INET_MAC=02:00:00:00:20:01

die() { echo "lab: $*" >&2; exit 1; }
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

write_config() {
	cat > "$state/cgnat.conf" <<CONF
# cgnatd in the lab (scripts/lab.sh). Reference: docs/configuration.md
pcp = {
  listen = [ "127.0.0.1:5351" ];            # the kernel socket stays for tools in the cgn namespace
  inside = [ "100.64.0.0/10", "2001:db8::/32" ];  # IPv6 subscribers (sub6) are inside too, for NAT64
  third_party = [ "198.51.100.20" ];        # a management host on the outside (§13.1 THIRD_PARTY)
  announce = { multicast = true; };         # §14.1.3: out of the inside port at start
};
nat = { pool = [ "203.0.113.0/28" ]; ports = "1024-65535"; block_size = 512; max_blocks = 8; };
# Stateful NAT64 (RFC 6146), from the same pool as the NAT44 subscribers, under the Well-Known
# Prefix 64:ff9b::/96 (RFC 6052 §2.1): sub6 reaches inet at 64:ff9b::198.51.100.10. The WKP must
# not carry non-global IPv4 addresses (§3.1), and the lab's "internet" and pool are documentation
# ranges: treat_as_global says they stand for global ones here (10.0.0.1 etc. stay refused).
nat64 = { prefixes = [ "64:ff9b::/96" ]; treat_as_global = [ "198.51.100.0/24", "203.0.113.0/24" ]; };
# net_af_packet's socket reassembles fragments (DPDK 22.11's fanout flag DEFRAG): its frames and
# the buffers take datagrams of up to 8 KB, which leave again in fragments of the links' MTU.
dataplane = { table_size = 65536; idle_sleep_us = 100; icmp_source = "203.0.113.15"; mbuf_size = 8320; mbufs = 8192; };
# Next hops resolved by ARP, and by ND for IPv6 (a static entry in neighbours = ( ... ) would
# pin one instead).
ports = ( { name = "net_af_packet0"; role = "inside";  address = "100.64.0.254"; address6 = "2001:db8:100::254"; },
          { name = "net_af_packet1"; role = "outside"; address = "198.51.100.1"; next_hop = "198.51.100.10";
            pcp_management = true; } );        # PCP from third_party hosts only: RFC 6887 §8.2
# The subscribers are behind the access router; its own segment is directly connected (cgnatd
# asks for each host there by ARP or ND). The outside port's next_hop is the outside's 0.0.0.0/0.
routes = ( { prefix = "100.64.0.0/10"; port = "net_af_packet0"; via = "100.64.0.1"; },
           { prefix = "100.64.0.0/24"; port = "net_af_packet0"; },
           { prefix = "2001:db8::/32"; port = "net_af_packet0"; via = "2001:db8:100::1"; },
           { prefix = "2001:db8:100::/64"; port = "net_af_packet0"; } );
# Explicit mappings (PCP, NAT-PMP) outlive a restart or a crash of cgnatd: an LMDB store in the
# lab's folder (a relative path is the configuration file's folder's).
state = { path = "store"; };
# NAT logging (docs/operations.md, "NAT logging"): port blocks, bindings, PCP mappings, quota
# events as RFC 5424 lines to the lab's syslog receiver in the cgn namespace (its lines in
# nat.log of the lab's folder), and the Prometheus page for curl in the cgn namespace.
logging = { syslog = { server = "127.0.0.1:5514"; transport = "udp"; hostname = "cgn-lab"; }; threshold = 80; };
metrics = { listen = "127.0.0.1:9464"; };
CONF
}

# The lab's syslog receiver: UDP 127.0.0.1:5514 in the cgn namespace, each datagram a line of
# nat.log. Stopped with the lab (down kills what runs in its namespaces), or after a day.
start_syslog() {
	in_ns "$ns_cgn" timeout 86400 python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5514))
with open(sys.argv[1], "a") as f:
    while True:
        f.write(s.recv(4096).decode("ascii", "replace") + "\n")
        f.flush()' "$state/nat.log" > /dev/null 2>&1 &
}

start_cgnatd() {
	[ -x "$build/control/cgnatd" ] || die "no $build/control/cgnatd: run scripts/setup.sh"
	: > "$state/cgnatd.log"
	ip netns exec "$ns_cgn" "$build/control/cgnatd" -l 0-1 --no-huge -m 512 --no-pci --no-shconf \
		--file-prefix "$fprefix" --vdev net_af_packet0,iface=dp-in,framesz=8192,blocksz=8192 \
		--vdev net_af_packet1,iface=dp-out,framesz=8192,blocksz=8192 \
		-- -c "$state/cgnat.conf" >> "$state/cgnatd.log" 2>&1 &
	echo $! > "$state/cgnatd.pid"
	for _ in $(seq 1 100); do
		grep -q "cgnatd: ready" "$state/cgnatd.log" && return 0
		kill -0 "$(cat "$state/cgnatd.pid")" 2>/dev/null || { cat "$state/cgnatd.log" >&2; die "cgnatd exited"; }
		sleep 0.1
	done
	cat "$state/cgnatd.log" >&2
	die "cgnatd did not get ready in 10 s"
}

stop_cgnatd() {
	local pid
	pid=$(cat "$state/cgnatd.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$state/cgnatd.pid"
	rm -rf "/var/run/dpdk/$fprefix"
}

up() {
	ip netns list | grep -qw "^$ns_cgn" && die "the lab is up already (scripts/lab.sh down)"
	mkdir -p "$state"
	# Any failure from here on (a command under set -e, or die) tears the lab down again.
	trap 'rc=$?; [ "$rc" -eq 0 ] || { echo "lab: setup failed; tearing down" >&2; down; }' EXIT
	for n in "${namespaces[@]}"; do
		ip netns add "$n"
		ip -n "$n" link set lo up
	done
	ip link add s1 netns "$ns_sub1" type veth peer name r-s1 netns "$ns_cgn"
	ip link add s2 netns "$ns_sub2" type veth peer name r-s2 netns "$ns_cgn"
	ip link add s6 netns "$ns_sub6" type veth peer name r-s6 netns "$ns_cgn"
	ip -n "$ns_cgn" link add r-in type veth peer name dp-in
	ip -n "$ns_cgn" link add dp-out type veth peer name i0 netns "$ns_inet"
	ip -n "$ns_cgn" link set r-in address "$ROUTER_MAC"
	ip -n "$ns_inet" link set i0 address "$INET_MAC"
	for l in dp-in dp-out; do # cgnatd's: no IPv6 on them from the start (no link-local, DAD, MLD)
		in_ns "$ns_cgn" sysctl -qw "net.ipv6.conf.$l.disable_ipv6=1"
	done

	# The access router, in the cgn namespace's kernel. Static IPv6 addresses skip duplicate
	# address detection (nodad): usable at once, and no probe reaches cgnatd's port.
	for l in r-s1 r-s2 r-s6 r-in dp-in dp-out; do ip -n "$ns_cgn" link set "$l" up; done
	ip -n "$ns_cgn" addr add 100.64.1.1/24 dev r-s1
	ip -n "$ns_cgn" addr add 100.64.2.1/24 dev r-s2
	ip -n "$ns_cgn" addr add 100.64.0.1/24 dev r-in
	ip -n "$ns_cgn" addr add 2001:db8:6::1/64 dev r-s6 nodad
	ip -n "$ns_cgn" addr add 2001:db8:100::1/64 dev r-in nodad
	ip -n "$ns_cgn" route add default via 100.64.0.254
	ip -n "$ns_cgn" -6 route add 64:ff9b::/96 via 2001:db8:100::254 dev r-in # NAT64 (RFC 6052)
	# Forwarding on for the router (these set every interface of the namespace), then off again
	# for cgnatd's ports: the kernel keeps its hands off them.
	in_ns "$ns_cgn" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$ns_cgn" sysctl -qw net.ipv6.conf.all.forwarding=1
	for l in dp-in dp-out; do
		in_ns "$ns_cgn" sysctl -qw "net.ipv4.conf.$l.forwarding=0"
		in_ns "$ns_cgn" sysctl -qw "net.ipv6.conf.$l.forwarding=0"
		[ "$(in_ns "$ns_cgn" sysctl -n "net.ipv6.conf.$l.disable_ipv6")" = 1 ] || die "IPv6 still on $l"
		ip -n "$ns_cgn" -6 addr show dev "$l" | grep -q inet6 && die "$l has an IPv6 address"
	done
	[ "$(in_ns "$ns_cgn" sysctl -n net.ipv6.conf.r-in.disable_ipv6)" = 0 ] || die "IPv6 is off on r-in"

	ip -n "$ns_sub1" link set s1 up
	ip -n "$ns_sub1" addr add 100.64.1.2/24 dev s1
	ip -n "$ns_sub1" route add default via 100.64.1.1
	ip -n "$ns_sub2" link set s2 up
	ip -n "$ns_sub2" addr add 100.64.2.2/24 dev s2
	ip -n "$ns_sub2" route add default via 100.64.2.1
	ip -n "$ns_sub6" link set s6 up
	ip -n "$ns_sub6" addr add 2001:db8:6::2/64 dev s6 nodad
	ip -n "$ns_sub6" -6 route add default via 2001:db8:6::1
	ip -n "$ns_inet" link set i0 up
	ip -n "$ns_inet" addr add 198.51.100.10/24 dev i0
	ip -n "$ns_inet" addr add 198.51.100.20/24 dev i0 # the management host of pcp.third_party
	ip -n "$ns_inet" route add 203.0.113.0/24 via 198.51.100.1 # the pool, behind the CGN

	local csum=$top/scripts/lib/tx_csum_off.py
	in_ns "$ns_sub1" python3 "$csum" s1
	in_ns "$ns_sub2" python3 "$csum" s2
	in_ns "$ns_sub6" python3 "$csum" s6
	in_ns "$ns_inet" python3 "$csum" i0
	in_ns "$ns_cgn" python3 "$csum" r-in

	write_config
	start_syslog
	start_cgnatd
	trap - EXIT
	echo "lab: up: namespaces ${namespaces[*]}; cgnatd pid $(cat "$state/cgnatd.pid"), " \
	     "telemetry: cgnatctl -p $fprefix"
}

down() {
	stop_cgnatd 2>/dev/null || true
	for n in "${namespaces[@]}"; do
		local left
		left=$(ip netns pids "$n" 2>/dev/null || true)
		[ -n "$left" ] && kill -9 $left 2>/dev/null
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$state"
	return 0
}

status() {
	local up=0
	for n in "${namespaces[@]}"; do
		if ip netns list | grep -qw "^$n"; then echo "namespace $n: up"; up=1; else echo "namespace $n: absent"; fi
	done
	local pid
	pid=$(cat "$state/cgnatd.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		echo "cgnatd: running, pid $pid, log $state/cgnatd.log"
		"$build/control/cgnatctl" -p "$fprefix" info || true
	else
		echo "cgnatd: not running"
	fi
	[ "$up" -eq 1 ]
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
restart)
	stop_cgnatd
	[ "${2:-}" = --empty ] && rm -rf "$state/store"
	start_cgnatd ;;
crash)
	pid=$(cat "$state/cgnatd.pid" 2>/dev/null || true)
	[ -n "$pid" ] || die "cgnatd is not running"
	kill -9 "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	stop_cgnatd # what a crash leaves: the pid file, DPDK's runtime folder
	start_cgnatd ;;
*) echo "usage: scripts/lab.sh up|down|status|restart [--empty]|crash" >&2; exit 2 ;;
esac
