#!/bin/sh
# `simkeep at` against sms_tool (the C tool OpenWrt ships for AT commands), side by side on the
# same simulated modem: both open the pty, send `AT+CSQ`, print the answer and exit. Prints
# mean ± σ per tool (hyperfine when installed, else a `date +%s%N` loop).
#
#   scripts/at-vs-smstool.sh [RUNS]
#
# SIMKEEP   the simkeep binary to time (default: target/release/simkeep; build it with
#           `cargo build --release`). It also runs the simulator.
# SMS_TOOL  the sms_tool binary (default: `sms_tool` on PATH). Build it from
#           https://github.com/obsy/sms_tool with `make` outside this repo; never vendor it.
# PERSONALITY  which modem the simulator plays (default: quectel-ec25).
# COMMAND   the AT line (default: AT+CSQ).
set -eu

RUNS=${1:-200}
SIMKEEP=${SIMKEEP:-target/release/simkeep}
SMS_TOOL=${SMS_TOOL:-$(command -v sms_tool || true)}
PERSONALITY=${PERSONALITY:-quectel-ec25}
COMMAND=${COMMAND:-AT+CSQ}

[ -x "$SIMKEEP" ] || { echo "no simkeep at $SIMKEEP (cargo build --release, or set SIMKEEP)" >&2; exit 2; }
[ -n "$SMS_TOOL" ] && [ -x "$SMS_TOOL" ] || { echo "no sms_tool: set SMS_TOOL=/path/to/sms_tool" >&2; exit 2; }

work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The simulator keeps a symlink to its pty; --control keeps it from reading our stdin.
"$SIMKEEP" sim --personality "$PERSONALITY" --link "$work/modem" --control "$work/ctl" \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
i=0
while [ ! -e "$work/modem" ]; do
    i=$((i + 1))
    [ "$i" -gt 100 ] && { echo "simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1; }
    sleep 0.1
done
port=$(readlink -f "$work/modem")
mkdir -p "$work/lock"

skeep="$SIMKEEP --port $port --lock-dir $work/lock at $COMMAND"
stool="$SMS_TOOL -d $port at $COMMAND"

# Both must answer before anything is timed.
$skeep >"$work/a" || { echo "simkeep failed: $skeep" >&2; exit 1; }
$stool >"$work/b" || { echo "sms_tool failed: $stool" >&2; exit 1; }
echo "simkeep:  $(tr '\n' ' ' <"$work/a")"
echo "sms_tool: $(tr '\n' ' ' <"$work/b")"

if command -v hyperfine >/dev/null 2>&1; then
    hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$work/h.json" \
        -n "simkeep at" "$skeep" -n "sms_tool at" "$stool" >&2
    python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for x in r:
    print(f"{x['command']:>12}: {x['mean']*1e3:.2f} ms ± {x['stddev']*1e3:.2f} ms (n={len(x['times'])})")
a, b = r[0]["mean"], r[1]["mean"]
print(f"simkeep / sms_tool = {a / b:.2f}")
PY
    exit 0
fi

# No hyperfine: a plain loop, nanoseconds from date.
time_runs() {
    n=0
    : >"$work/t"
    while [ "$n" -lt "$RUNS" ]; do
        s=$(date +%s%N)
        "$@" >/dev/null
        e=$(date +%s%N)
        echo $((e - s)) >>"$work/t"
        n=$((n + 1))
    done
    awk -v name="$1" '{ s += $1; q += $1 * $1 } END {
        m = s / NR; sd = sqrt(q / NR - m * m);
        printf "%12s: %.2f ms ± %.2f ms (n=%d)\n", name, m / 1e6, sd / 1e6, NR }' "$work/t"
}
time_runs $skeep
time_runs $stool
