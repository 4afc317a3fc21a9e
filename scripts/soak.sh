#!/bin/sh
# The soak (issue 13 §7): `simkeep run` against the simulated modem for SECONDS with a random
# fault every ~10 s (hang, unplug and renumber, garbage, URC storms of 1,000 lines/s, slow
# answers, reboot with the SIM busy) and SMS delivered throughout; prints the report (faults
# survived, seconds to resume polling, RSS drift, bytes written, SMS lost) and fails on a lost SMS,
# polling that never resumed, RSS drift ≥ 1 MB, or a command answered in ≥ 1 s during a storm.
# Usage: scripts/soak.sh SECONDS
#   SIMKEEP_SOAK_SEED=N replays a run (the seed is printed);
#   SIMKEEP_BIN=path soaks another build (e.g. target/release/simkeep) with the same harness.
#   SIMKEEP_SOAK_STORE=tmpfs puts the store on a 4 MiB tmpfs and adds "store full" faults (root).
#   SIMKEEP_SOAK_SMS=off / SIMKEEP_SOAK_FAULTS=off leave out SMS / faults (to split bytes written).
# Reuses the test build (`cargo test`), so after the suite it starts at once.
set -eu
cd "$(dirname "$0")/.."
if [ $# -ne 1 ]; then
  echo "usage: scripts/soak.sh SECONDS" >&2
  exit 2
fi
case "$1" in
  ''|*[!0-9]*) echo "scripts/soak.sh: SECONDS must be a whole number, not '$1'" >&2; exit 2 ;;
esac
SIMKEEP_SOAK_SECS="$1"
export SIMKEEP_SOAK_SECS
exec cargo test --locked --test soak -- --nocapture
