#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs every test suite:
#   build/       unit + integration    (gcc, the production build)
#   build-asan/  unit                  (gcc, AddressSanitizer + UndefinedBehaviorSanitizer)
#   build-fuzz/  fuzz                  (clang, libFuzzer + ASan/UBSan, bounded runs)
# Ends with one line "N passed, M failed" and exits non-zero if anything failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
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
	local ok bad cases_ok cases_bad
	ok=$(grep -c '"result": "OK"' "$log")
	bad=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
	# Criterion binaries report their own cases: count those, and each other test (fuzz) once.
	cases_ok=$(grep -ho 'Synthesis: Tested: [0-9]* | Passing: [0-9]*' "$dir/meson-logs/testlog.txt" | awk '{s += $NF} END {print s + 0}')
	cases_bad=$(grep -ho 'Failing: [0-9]* | Crashing: [0-9]*' "$dir/meson-logs/testlog.txt" | awk '{s += $2 + $NF} END {print s + 0}')
	local with_synthesis
	with_synthesis=$(grep -c 'Synthesis: Tested' "$dir/meson-logs/testlog.txt")
	passed=$((passed + cases_ok + ok - with_synthesis))
	failed=$((failed + cases_bad + bad))
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

run_suites build unit integration conformance

if configure build-asan -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		run_suites build-asan unit
fi

if CC=clang configure build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized; then
	run_suites build-fuzz fuzz
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
