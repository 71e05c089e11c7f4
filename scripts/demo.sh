#!/usr/bin/env bash
# The main job, start to end: sets up what is missing, builds, starts the lab (scripts/lab.sh:
# namespaces sub1, sub2, sub6, cgn, inet; cgnatd on DPDK net_af_packet ports) and shows, step by
# step, real kernel traffic crossing the NAT:
#   sub1 runs a web server and asks cgnatd for a port mapping with PCP, through the inside DPDK
#   port; the internet host connects to the external address and port and gets sub1's page;
#   sub2 browses the internet host's web server (an implicit mapping); sub2 reaches sub1
#   through its external address (hairpin); sub6 (IPv6 only) pings cgnatd's inside IPv6
#   address (Neighbor Discovery), then pings and browses inet over NAT64 (64:ff9b::/96,
#   RFC 6146, from the same pool); sub6 runs a web server too, learns the NAT64 prefix and
#   maps its port with PCP over IPv6 (PREFIX64, RFC 7225), and inet gets its page through the
#   IPv4 endpoint; cgnatctl shows sessions, port blocks, routes, neighbours, counters; the NAT
#   log shows the port blocks and PCP mappings as syslog lines, and /metrics the pool; cgnatd
#   is killed and starts again: its state store gives the mappings back and the PCP epoch goes
#   on (RFC 6887 §8.5); restarted without its store, the epoch goes back and sub1 maps again.
# The lab is always torn down on exit; nothing touches the host's own network.
# Needs root: as another user it runs itself again through sudo (scripts/lib/root.sh).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
need_root demo "$top/scripts/demo.sh" "$@"
cd "$top"

"$top/scripts/setup.sh"

bin="$top/build/control"
export LAB_PREFIX="demo$$-"
. "$top/scripts/lib/lab_client.sh"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
www=$(mktemp -d /tmp/cgnat-demo.XXXXXX)
cleanup() {
	stop_jobs
	"$top/scripts/lab.sh" down
	rm -rf "$www"
}
trap cleanup EXIT INT TERM

step "the lab: sub1 100.64.1.2, sub2 100.64.2.2 and sub6 2001:db8:6::2 behind an access router, cgnatd, inet 198.51.100.10"
"$top/scripts/lab.sh" up

mkdir -p "$www/sub1" "$www/sub6" "$www/inet"
echo "hello from sub1, behind the CGN" > "$www/sub1/index.html"
echo "hello from sub6, IPv6 only, behind the NAT64" > "$www/sub6/index.html"
echo "hello from the internet host" > "$www/inet/index.html"
# Bounded: the servers stop by themselves, or when the demo ends.
start_web sub1 100.64.1.2 8080 "$www/sub1"
start_web sub6 2001:db8:6::2 8080 "$www/sub6"
start_web inet 198.51.100.10 80 "$www/inet"

step "sub1 runs a web server on port 8080 and asks for a mapping (PCP MAP to 100.64.0.254, cgnatd's inside port)"
out=$(in_ns sub1 "$bin/pcpc" -s 100.64.0.254 --irt 0.5 -p tcp -i 8080 -l 600 map)
echo "$out"
ext=$(echo "$out" | awk '/^external:/ { print $2 }')

step "inet connects to $ext and gets sub1's page"
in_ns inet curl -sS -m 5 "http://$ext/"

step "sub2 browses inet's web server (no PCP: an implicit mapping)"
in_ns sub2 curl -sS -m 5 http://198.51.100.10/

step "sub2 reaches sub1 through its external address (hairpin)"
in_ns sub2 curl -sS -m 5 "http://$ext/"

step "sub1 asks for 4 consecutive UDP ports for a game server, with a description (PCP PORT_SET, RFC 7753; DESCRIPTION, RFC 7220)"
in_ns sub1 "$bin/pcpc" -s 100.64.0.254 --irt 0.5 -p udp -i 27015 -l 600 --port-set 4 -D "game server" map
ctl mappings -a | awk 'NR == 1 || /27015/'

step "the sessions in the data plane's table (cgnatctl sessions)"
ctl sessions

step "sub1's port blocks and quota (cgnatctl subscriber 100.64.1.2)"
ctl subscriber 100.64.1.2

step "sub6, an IPv6-only subscriber, pings cgnatd's inside IPv6 address 2001:db8:100::254 (Neighbor Discovery, echo)"
in_ns sub6 ping -6 -c 3 -i 0.2 -W 2 2001:db8:100::254

step "sub6 pings inet at 64:ff9b::198.51.100.10 (NAT64: inet's IPv4 address under the Well-Known Prefix, RFC 6052)"
in_ns sub6 ping -6 -c 3 -i 0.2 -W 2 64:ff9b::198.51.100.10

step "sub6 browses inet's web server over NAT64: http://[64:ff9b::c633:640a]/"
in_ns sub6 curl -gsS -m 5 "http://[64:ff9b::c633:640a]/"

step "sub6 runs a web server on port 8080 and asks cgnatd's inside IPv6 address for a mapping and the NAT64 prefix (PCP MAP with PREFIX64 to [2001:db8:100::254]:5351, RFC 7225)"
out=$(in_ns sub6 "$bin/pcpc" -s 2001:db8:100::254 --irt 0.5 --prefix64 -p tcp -i 8080 -l 600 map)
echo "$out"
ext6=$(echo "$out" | awk '/^external:/ { print $2 }')
echo "sub6 learned: $(echo "$out" | awk '/^prefix64:/ { print $2 }' | paste -sd ' ') (it synthesises IPv4 destinations under it)"

step "inet connects to $ext6, an IPv4 endpoint, and gets sub6's page (NAT64 to [2001:db8:6::2]:8080)"
in_ns inet curl -sS -m 5 "http://$ext6/"

step "sub6's NAT64 sessions and mapping: internal endpoint its IPv6 address, external one from the NAT44 pool (cgnatctl sessions)"
ctl sessions | awk 'NR == 1 || $2 ~ /2001:db8:6::2/'

step "where cgnatd sends frames: its IPv4 and IPv6 routes and the neighbours it resolved by ARP and ND (cgnatctl routes, neighbours)"
ctl routes
ctl neighbours

step "counters (cgnatctl stats, the non-zero ones)"
ctl stats | grep -v ': 0$'

step "the NAT log: port blocks and PCP mappings as RFC 5424 syslog lines (RFC 6888 REQ-14: one line per block, not per session)"
sleep 0.3 # the logger sends within 100 ms
grep -E ' (PORTBLOCK|MAPPING) ' "/run/cgnat-lab-$LAB_PREFIX/nat.log" | awk 'NR <= 6'

step "the Prometheus page (GET /metrics on 127.0.0.1:9464 in the cgn namespace): pool use, mappings, events logged"
in_ns cgn curl -sS -m 5 http://127.0.0.1:9464/metrics |
	grep -E '^cgnat_(pool_blocks|pool_blocks_used|table_mappings|pcp_mappings|log_events_total|log_dropped_total) '

epoch() { awk '/^epoch:/ { print $2 }'; }
step "cgnatd crashes (kill -9) and starts again (scripts/lab.sh crash): its state store gives back every PCP mapping, and its PCP epoch goes on (RFC 6887 §8.5: no state lost)"
e1=$(in_ns sub1 "$bin/pcpc" -s 100.64.0.254 --irt 0.5 announce | epoch)
e61=$(in_ns sub6 "$bin/pcpc" -s 2001:db8:100::254 --irt 0.5 announce | epoch)
"$top/scripts/lab.sh" crash
e2=$(in_ns sub1 "$bin/pcpc" -s 100.64.0.254 --irt 0.5 announce | epoch)
e62=$(in_ns sub6 "$bin/pcpc" -s 2001:db8:100::254 --irt 0.5 announce | epoch)
echo "epoch seen by sub1: $e1 before, $e2 after; by sub6: $e61 before, $e62 after"
ctl mappings -a | awk 'NR == 1 || /EXPLICIT/'

step "without mapping again, sub1 and sub6 are still reachable on $ext and $ext6"
in_ns inet curl -sS -m 5 "http://$ext/"
in_ns inet curl -sS -m 5 "http://$ext6/"

step "cgnatd restarts with its store deleted (scripts/lab.sh restart --empty): its mappings are gone, and its epoch starts again"
"$top/scripts/lab.sh" restart --empty
e3=$(in_ns sub1 "$bin/pcpc" -s 100.64.0.254 --irt 0.5 announce | epoch)
echo "epoch seen by sub1: $e2 before, $e3 after: sub1 knows to map again (§8.5)"
ext=$(in_ns sub1 "$bin/pcpc" -s 100.64.0.254 --irt 0.5 -p tcp -i 8080 -l 600 map | awk '/^external:/ { print $2 }')
echo "sub1 on $ext"
in_ns inet curl -sS -m 5 "http://$ext/"
echo
echo "demo: done"
