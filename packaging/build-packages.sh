#!/usr/bin/env bash
# packaging/build-packages.sh — wrap a cross-built simkeep into .ipk and .apk packages, no SDK needed.
#
#   packaging/build-packages.sh TARGET [--bin PATH] [--out DIR] [--version X.Y.Z] [--release N]
#                               [--arch LABEL] [--url URL] [--list-arches]
#
# TARGET is a Rust triple or short name (as for cross/build.sh). One binary runs on every CPU an
# OpenWrt package arch label below stands for, so it is packaged once per label (opkg and apk
# install a package only when its arch is one of the router's own labels):
#   aarch64-unknown-linux-musl      ARMv8-A, FP + AdvSIMD (every Cortex-A5x/A7x core has both)
#     -> aarch64_generic (rockchip/armv8, armsr/armv8), aarch64_cortex-a53 (filogic, mt7622,
#        qualcommax, mvebu/cortexa53, bcm2710), aarch64_cortex-a72 (bcm2711, mvebu/cortexa72),
#        aarch64_cortex-a76 (bcm2712)
#   armv7-unknown-linux-musleabihf  ARMv7-A, Thumb-2, hard-float VFPv3-D16, no NEON needed
#     -> arm_cortex-a7_neon-vfpv4 (ipq40xx, mt7623, bcm2709), arm_cortex-a9_vfpv3-d16
#        (mvebu/cortexa9), arm_cortex-a15_neon-vfpv4 (ipq806x)
#     Not arm_cortex-a7 (mediatek/mt7629): that label has no FPU subtype, OpenWrt builds it
#     soft-float and its kernel has CONFIG_VFP off, so a VFP instruction is SIGILL there.
#   x86_64-unknown-linux-musl       x86-64 baseline (SSE2)       -> x86_64
#   mipsel-unknown-linux-musl       MIPS32r2 LE, soft-float      -> mipsel_24kc (ramips)
#   mips-unknown-linux-musl         MIPS32r2 BE, soft-float      -> mips_24kc (ath79)
# --arch LABEL packages under that one label only; --list-arches prints the labels and exits.
# --bin defaults to dist/<target>/simkeep (from cross/build.sh); --out to dist/<target>;
# --version to Cargo.toml's (and then packaging/openwrt/Makefile's PKG_VERSION must agree);
# --release to 1; --url to Cargo.toml's `repository` or `homepage` (none: no URL field).
# SOURCE_DATE_EPOCH (default: the last commit's time) stamps every file, so the same inputs
# give the same packages.
# Prints every package path and its size; fails if any exceeds 2 MiB (the budget).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "packaging/build-packages.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: packaging/build-packages.sh TARGET [--bin PATH] [--out DIR] [--version X.Y.Z] [--release N] [--arch LABEL] [--url URL] [--list-arches]"
case "$1" in
  aarch64|aarch64-unknown-linux-musl) target=aarch64-unknown-linux-musl
    arches="aarch64_generic aarch64_cortex-a53 aarch64_cortex-a72 aarch64_cortex-a76" ;;
  armv7|armv7-unknown-linux-musleabihf) target=armv7-unknown-linux-musleabihf
    arches="arm_cortex-a7_neon-vfpv4 arm_cortex-a9_vfpv3-d16 arm_cortex-a15_neon-vfpv4" ;;
  x86_64|x86_64-unknown-linux-musl) target=x86_64-unknown-linux-musl arches="x86_64" ;;
  mipsel|mipsel-unknown-linux-musl) target=mipsel-unknown-linux-musl arches="mipsel_24kc" ;;
  mips|mips-unknown-linux-musl) target=mips-unknown-linux-musl arches="mips_24kc" ;;
  *) die "unknown target '$1': use aarch64, armv7, x86_64, mipsel or mips (or their musl triples)" ;;
esac
shift

bin="" out="" version="" release=1 only="" url="" url_set=0
while [ $# -gt 0 ]; do
  case "$1" in
    --list-arches) printf '%s\n' $arches; exit 0 ;;
    --arch) [ $# -ge 2 ] || die "--arch needs a label"; only="$2"; shift 2 ;;
    --url) [ $# -ge 2 ] || die "--url needs a URL"; url="$2"; url_set=1; shift 2 ;;
    --bin) [ $# -ge 2 ] || die "--bin needs a path"; bin="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out="$2"; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs x.y.z"; version="$2"; shift 2 ;;
    --release) [ $# -ge 2 ] || die "--release needs a number"; release="$2"; shift 2 ;;
    *) die "unknown option '$1'" ;;
  esac
done
bin="${bin:-$repo/dist/$target/simkeep}"
out="${out:-$repo/dist/$target}"
if [ -n "$only" ]; then
  case " $arches " in
    *" $only "*) arches="$only" ;;
    *) die "arch '$only' is not one a $target binary runs on; use one of: $arches" ;;
  esac
fi
[ -f "$bin" ] || die "no binary at $bin: run cross/build.sh $target first, or pass --bin"
# The first `key = "..."` in Cargo.toml is [package]'s (it opens the file).
cargo_field() { sed -n "s/^$1[[:space:]]*=[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$repo/Cargo.toml" | head -n1; }
if [ -z "$version" ]; then
  version="$(cargo_field version)"
  [ -n "$version" ] || die "could not read the version from $repo/Cargo.toml; pass --version"
  # One version: the SDK Makefile must say the same, or the two ways to build disagree.
  mk_version="$(sed -n 's/^PKG_VERSION:=\(.*\)$/\1/p' "$here/openwrt/Makefile")"
  [ "$mk_version" = "$version" ] ||
    die "packaging/openwrt/Makefile has PKG_VERSION:=$mk_version but Cargo.toml has $version: make them the same"
fi
if [ "$url_set" = 0 ]; then
  url="$(cargo_field repository)"
  [ -n "$url" ] || url="$(cargo_field homepage)"
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH="$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)"
fi
export SOURCE_DATE_EPOCH

arch_args=()
for a in $arches; do arch_args+=(--arch "$a"); done
mapfile -t made < <(python3 "$here/mkpkg.py" --bin "$bin" "${arch_args[@]}" --version "$version" \
  --release "$release" --url "$url" --out "$out")
want=${#arch_args[@]}  # --arch X pairs: one .ipk and one .apk per label
[ "${#made[@]}" -eq "$want" ] || die "mkpkg.py made ${#made[@]} packages, expected $want"

budget=$((2 * 1024 * 1024))
over=0
for p in "${made[@]}"; do
  size=$(stat -c %s "$p")
  awk -v p="$p" -v s="$size" 'BEGIN { printf "%s  %d bytes = %.2f MiB\n", p, s, s/1048576 }'
  [ "$size" -le "$budget" ] || { echo "  over the 2 MiB package budget" >&2; over=1; }
done
exit "$over"
