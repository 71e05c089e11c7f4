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
"$target" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work" 2>&1 | tail -n 25
rc=${PIPESTATUS[0]}
found=0
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do # (unmatched globs stay literal)
	[ -f "$f" ] || continue
	echo "reproducer $f:"
	od -A x -t x1z "$f" | head -20
	found=1
done
[ "$found" -eq 1 ] && exit 1
exit "$rc"
