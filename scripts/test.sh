#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs every test suite:
#   build/       unit, dataplane, integration, conformance, golden, e2e (gcc, the production build)
#   build-asan/  all of the above again (gcc, AddressSanitizer + UndefinedBehaviorSanitizer)
#   build-fuzz/  fuzz                  (clang, libFuzzer + ASan/UBSan, bounded runs)
# Ends with one line "N passed, M failed" and exits non-zero if anything failed.
# Needs root (network namespaces, packages): as another user it runs itself again through sudo
# (scripts/lib/root.sh).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib/root.sh"
need_root test "$top/scripts/test.sh" "$@"
cd "$top"
"$top/scripts/setup.sh" || { echo "test: setup failed"; exit 1; }

passed=0 failed=0
declare -a failures=()

# run_suites BUILD_DIR SUITE... : runs the suites, adds their results to the totals
run_suites() {
	local dir=$1; shift
	local args=()
	for s in "$@"; do args+=(--suite "$s"); done
	echo "== $dir: ${*}"
	meson test -C "$dir" "${args[@]}" --print-errorlogs --num-processes 2
	local log="$dir/meson-logs/testlog.json"
	[ -f "$log" ] || { failed=$((failed + 1)); failures+=("$dir: no test log"); return; }
	# Criterion binaries report their own cases: count those; any other test (fuzz) counts once,
	# and a binary that failed after all its cases passed (e.g. its tshark check) counts a failure.
	local counts ok bad
	counts=$(python3 - "$log" <<'PY'
import json, re, sys
ok = bad = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    good = t["result"] == "OK"
    text = (t.get("stdout") or "") + (t.get("stderr") or "")
    m = re.search(r"Synthesis: Tested: \d+ \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)", text)
    g = re.search(r"^(\d+) passed, (\d+) failed$", text, re.M)  # golden.py's closing line
    if m or g:
        ok += int(m.group(1)) if m else int(g.group(1))
        failing = int(m.group(2)) + int(m.group(3)) if m else int(g.group(2))
        bad += failing if (failing or good) else 1
    elif good:
        ok += 1
    else:
        bad += 1
print(ok, bad)
PY
)
	ok=${counts% *}
	bad=${counts#* }
	passed=$((passed + ok))
	failed=$((failed + bad))
	if [ "$bad" -gt 0 ]; then
		failures+=("$dir: $(grep -E '"result": "(FAIL|TIMEOUT|ERROR)"' "$log" | sed -E 's/.*"name": "([^"]*)".*/\1/' | tr '\n' ' ')")
	fi
}

# configure DIR [meson options] : a build directory, configured once
configure() {
	local dir=$1; shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null || { failed=$((failed + 1)); failures+=("$dir: meson setup"); return 1; }
	ninja -C "$dir" >/dev/null || { failed=$((failed + 1)); failures+=("$dir: build"); return 1; }
}

run_suites build unit dataplane integration conformance golden e2e

if configure build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug; then
	# Everything again under AddressSanitizer and UndefinedBehaviorSanitizer, halting on the
	# first report. Leak checking where no DPDK process exits without freeing its EAL memory.
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 run_suites build-asan unit dataplane
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 run_suites build-asan integration conformance golden e2e
	unset UBSAN_OPTIONS
fi

if CC=clang configure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized; then
	run_suites build-fuzz fuzz
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
