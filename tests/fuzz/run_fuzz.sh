#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time over a copy of its seed corpus, so the checked-in
# seeds are never modified. Fails (non-zero) on any crash, leak or sanitizer report.
#   run_fuzz.sh TARGET SEED_DIR SECONDS
set -uo pipefail
target=$1 seeds=$2 seconds=$3
work=$(mktemp -d /tmp/cgnat-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$seeds"/* "$work"/ 2>/dev/null
cd "$work" || exit 1
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work" 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
if ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* >/dev/null 2>&1; then
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$f" ] && { echo "reproducer $f:"; od -A x -t x1z "$f" | head -20; }
	done
	exit 1
fi
exit "$rc"
