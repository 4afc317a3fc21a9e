#!/bin/sh
# `simkeep at` against sms_tool (the C tool OpenWrt ships for AT commands), side by side on the
# same simulated modem: both open the pty, send `AT+CSQ`, print the answer and exit. Prints
# mean ± σ per tool (hyperfine when installed, in ROUNDS rounds of alternating order; else a
# `date +%s%N` loop).
#
#   scripts/at-vs-smstool.sh [RUNS]
#
# SIMKEEP   the simkeep binary to time (default: target/release/simkeep; build it with
#           `cargo build --release`). A router build (cross/build.sh x86_64: static musl, no
#           simulator) runs here too.
# SIM_BIN   the simkeep that runs the simulator (default: target/release/simkeep).
# SMS_TOOL  the sms_tool binary (default: `sms_tool` on PATH). Build it from
#           https://github.com/obsy/sms_tool with `make` outside this repo; never vendor it.
# PERSONALITY  which modem the simulator plays (default: quectel-ec25).
# COMMAND   the AT line (default: AT+CSQ).
set -eu

RUNS=${1:-200}
SIMKEEP=${SIMKEEP:-target/release/simkeep}
SIM_BIN=${SIM_BIN:-target/release/simkeep}
SMS_TOOL=${SMS_TOOL:-$(command -v sms_tool || true)}
PERSONALITY=${PERSONALITY:-quectel-ec25}
COMMAND=${COMMAND:-AT+CSQ}

[ -x "$SIMKEEP" ] || { echo "no simkeep at $SIMKEEP (cargo build --release, or set SIMKEEP)" >&2; exit 2; }
[ -x "$SIM_BIN" ] || { echo "no simulator at $SIM_BIN (set SIM_BIN to a simkeep built with the sim feature)" >&2; exit 2; }
[ -n "$SMS_TOOL" ] && [ -x "$SMS_TOOL" ] || { echo "no sms_tool: set SMS_TOOL=/path/to/sms_tool" >&2; exit 2; }

work=$(mktemp -d)
sim_pid=
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
    case "${lockdir:-}" in /dev/shm/*) rm -rf "$lockdir" ;; esac
}
trap cleanup EXIT INT TERM

# The simulator keeps a symlink to its pty; --control keeps it from reading our stdin.
"$SIM_BIN" sim --personality "$PERSONALITY" --link "$work/modem" --control "$work/ctl" \
    >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
i=0
while [ ! -e "$work/modem" ]; do
    i=$((i + 1))
    [ "$i" -gt 100 ] && { echo "simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1; }
    sleep 0.1
done
port=$(readlink -f "$work/modem")
# UUCP lock files go where OpenWrt keeps them: /var/lock is on tmpfs there. /dev/shm is tmpfs
# here; a disk file system would time ext4's create and unlink, not simkeep.
lockdir=$work/lock
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    lockdir=$(mktemp -d /dev/shm/simkeep-lock.XXXXXX)
fi
mkdir -p "$lockdir"

skeep="$SIMKEEP --port $port --lock-dir $lockdir at $COMMAND"
stool="$SMS_TOOL -d $port at $COMMAND"

# Both must answer before anything is timed.
$skeep >"$work/a" || { echo "simkeep failed: $skeep" >&2; exit 1; }
$stool >"$work/b" || { echo "sms_tool failed: $stool" >&2; exit 1; }
echo "simkeep:  $(tr '\n' ' ' <"$work/a")"
echo "sms_tool: $(tr '\n' ' ' <"$work/b")"
# Other work on the machine skews both; say how busy it was.
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

if command -v hyperfine >/dev/null 2>&1; then
    # In rounds, the order swapped each round, so load from other work on the machine drifts
    # over both tools alike instead of over whichever ran second.
    rounds=${ROUNDS:-6}
    per=$(( (RUNS + rounds - 1) / rounds ))
    r=0
    while [ "$r" -lt "$rounds" ]; do
        if [ $((r % 2)) -eq 0 ]; then
            set -- -n "simkeep at" "$skeep" -n "sms_tool at" "$stool"
        else
            set -- -n "sms_tool at" "$stool" -n "simkeep at" "$skeep"
        fi
        hyperfine -N --warmup 5 --runs "$per" --export-json "$work/h$r.json" "$@" >/dev/null 2>&1
        r=$((r + 1))
    done
    python3 - "$work"/h*.json <<'PY'
import json, statistics, sys
wall, cpu = {}, {}
for f in sys.argv[1:]:
    for x in json.load(open(f))["results"]:
        wall.setdefault(x["command"], []).extend(x["times"])
        # hyperfine gives user and system time as means per round.
        cpu.setdefault(x["command"], []).extend([x["user"] + x["system"]] * len(x["times"]))
for name in ("simkeep at", "sms_tool at"):
    w, c = wall[name], cpu[name]
    print(f"{name:>12}: {statistics.mean(w)*1e3:.2f} ms ± {statistics.stdev(w)*1e3:.2f} ms wall, "
          f"{statistics.mean(c)*1e3:.2f} ms CPU (n={len(w)})")
a, b = statistics.mean(wall["simkeep at"]), statistics.mean(wall["sms_tool at"])
print(f"simkeep / sms_tool = {a / b:.2f} (wall)")
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
