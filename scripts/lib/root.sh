# Sourced by the scripts that need root (network namespaces, DPDK, packages). As root they go
# on; as another user they run themselves again through sudo where sudo is installed, and
# otherwise stop, saying that they need root. A machine that runs as root needs no sudo at all
# (minimal Debian containers have none).
#
#   . "$top/scripts/lib/root.sh"
#   need_root NAME SCRIPT [ARGS...]   SCRIPT: the script's own absolute path, ARGS: its "$@"
#   CGN_SUDO_KEEP="VAR ..."           environment variables to carry over sudo (it resets the rest)

need_root() {
	local name=$1
	shift
	[ "$(id -u)" -eq 0 ] && return 0
	if command -v sudo >/dev/null 2>&1; then
		local keep=() v
		for v in ${CGN_SUDO_KEEP:-}; do
			[ -n "${!v+set}" ] && keep+=("$v=${!v}")
		done
		echo "$name: needs root (network namespaces, DPDK): running it again with sudo" >&2
		exec sudo "${keep[@]}" bash "$@"
	fi
	echo "$name: needs root (network namespaces, DPDK) and sudo is not installed: run it as root" >&2
	exit 1
}
