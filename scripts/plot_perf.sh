#!/usr/bin/env bash
# Draws docs/performance.png from docs/performance.dat (the numbers scripts/bench_nat44.sh
# printed): cgnatd's NAT44 rate and testpmd io-forward's on the same vdevs, by live flows,
# on hugepages and without.
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
set datafile missing "?"
plot "$top/docs/performance.dat" using 1:3 with linespoints lc 1 dt 1 title "testpmd io-forward, hugepages (baseline)", \
     "$top/docs/performance.dat" using 1:2 with linespoints lc 2 dt 1 title "cgnatd NAT44, hugepages", \
     "$top/docs/performance.dat" using 1:5 with linespoints lc 1 dt 2 title "testpmd io-forward, no hugepages", \
     "$top/docs/performance.dat" using 1:4 with linespoints lc 2 dt 2 title "cgnatd NAT44, no hugepages"
GP
echo "wrote $top/docs/performance.png"
