#!/usr/bin/env bash
# packaging/build-packages.sh — wrap a cross-built simkeep into an .ipk and an .apk, no SDK needed.
#
#   packaging/build-packages.sh TARGET [--bin PATH] [--out DIR] [--version X.Y.Z] [--release N]
#
# TARGET is a Rust triple or short name (as for cross/build.sh); it picks the OpenWrt package
# architecture:
#   aarch64-unknown-linux-musl       -> aarch64_cortex-a53        (most arm64 routers)
#   armv7-unknown-linux-musleabihf   -> arm_cortex-a7_neon-vfpv4  (ipq40xx, mt7629, ...)
#   x86_64-unknown-linux-musl        -> x86_64
#   mipsel-unknown-linux-musl        -> mipsel_24kc               (ramips mt7621/mt76x8)
#   mips-unknown-linux-musl          -> mips_24kc                 (ath79)
# --bin defaults to dist/<target>/simkeep (from cross/build.sh); --out to dist/<target>;
# --version to Cargo.toml's; --release to 1. SOURCE_DATE_EPOCH (default: the last commit's
# time) stamps every file, so the same inputs give the same packages.
# Prints the two package paths and their sizes; fails if either exceeds 2 MiB (the budget).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "packaging/build-packages.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: packaging/build-packages.sh TARGET [--bin PATH] [--out DIR] [--version X.Y.Z] [--release N]"
case "$1" in
  aarch64|aarch64-unknown-linux-musl) target=aarch64-unknown-linux-musl arch=aarch64_cortex-a53 ;;
  armv7|armv7-unknown-linux-musleabihf) target=armv7-unknown-linux-musleabihf arch=arm_cortex-a7_neon-vfpv4 ;;
  x86_64|x86_64-unknown-linux-musl) target=x86_64-unknown-linux-musl arch=x86_64 ;;
  mipsel|mipsel-unknown-linux-musl) target=mipsel-unknown-linux-musl arch=mipsel_24kc ;;
  mips|mips-unknown-linux-musl) target=mips-unknown-linux-musl arch=mips_24kc ;;
  *) die "unknown target '$1': use aarch64, armv7, x86_64, mipsel or mips (or their musl triples)" ;;
esac
shift

bin="" out="" version="" release=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) [ $# -ge 2 ] || die "--bin needs a path"; bin="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out="$2"; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs x.y.z"; version="$2"; shift 2 ;;
    --release) [ $# -ge 2 ] || die "--release needs a number"; release="$2"; shift 2 ;;
    *) die "unknown option '$1'" ;;
  esac
done
bin="${bin:-$repo/dist/$target/simkeep}"
out="${out:-$repo/dist/$target}"
[ -f "$bin" ] || die "no binary at $bin: run cross/build.sh $target first, or pass --bin"
if [ -z "$version" ]; then
  # The first `version = "..."` in Cargo.toml is [package]'s.
  version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$repo/Cargo.toml" | head -n1)"
  [ -n "$version" ] || die "could not read the version from $repo/Cargo.toml; pass --version"
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)"
fi
export SOURCE_DATE_EPOCH

mapfile -t made < <(python3 "$here/mkpkg.py" --bin "$bin" --arch "$arch" --version "$version" \
  --release "$release" --out "$out")
[ "${#made[@]}" -eq 2 ] || die "mkpkg.py made ${#made[@]} packages, expected 2"

budget=$((2 * 1024 * 1024))
over=0
for p in "${made[@]}"; do
  size=$(stat -c %s "$p")
  awk -v p="$p" -v s="$size" 'BEGIN { printf "%s  %d bytes = %.2f MiB\n", p, s, s/1048576 }'
  [ "$size" -le "$budget" ] || { echo "  over the 2 MiB package budget" >&2; over=1; }
done
exit "$over"
