#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 300), one at a time, at low priority.
# Not part of `make test` or CI: run it by hand (docs/BENCHMARKS.md, "Issue 4: fuzzing the
# parsers").
#
# Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
#   FUZZ_RSS_MB (default 2048) and FUZZ_TIMEOUT (default 10) tune libFuzzer's limits.
#   FUZZ_KEEP_GOING=1 runs in libFuzzer's fork mode (-fork=1 -ignore_crashes=1) instead of
#   -jobs=1 -workers=1, so a target with a known crash still fuzzes for the whole time and
#   saves every further crash it finds (still one worker process).
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Seeds
# come from fuzz/seed.sh (run here first when fuzz/corpus/ is missing). Each target's
# libFuzzer log lands in fuzz/artifacts/logs/<target>.log; crash inputs in
# fuzz/artifacts/<target>/ (cargo-fuzz's -artifact_prefix). A target that crashes does not
# stop the others; the script exits 1 at the end if any target failed.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
seconds="${1:-300}"
shift || true
rss_mb="${FUZZ_RSS_MB:-2048}"
timeout_s="${FUZZ_TIMEOUT:-10}"
logs="$here/artifacts/logs"
mkdir -p "$logs"
cd "$repo" || exit 2

# The bundled SQLite C code (linked in through the saferplaces crate, never called by the
# parsers) trips AddressSanitizer's ODR check at start-up when a target binary is run
# directly: a false positive. `cargo fuzz run` avoided it here anyway; set it regardless.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"

if [[ ! -d "$here/corpus" ]]; then
  "$here/seed.sh"
fi

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "cargo-fuzz: $(cargo +nightly fuzz --version | head -n 1)"
echo "rustc:      $(rustc +nightly --version)"
echo "targets:    ${targets[*]} (${seconds}s each)"

# Build every target first so the timed runs do not include compiling.
nice -n 10 cargo +nightly fuzz build -a || exit 2

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
  echo "== $t: $(date -u +%FT%TZ)"
  # -jobs=1 -workers=1: libFuzzer runs one worker process and writes its output to
  # fuzz-0.log in the working directory; it is moved into the logs folder afterwards.
  # Fork mode prints to the driver's own output instead.
  if [[ "${FUZZ_KEEP_GOING:-0}" == 1 ]]; then
    mode=(-fork=1 -ignore_crashes=1)
  else
    mode=(-jobs=1 -workers=1)
  fi
  rm -f "$repo/fuzz-0.log"
  start=$(date +%s)
  nice -n 10 cargo +nightly fuzz run -a "$t" "$here/corpus/$t" -- \
    "${mode[@]}" \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout="$timeout_s" \
    -print_final_stats=1 \
    > "$logs/$t.driver.log" 2>&1
  rc=$?
  end=$(date +%s)
  if [[ -f "$repo/fuzz-0.log" ]]; then
    mv "$repo/fuzz-0.log" "$logs/$t.log"
  else
    cp "$logs/$t.driver.log" "$logs/$t.log"
  fi
  echo "   exit $rc after $((end - start))s (wall, incl. start-up)"
  grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|^#[0-9]+: cov:.*crash|INFO: exiting|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' \
    "$logs/$t.log" | awk '/^#[0-9]+: cov:/ {last = $0; next} {print} END {if (last) print last}' \
    | sed 's/^/   /'
  if [[ $rc -ne 0 ]] || ls "$here/artifacts/$t" | grep -qE '^(crash|oom|timeout|leak|slow-unit)-'; then
    failed+=("$t")
    echo "   FAILED: see $logs/$t.log and $here/artifacts/$t/"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "targets with findings: ${failed[*]}"
  exit 1
fi
echo "no crashes"
