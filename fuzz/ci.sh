#!/bin/sh
# Keeps the fuzz targets from rotting: builds every target and runs each
# for a short, bounded time from its committed seeds (fuzz/seeds/<target>).
# Any crash, panic, timeout or out-of-memory fails the script, which
# prints libFuzzer's report; the input is kept in fuzz/artifacts/ci/.
#
# Called by .ci/run as `sh fuzz/ci.sh`. FUZZ_SECONDS sets the time per
# target (default 15). Long runs: see docs/security.md.
set -eu
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-15}
# Targets not built by default (required-features in Cargo.toml) and so not
# run here; none today.
disabled=""
# cargo-fuzz passes -Z flags to rustc; the stable toolchain accepts them
# with RUSTC_BOOTSTRAP, which this script (and nothing else) sets.
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cargo fuzz build

# A fresh corpus per run: the time bound must not depend on how large a
# corpus earlier long runs left in fuzz/corpus/.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for target in $(cargo fuzz list); do
    case " $disabled " in
    *" $target "*)
        echo "fuzz/ci.sh: $target is disabled (see fuzz/Cargo.toml), not run"
        continue
        ;;
    esac
    mkdir -p "$scratch/$target" "seeds/$target" artifacts/ci
    log="$scratch/$target.log"
    if ! cargo fuzz run "$target" "$scratch/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="artifacts/ci/$target-" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz/ci.sh: $target failed; the input is in fuzz/artifacts/ci/" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz/ci.sh: $target ran ${seconds}s, ${runs:-?} inputs, no finding"
done
echo "fuzz/ci.sh: every target ran without a finding"
