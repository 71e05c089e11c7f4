# Sourced by the scripts that run cgnatd in a network namespace of their own (demo, benches):
# one namespace with only its loopback up, and one cleanup that stops what they started and
# always deletes the namespace and the work folder, however the script ends.
#
#   . "$top/scripts/lib/netns.sh"
#   netns_begin PREFIX     sets $ns, $work, $pid (the caller's cgnatd, "" when none); traps exit
#   netns_stop_cgnatd      stops $pid with SIGTERM and waits for it

netns_cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	local left
	left=$(ip netns pids "$ns" 2>/dev/null || true)
	[ -n "$left" ] && kill -9 $left 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
	return 0
}

netns_begin() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$1: needs root (network namespaces, DPDK): run it as root (scripts/lib/root.sh)" >&2
		exit 1
	fi
	ns="cgnat-$1-$$"
	work=$(mktemp -d "/tmp/cgnat-$1.XXXXXX")
	pid=""
	trap netns_cleanup EXIT INT TERM
	ip netns add "$ns"
	ip -n "$ns" link set lo up
}

netns_stop_cgnatd() {
	kill "$pid"
	wait "$pid" || true
	pid=""
}
