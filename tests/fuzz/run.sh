#!/bin/bash
# Run the libFuzzer harnesses of a --enable-fuzzing build (make fuzz-short,
# make fuzz-long; FUZZING.md). short: FUZZ_SECONDS (60) each, any finding
# fails. long: FUZZ_RUNS (10000000) executions each, figures printed.
# Harnesses run one at a time under nice: the machine is shared.
set -uo pipefail
mode=$1
shift
src=${FUZZ_SRCDIR:?}
build=${FUZZ_BUILDDIR:?}
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-10000000}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for name in "$@"; do
    bin=$build/tests/fuzz/fuzz-$name
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing: configure with CC=clang --enable-fuzzing" >&2
        exit 1
    fi
    work=$build/tests/fuzz/work/$name
    artifacts=$build/tests/fuzz/artifacts/$name/
    log=$build/tests/fuzz/fuzz-$name.$mode.log
    mkdir -p "$work" "$artifacts"
    args=(-timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1
          -artifact_prefix="$artifacts")
    [ -f "$src/tests/fuzz/dict/$name.dict" ] && args+=(-dict="$src/tests/fuzz/dict/$name.dict")
    case $mode in
        short) args+=(-max_total_time="$seconds") ;;
        long) args+=(-runs="$runs")
              [ -n "${FUZZ_MAX_SECONDS:-}" ] && args+=(-max_total_time="$FUZZ_MAX_SECONDS") ;;
        *) echo "fuzz: unknown mode '$mode'" >&2; exit 2 ;;
    esac
    # New finds go to the work corpus in the build tree; the seeds stay as shipped.
    start=$(date +%s)
    nice -n 19 "$bin" "${args[@]}" "$work" "$src/tests/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/cov \1, corpus \2/p')
    printf 'fuzz-%s: %s: %s executions in %ss, %s exec/s, %s (log %s)\n' \
        "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" "${execs:-?}" \
        "$((end - start))" "${speed:-?}" "${cov:-?}" "$log"
    if [ $rc -ne 0 ]; then
        grep -E 'ERROR|runtime error|invariant failed|CRITICAL|WARNING|Test unit written' "$log" |
            head -20
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in: ${failed[*]}" >&2
    exit 1
fi
