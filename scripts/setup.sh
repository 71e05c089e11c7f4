#!/usr/bin/env bash
# Installs every Debian package the project needs, then configures and builds it with meson into build/.
# Idempotent: a second run installs nothing and only lets ninja rebuild what changed.
#
#   scripts/setup.sh            packages + build/
#   scripts/setup.sh --deps     packages only
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# One package a line; what each is for.
packages=(
	build-essential pkg-config meson ninja-build   # toolchain and build system
	libdpdk-dev dpdk-dev                           # DPDK 22.11 libraries, PMDs (net_pcap, net_null, ...) and dpdk-testpmd
	libjemalloc-dev                                # control-plane allocator
	libconfig-dev                                  # cgnatd configuration files
	liblmdb-dev lmdb-utils                         # the state store (state.path); mdb_stat for sizing
	libpcap-dev                                    # net_pcap PMD and golden tests
	libcriterion-dev                               # unit and conformance tests
	clang llvm libclang-rt-14-dev                  # libFuzzer targets and the sanitizer build
	tshark                                         # decodes captured PCP exchanges (portcontrol dissector)
	python3 python3-scapy                          # builds test pcaps
	natpmpc                                        # an independent NAT-PMP client for interop tests
	iproute2 iputils-ping procps psmisc curl       # network-namespace labs, process control, HTTP in the lab
	traceroute                                     # traceroute through the NAT (e2e)
	util-linux bc gnuplot-nox                      # benchmarks: taskset, ratios, docs/performance.png
	libfixbuf-dev                                  # IPFIX export of NAT events (RFC 7011, RFC 8158)
	libmicrohttpd-dev                              # the Prometheus page (metrics.listen)
	prometheus                                     # promtool: tests check the /metrics page
	nfdump                                         # nfcapd/nfdump: an independent IPFIX collector in tests
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
			{ echo "setup: installing ${missing[*]} needs root, and sudo is not installed: run it as root" >&2; exit 1; }
		sudo="sudo"
	fi
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--deps" ] && exit 0

cd "$top"
if [ ! -f build/build.ninja ]; then
	meson setup build # -O3 with debug information (meson.build)
fi
ninja -C build
