#!/bin/sh
# Fuzzing (issue 13 §6): runs every cargo-fuzz target in fuzz/ for SECONDS each, one after
# another on one core, starting from the committed seeds (fuzz/seeds/<target>) plus whatever an
# earlier run grew (fuzz/corpus/<target>, not committed), and prints per target: executions,
# executions per second, coverage (edges / features), corpus size, and what was found. A crash,
# an input slower than 5 s (-timeout=5) or over 512 MB (-rss_limit_mb=512) stops that target
# and leaves the input in fuzz/artifacts/<target>/; inputs slower than 1 s are reported too
# (a parser that takes a second on a PC takes ten on a router).
#
# Usage: scripts/fuzz.sh SECONDS [TARGET...]
#   FUZZ_SANITIZER=none   skips AddressSanitizer (faster; panics and overflows are still found)
# Needs cargo-fuzz (installed here from crates.io if missing) and a toolchain that accepts -Z
# flags: on stable, RUSTC_BOOTSTRAP=1 is set for the fuzz build only.
# One libFuzzer process per target, in the foreground: the same as -jobs=1, but its output
# stays on this terminal instead of going to fuzz-0.log.
set -eu
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
  exit 2
fi
case "$1" in
  ''|*[!0-9]*) echo "scripts/fuzz.sh: SECONDS must be a whole number, not '$1'" >&2; exit 2 ;;
esac
secs="$1"
shift
if ! command -v cargo-fuzz >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-fuzz" ]; then
  echo "scripts/fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1 CARGO_INCREMENTAL=0
# ASan keeps 256 MB of freed memory in quarantine by default, which alone puts a long config
# run over the 512 MB limit (live heap 26 MB; measured with a 6,000-file corpus). 32 MB keeps
# the limit meaningful for what the parsers allocate.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=32}"
san="${FUZZ_SANITIZER:-address}"
targets="$*"
if [ -z "$targets" ]; then
  targets=$(cd fuzz && cargo fuzz list)
fi
(cd fuzz && cargo fuzz build -a -s "$san")

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0
printf '%-14s %6s %11s %8s %7s %7s %6s  %s\n' target secs execs exec/s cov ft corpus found >"$logs/table"
for t in $targets; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  case "$t" in
    digest) max_len=12000 ;;  # room for 1,024-line replies and over-long lines
    config) max_len=8192 ;;
    *) max_len=4096 ;;
  esac
  echo "== $t: ${secs}s" >&2
  set +e
  (cd fuzz && cargo fuzz run -a -s "$san" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=5 -rss_limit_mb=512 -report_slow_units=1 \
    -max_len="$max_len" -print_final_stats=1 -close_fd_mask=1 \
    -artifact_prefix="artifacts/$t/") >"$logs/$t.log" 2>&1
  rc=$?
  set -e
  log="$logs/$t.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1)
  cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
  slow=$(grep -c 'Slowest unit' "$log" || true)
  found=""
  if [ "$rc" -ne 0 ]; then
    failed=1
    kind=$(grep -oE 'ERROR: libFuzzer: [a-z-]+|deadly signal|panicked at [^:]*:[0-9]+' "$log" | head -1)
    art=$(grep -oE 'artifacts/[^ ]+' "$log" | head -1 || true)
    found="CRASH (${kind:-exit $rc}) $art"
    grep -m1 -A3 'panicked at' "$log" >&2 || tail -20 "$log" >&2
  fi
  [ "$slow" -gt 0 ] && found="$found slow>1s:$slow(see fuzz/artifacts/$t/slow-unit-*)"
  printf '%-14s %6s %11s %8s %7s %7s %6s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "${found:-nothing}" >>"$logs/table"
done
cat "$logs/table"
exit "$failed"
