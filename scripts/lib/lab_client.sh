# Sourced by what runs traffic in the lab of scripts/lab.sh (the demo, the e2e suite), after
# LAB_PREFIX and bin (the folder of cgnatd's programs) are set:
#   in_ns NAME CMD...             runs CMD in the lab's namespace NAME (sub1, sub2, sub6, cgn, inet)
#   ctl ARGS...                   cgnatctl against the lab's cgnatd
#   stop_jobs                     kills the caller's background jobs (web servers) and waits
#   start_web NAME ADDR PORT DIR  serves DIR over HTTP there (ADDR IPv4 or IPv6), as a
#                                 background job of the caller that ends by itself after 240 s,
#                                 and waits (5 s at most) until it answers

lab_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

in_ns() { local n=$1; shift; ip netns exec "$LAB_PREFIX$n" "$@"; }
ctl() { "$bin/cgnatctl" -p "${LAB_PREFIX}cgnlab" "$@"; }
stop_jobs() {
	local j
	j=$(jobs -p)
	[ -n "$j" ] && kill $j 2>/dev/null && wait 2>/dev/null
	return 0
}

start_web() {
	local url="$2:$3"
	[[ "$2" == *:* ]] && url="[$2]:$3"
	in_ns "$1" /usr/bin/python3 "$lab_lib/web.py" "$2" "$3" "$4" 240 &
	for _ in $(seq 1 50); do
		in_ns "$1" curl -gs -o /dev/null "http://$url/" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no web server on $2:$3 in $1 after 5 s" >&2
	return 1
}
