#!/usr/bin/env bash
# cross/build.sh — build a static, stripped simkeep for one router CPU.
#
#   cross/build.sh TARGET [--features LIST] [--default-features] [--prebuilt-std]
#                         [--std-features LIST] [--no-sqlite-trim] [--manifest-path PATH]
#                         [--out DIR] [--qemu]
#
# TARGET is a Rust triple or a short name:
#   aarch64 = aarch64-unknown-linux-musl        armv7 = armv7-unknown-linux-musleabihf
#   x86_64  = x86_64-unknown-linux-musl         mipsel = mipsel-unknown-linux-musl
#   mips    = mips-unknown-linux-musl
#
# Router builds use `--no-default-features` plus the router feature set: `--features LIST` if given
# (an empty LIST means no features at all), else the crate's `router` feature if Cargo.toml defines
# one, else nothing. `--default-features` builds the crate's defaults instead (the simulator too).
# std is built here for every target (-Zbuild-std) with std's `optimize_for_size` feature:
# smaller algorithms in std, same behaviour; it saved 182 KB on aarch64 and 254 KB on mipsel
# (11%). `--std-features LIST` picks other std features ("" for none); `--prebuilt-std` uses
# rustup's std where one exists (aarch64, x86_64): faster to build, bigger.
#
# Output: dist/<target>/simkeep (dist/ is git-ignored). Cargo's own output goes to
# $CARGO_TARGET_DIR, default <repo>/target-cross, so cross builds don't invalidate the host build.
#
# What it installs when missing (all from the package registries this project uses):
#   pip: ziglang + cargo-zigbuild  (zig is the C compiler and linker for every target: bundled
#        SQLite is C, and Debian's glibc cross gcc fails on musl targets with `open64` link errors)
#   rustup: the target's std, or rust-src when std must be built (armv7: std not served; MIPS: tier 3)
#   apt: qemu-user-static, only with --qemu
# Environment knobs: SIMKEEP_CROSS_TOOLCHAIN (rustup toolchain for -Zbuild-std builds; default
# "stable" with RUSTC_BOOTSTRAP=1), CARGO_TARGET_DIR, LIBSQLITE3_FLAGS_EXTRA (appended to the trim set).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

die() { echo "cross/build.sh: $*" >&2; exit 2; }
log() { echo "==> $*" >&2; }

[ $# -ge 1 ] || die "usage: cross/build.sh TARGET [--features LIST] [--default-features] [--build-std] [--no-sqlite-trim] [--manifest-path PATH] [--out DIR] [--qemu]"

case "$1" in
  aarch64|aarch64-unknown-linux-musl) target=aarch64-unknown-linux-musl ;;
  armv7|armv7-unknown-linux-musleabihf) target=armv7-unknown-linux-musleabihf ;;
  x86_64|x86_64-unknown-linux-musl) target=x86_64-unknown-linux-musl ;;
  mipsel|mipsel-unknown-linux-musl) target=mipsel-unknown-linux-musl ;;
  mips|mips-unknown-linux-musl) target=mips-unknown-linux-musl ;;
  *) die "unknown target '$1': use aarch64, armv7, x86_64, mipsel or mips (or their musl triples)" ;;
esac
shift

features_set=0 features="" default_features=0 prebuilt_std=0 std_features=optimize_for_size sqlite_trim=1 run_qemu=0
manifest="$repo/Cargo.toml" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --features) [ $# -ge 2 ] || die "--features needs a value (\"\" for none)"; features_set=1; features="$2"; shift 2 ;;
    --features=*) features_set=1; features="${1#--features=}"; shift ;;
    --default-features) default_features=1; shift ;;
    --build-std) shift ;;  # the default; kept so older command lines still work
    --prebuilt-std) prebuilt_std=1; shift ;;
    --std-features) [ $# -ge 2 ] || die "--std-features needs a list (\"\" for none)"; std_features="$2"; shift 2 ;;
    --no-sqlite-trim) sqlite_trim=0; shift ;;
    --manifest-path) [ $# -ge 2 ] || die "--manifest-path needs a path"; manifest="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a directory"; out="$2"; shift 2 ;;
    --qemu) run_qemu=1; shift ;;
    *) die "unknown option '$1'" ;;
  esac
done
[ -f "$manifest" ] || die "no Cargo.toml at $manifest"
crate_dir="$(dirname "$manifest")"
out="${out:-$repo/dist/$target}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target-cross}"

# --- feature selection ------------------------------------------------------------------------
feature_args=()
if [ "$default_features" = 1 ]; then
  [ "$features_set" = 1 ] && feature_args+=(--features "$features")
  feature_desc="default${features:+ + $features}"
else
  feature_args+=(--no-default-features)
  if [ "$features_set" = 0 ] && grep -Eq '^[[:space:]]*router[[:space:]]*=' "$manifest"; then
    features="router"
  fi
  [ -n "$features" ] && feature_args+=(--features "$features")
  feature_desc="--no-default-features${features:+ --features $features}"
fi

# --- tools -------------------------------------------------------------------------------------
if ! command -v cargo-zigbuild >/dev/null 2>&1 || ! python3 -c 'import ziglang' >/dev/null 2>&1; then
  log "installing ziglang + cargo-zigbuild with pip"
  python3 -m pip install --quiet ziglang cargo-zigbuild
fi

# Which std: built here by default (see above). With --prebuilt-std, rustup's std for
# aarch64/x86_64 musl; armv7 musleabihf's std gave 404 on this registry and MIPS is tier 3 (no
# std at all), so those always build std from rust-src.
build_std=1
if [ "$prebuilt_std" = 1 ]; then
  std_features=""
  case "$target" in
    mips*) ;;
    armv7*)
      if rustup target list --installed 2>/dev/null | grep -qx "$target" ||
        rustup target add "$target" >/dev/null 2>&1; then build_std=0; fi ;;
    *)
      if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        log "rustup target add $target"
        rustup target add "$target" >&2
      fi
      build_std=0 ;;
  esac
fi

toolchain=""
rustflags="${RUSTFLAGS:-}"
# No unwind tables: the release profile aborts on panic, so nothing unwinds, and .eh_frame plus
# its index were 578 KB of the aarch64 binary (15%). The C parts (SQLite, ring) drop theirs too.
# A panic still prints its message before the abort; only a backtrace is lost, which a stripped
# router binary could not symbolise anyway.
rustflags="$rustflags -C force-unwind-tables=no"
export CFLAGS="${CFLAGS:-} -fno-asynchronous-unwind-tables -fno-unwind-tables"
cargo_z=()
if [ "$build_std" = 1 ]; then
  toolchain="${SIMKEEP_CROSS_TOOLCHAIN:-stable}"
  if ! rustup component list --toolchain "$toolchain" --installed 2>/dev/null | grep -q '^rust-src'; then
    log "rustup component add rust-src --toolchain $toolchain"
    rustup component add rust-src --toolchain "$toolchain" >&2
  fi
  # -Z flags on a stable compiler: RUSTC_BOOTSTRAP=1 is the documented escape hatch.
  [ "$toolchain" = nightly ] || export RUSTC_BOOTSTRAP=1
  cargo_z=(-Zbuild-std=std,panic_abort)
  [ -z "$std_features" ] || cargo_z+=("-Zbuild-std-features=$std_features")
  # zig links its own musl crt; Rust's self-contained crt objects would clash with it.
  rustflags="$rustflags -C link-self-contained=no"
  # Panic messages without file:line:column (a stripped router binary's locations help nobody
  # and their strings cost 96 KB on mipsel). Needs -Z, so only where RUSTC_BOOTSTRAP is set.
  rustflags="$rustflags -Zlocation-detail=none"
fi
case "$target" in
  # The default static-PIE MIPS binary crashed at start under qemu; a plain static one runs.
  mips*) rustflags="$rustflags -C relocation-model=static" ;;
esac
# Our own profile flags must also reach std when it is built here: they do through the profile.
export RUSTFLAGS="${rustflags# }"

# --- bundled SQLite: leave out what a counter store never uses ----------------------------------
# libsqlite3-sys compiles sqlite3.c with FTS3/FTS5/RTREE/DBSTAT/STAT4/COLUMN_METADATA/SOUNDEX and
# load_extension on; LIBSQLITE3_FLAGS comes after its defaults on the cc line, so -U wins.
# Only options SQLite documents as working with the amalgamation (sqlite.org/compile.html,
# "Recommended Compile-time Options"), and none that changes SQL semantics our store relies on.
# THREADSAFE stays 1: rusqlite refuses a library built with THREADSAFE=0.
if [ "$sqlite_trim" = 1 ]; then
  LIBSQLITE3_FLAGS="$(grep -e '^-' "$here/sqlite-flags.txt" | tr '\n' ' ')${LIBSQLITE3_FLAGS_EXTRA:-}"
  export LIBSQLITE3_FLAGS
else
  unset LIBSQLITE3_FLAGS
fi

rustc_version="$(rustc ${toolchain:++$toolchain} --version)"
zig_version="$(python3 -m ziglang version 2>/dev/null || echo '?')"
zb_version="$(cargo-zigbuild --version 2>/dev/null | head -n1 || echo '?')"
log "target $target | $rustc_version | zig $zig_version | $zb_version"
log "std: $([ "$build_std" = 1 ] && echo "built here (-Zbuild-std${std_features:+, features $std_features}, toolchain $toolchain)" || echo prebuilt)"
log "features: $feature_desc | RUSTFLAGS='$RUSTFLAGS' | sqlite trim: $sqlite_trim"

# --- build --------------------------------------------------------------------------------------
start=$(date +%s)
(
  cd "$crate_dir"
  cargo ${toolchain:++$toolchain} zigbuild --release --locked --target "$target" --bin simkeep \
    --manifest-path "$manifest" "${cargo_z[@]}" "${feature_args[@]}"
)
bin="$CARGO_TARGET_DIR/$target/release/simkeep"
[ -f "$bin" ] || die "cargo finished but $bin is missing"

mkdir -p "$out"
# Copy then rename: replacing the file in place fails ("Text file busy") while someone runs it.
cp "$bin" "$out/.simkeep.$$"
chmod 0755 "$out/.simkeep.$$"
mv -f "$out/.simkeep.$$" "$out/simkeep"

# The profile strips; check rather than trust, and refuse a dynamic binary (a router has no
# matching musl loader for us to rely on).
desc="$(file -b "$out/simkeep" 2>/dev/null || echo '?')"
case "$desc" in
  *dynamically\ linked*|*interpreter*) die "$out/simkeep is dynamically linked: $desc" ;;
esac
case "$desc" in
  *not\ stripped*) die "$out/simkeep is not stripped: $desc" ;;
esac

size=$(stat -c %s "$out/simkeep")
echo "toolchain: $rustc_version; zig $zig_version; $zb_version; std $([ "$build_std" = 1 ] && echo built || echo prebuilt)"
echo "binary:    $out/simkeep ($desc)"
awk -v s="$size" -v t="$target" -v f="$feature_desc" -v d="$(( $(date +%s) - start ))" \
  'BEGIN { printf "size:      %s %d bytes = %.2f MiB = %.2f MB  [%s] (%ds)\n", t, s, s/1048576, s/1000000, f, d }'

# --- optional smoke run -------------------------------------------------------------------------
if [ "$run_qemu" = 1 ]; then
  case "$target" in
    aarch64*) q=qemu-aarch64-static ;; armv7*) q=qemu-arm-static ;; x86_64*) q="" ;;
    mipsel*) q=qemu-mipsel-static ;; mips-*) q=qemu-mips-static ;;
  esac
  if [ -n "$q" ] && ! command -v "$q" >/dev/null 2>&1; then
    log "installing qemu-user-static"
    (apt-get install -y qemu-user-static >/dev/null 2>&1 ||
      { apt-get update >/dev/null 2>&1 && apt-get install -y qemu-user-static >/dev/null; }) ||
      die "could not install qemu-user-static"
  fi
  log "running: ${q:+$q }$out/simkeep --version"
  set +e
  ${q:+$q} "$out/simkeep" --version
  rc=$?
  set -e
  # A crash (SIGSEGV/SIGILL) shows as rc >= 128; anything else means the binary started.
  if [ "$rc" -ge 128 ]; then die "binary crashed under ${q:-native}: exit $rc"; fi
  echo "qemu:      started and exited $rc"
fi
