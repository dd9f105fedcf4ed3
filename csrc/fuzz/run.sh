#!/usr/bin/env bash
# Build the libFuzzer targets (csrc/fuzz/README.md) and run each for SECONDS
# (default 60). Extra arguments go to every libFuzzer run (e.g. -jobs=2).
# Exit status: 0 no crash, 1 a target crashed (its input: $BUILD/crash-*),
# other: build failure. BUILD defaults to build-fuzz in the checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
SECS=${1:-60}
shift || true
BUILD=${BUILD:-$ROOT/build-fuzz}
TARGETS=(fuzz_replay fuzz_interval_tree fuzz_api)

if [ ! -d "$BUILD/meson-private" ]; then
	CC=${CC:-clang} meson setup "$BUILD" -Dfuzz=true -Dtests=false
fi
meson compile -C "$BUILD" "${TARGETS[@]/#/csrc/fuzz/}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
status=0
for t in "${TARGETS[@]}"; do
	corpus=$BUILD/corpus/$t
	mkdir -p "$corpus"
	args=(-max_total_time="$SECS" -artifact_prefix="$BUILD/" -print_final_stats=1)
	seeds=()
	case $t in
	fuzz_replay)
		args+=(-dict="$ROOT/csrc/fuzz/replay.dict")
		seeds=("$ROOT/tests/traces" "$ROOT/tests/traces/bad")
		;;
	fuzz_api)
		seeds=("$ROOT/csrc/fuzz/seeds/fuzz_api")
		;;
	esac
	echo "== $t: ${SECS}s"
	if ! "$BUILD/csrc/fuzz/$t" "${args[@]}" "$@" "$corpus" "${seeds[@]}" \
		>"$BUILD/$t.log" 2>&1; then
		echo "CRASH in $t (log: $BUILD/$t.log):"
		tail -n 60 "$BUILD/$t.log"
		status=1
	fi
	grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$BUILD/$t.log" || true
done
exit "$status"
