#!/usr/bin/env bash
# Runs a command inside a new network namespace that has only its loopback up, and deletes the
# namespace (killing whatever still runs in it) when the command ends, however it ends.
# Nothing is added to the root namespace. Needs root; exits 77 (meson: skipped) without it.
#
#   tests/netns_run.sh COMMAND [ARGS...]
set -u

if [ "$(id -u)" -ne 0 ]; then
	echo "netns_run: network namespaces need root; run the test suite as root" >&2
	exit 77
fi

ns="cgnt-$$-${RANDOM}"
cleanup() {
	local pids
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM

ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up || exit 1
rc=0
ip netns exec "$ns" "$@" || rc=$?
exit "$rc"
