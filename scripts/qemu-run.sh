#!/usr/bin/env bash
# Runs a cross-built router binary under qemu-user against the simulator over a pty:
# `simkeep --version`, `simkeep at`, and the daemon serving /api/v1/status.
#
#   scripts/qemu-run.sh aarch64|mipsel|mips|armv7   (builds dist/<target>/simkeep if missing)
#
# The simulator runs natively (host build); only the router binary runs under emulation, as it
# would on the router. qemu-user lacks TCGETS2, so this also exercises the AT layer's plain
# termios fallback for opening the tty.
set -euo pipefail
cd "$(dirname "$0")/.."
short=${1:?usage: scripts/qemu-run.sh aarch64|mipsel|mips|armv7}
case "$short" in
  aarch64) triple=aarch64-unknown-linux-musl; qemu=qemu-aarch64-static ;;
  armv7) triple=armv7-unknown-linux-musleabihf; qemu=qemu-arm-static ;;
  mipsel) triple=mipsel-unknown-linux-musl; qemu=qemu-mipsel-static ;;
  mips) triple=mips-unknown-linux-musl; qemu=qemu-mips-static ;;
  *) echo "unknown target $short" >&2; exit 2 ;;
esac
bin=dist/$triple/simkeep
[ -x "$bin" ] || cross/build.sh "$short" >&2
if ! command -v "$qemu" >/dev/null; then
  apt-get update -qq && apt-get install -y -qq qemu-user-static >/dev/null
fi
cargo build --release --quiet
host=target/release/simkeep
work=$(mktemp -d)
cleanup() { kill "${agent:-}" "${sim:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && cat "$work/agent.log" >&2; exit 1; }

"$host" sim --link "$work/modem" --personality quectel-ec25 </dev/null >/dev/null 2>"$work/sim.log" &
sim=$!
for _ in $(seq 1 50); do [ -e "$work/modem" ] && break; sleep 0.1; done

echo "== $short: --version"
"$qemu" "$bin" --version | tee "$work/version"
grep -q '^simkeep ' "$work/version" || fail "--version"

echo "== $short: at AT+CSQ over the pty"
"$qemu" "$bin" at --port "$work/modem" --lock-dir "$work" 'AT+CSQ' | tee "$work/at"
grep -q '^+CSQ: ' "$work/at" && grep -q '^OK$' "$work/at" || fail "at"

echo "== $short: daemon serving /api/v1/status"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/config.toml" <<TOML
[modem]
port = "$work/modem"
lock_dir = "$work"
poll_interval = "2s"
[store]
path = "$work/simkeep.db"
[http]
listen = "127.0.0.1:$port"
TOML
"$qemu" "$bin" run --config "$work/config.toml" 2>"$work/agent.log" &
agent=$!
for _ in $(seq 1 60); do
  if curl -sf "http://127.0.0.1:$port/api/v1/status" >"$work/status" && grep -q '"signal"' "$work/status"; then
    break
  fi
  sleep 1
done
grep -q '"link":"connected"' "$work/status" || fail "status never showed a connected modem: $(cat "$work/status" 2>/dev/null)"
grep -q '"manufacturer":"Quectel"' "$work/status" || fail "status has no modem identity"
head -c 300 "$work/status"; echo
kill -TERM "$agent"
wait "$agent" || fail "daemon exit status $?"
agent=
echo "PASS: $short under $qemu"
