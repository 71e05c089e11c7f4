#!/usr/bin/env bash
# Draws docs/performance.png from docs/performance.dat (the numbers scripts/bench_nat44.sh
# printed): cgnatd's NAT44 rate and testpmd io-forward's on the same vdevs, by live flows.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
gnuplot <<GP
set terminal pngcairo size 800,480 noenhanced font ",11"
set output "$top/docs/performance.png"
set title "NAT44, one worker, 64-octet UDP: net_pcap (infinite_rx) -> net_null"
set logscale x
set xlabel "live flows (sessions)"
set ylabel "Mpps"
set yrange [0:*]
set grid
set key top right
plot "$top/docs/performance.dat" using 1:3 with linespoints title "dpdk-testpmd io-forward (baseline)", \
     "$top/docs/performance.dat" using 1:2 with linespoints title "cgnatd NAT44"
GP
echo "wrote $top/docs/performance.png"
