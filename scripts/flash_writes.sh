#!/bin/sh
# Measures how many bytes the store writes per day at default settings (30 s poll, 15 min flush),
# reading write_bytes/wchar from /proc/self/io around three simulated days. See tests/store_flash.rs.
# Usage: scripts/flash_writes.sh [dir on the disk to measure, default /var/tmp — not a tmpfs]
set -eu
cd "$(dirname "$0")/.."
if [ $# -ge 1 ]; then SIMKEEP_FLASH_DIR="$1"; export SIMKEEP_FLASH_DIR; fi
exec cargo test --release --test store_flash -- --ignored --nocapture
