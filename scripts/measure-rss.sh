#!/usr/bin/env bash
# Idle resident memory of the daemon as a router runs it: HTTP up, polling, an hour of history.
#
#   scripts/measure-rss.sh [BINARY]
#
# BINARY defaults to the router build for x86_64-musl (cross/build.sh x86_64). The simulated
# modem runs from the host build (the router build leaves the simulator out). To make "an hour
# of history" without waiting an hour, the agent polls every second for 120 polls (= one hour
# of 30 s polls), then goes back to the router default of 30 s and idles; RSS is read from
# /proc/PID/status (VmRSS now, VmHWM the peak) after the history endpoints were read once.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-dist/x86_64-unknown-linux-musl/simkeep}
if [ ! -x "$bin" ]; then
  cross/build.sh x86_64 >&2
fi
cargo build --release --quiet
host=target/release/simkeep
work=$(mktemp -d)
cleanup() { kill "${agent:-}" "${sim:-}" 2>/dev/null || true; [ -n "${SIMKEEP_KEEP_LOG:-}" ] && cat "$work/agent.log" >&2; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/sys/wwan0/statistics"
echo 1000 > "$work/sys/wwan0/statistics/rx_bytes"
echo 1000 > "$work/sys/wwan0/statistics/tx_bytes"
write_cfg() {
  cat > "$work/config.toml" <<TOML
[modem]
port = "$work/modem"
lock_dir = "$work"
poll_interval = "$1"
[store]
path = "$work/simkeep.db"
[http]
listen = "127.0.0.1:$port"
[usage]
interface = "wwan0"
sysfs_root = "$work/sys"
quota = "20GB"
timezone = "Asia/Tokyo"
[usage.carrier]
ussd = "*100#"
interval = "6h"
TOML
}

"$host" sim --link "$work/modem" --personality quectel-ec25 </dev/null >/dev/null 2>"$work/sim.log" &
sim=$!
sleep 1
write_cfg 1s
"$bin" run --config "$work/config.toml" 2>"$work/agent.log" &
agent=$!
for _ in $(seq 1 120); do
  sleep 1
  rx=$(( $(cat "$work/sys/wwan0/statistics/rx_bytes") + 1234567 ))
  echo "$rx" > "$work/sys/wwan0/statistics/rx_bytes"
done
# Back to the router's default poll for the idle part (SIGHUP reloads the config).
write_cfg 30s
kill -HUP "$agent"
sleep 5
curl -s "http://127.0.0.1:$port/api/v1/status" >/dev/null
curl -s "http://127.0.0.1:$port/api/v1/history/signal?since=0" >/dev/null
curl -s "http://127.0.0.1:$port/api/v1/history/usage?since=0" >/dev/null
sleep 40
echo "binary: $bin ($(stat -c %s "$bin") bytes)"
grep -E 'VmRSS|VmHWM' "/proc/$agent/status"
kb=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
echo "idle RSS: $kb kB ($(awk -v k="$kb" 'BEGIN{printf "%.2f", k/1024}') MiB); budget 6 MB"
