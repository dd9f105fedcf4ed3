#!/usr/bin/env bash
# Build the libFuzzer targets (csrc/fuzz/README.md) and run each for SECONDS
# (default 60). Extra arguments go to every libFuzzer run (e.g. -jobs=2).
# Exit status: 0 no crash, 1 a target crashed (its input: $BUILD/crash-*),
# other: build failure. BUILD defaults to build-fuzz in the checkout.
#
#   run.sh --coverage [SECONDS]
# Coverage reached: builds the targets with clang's source coverage
# (-Dfuzz_coverage=true, no sanitizers) in BUILD_COV (default
# build-fuzz-cov), runs each over its corpus ($BUILD/corpus/TARGET, grown by
# the fuzzing runs, plus its seeds) for at most SECONDS (default 600), and
# prints llvm-cov's line/branch report of csrc/ (the fuzz harnesses left
# out): per target and for all targets together. HTML: $BUILD_COV/html/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build-fuzz}
TARGETS=(fuzz_replay fuzz_interval_tree fuzz_api)

seeds_of() {
	case $1 in
	fuzz_replay) echo "$ROOT/tests/traces" "$ROOT/tests/traces/bad" ;;
	fuzz_api) echo "$ROOT/csrc/fuzz/seeds/fuzz_api" ;;
	esac
}

if [ "${1:-}" = --coverage ]; then
	SECS=${2:-600}
	COV=${BUILD_COV:-$ROOT/build-fuzz-cov}
	PROFDATA=${LLVM_PROFDATA:-llvm-profdata}
	LLVMCOV=${LLVM_COV:-llvm-cov}
	if [ ! -d "$COV/meson-private" ]; then
		CC=${CC:-clang} meson setup "$COV" -Dfuzz=true -Dfuzz_coverage=true -Dtests=false
	fi
	meson compile -C "$COV" "${TARGETS[@]/#/csrc/fuzz/}"
	rm -rf "$COV/prof"
	mkdir -p "$COV/prof"
	objs=()
	for t in "${TARGETS[@]}"; do
		dirs=()
		[ -d "$BUILD/corpus/$t" ] && dirs+=("$BUILD/corpus/$t")
		# shellcheck disable=SC2207
		dirs+=($(seeds_of "$t"))
		echo "== $t: corpus ${dirs[*]}"
		# -runs=0: every input once, no mutation (the corpus is the measure).
		LLVM_PROFILE_FILE="$COV/prof/$t-%p.profraw" timeout "$SECS" \
			"$COV/csrc/fuzz/$t" -runs=0 "${dirs[@]}" >"$COV/$t.log" 2>&1 || {
			echo "$t: exit $? (log: $COV/$t.log)"
			tail -n 20 "$COV/$t.log"
		}
		grep -E '^#[0-9]+ *(INITED|DONE)' "$COV/$t.log" | tail -n 1 || true
		"$PROFDATA" merge -sparse "$COV/prof/$t"-*.profraw -o "$COV/$t.profdata"
		echo "-- $t: csrc/ (Lines, Branches: total, missed, cover)"
		"$LLVMCOV" report "$COV/csrc/fuzz/$t" -instr-profile="$COV/$t.profdata" \
			-ignore-filename-regex='csrc/fuzz/' | tail -n 1
		objs+=(-object "$COV/csrc/fuzz/$t")
	done
	"$PROFDATA" merge -sparse "$COV/prof"/*.profraw -o "$COV/all.profdata"
	echo "== all targets: per file"
	"$LLVMCOV" report "${objs[@]:1}" -instr-profile="$COV/all.profdata" \
		-ignore-filename-regex='csrc/fuzz/'
	"$LLVMCOV" show "${objs[@]:1}" -instr-profile="$COV/all.profdata" \
		-ignore-filename-regex='csrc/fuzz/' -format=html -output-dir="$COV/html" >/dev/null
	exit 0
fi

SECS=${1:-60}
shift || true

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
	# shellcheck disable=SC2207
	seeds=($(seeds_of "$t"))
	[ "$t" = fuzz_replay ] && args+=(-dict="$ROOT/csrc/fuzz/replay.dict")
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
