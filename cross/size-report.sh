#!/usr/bin/env bash
# cross/size-report.sh — stripped binary size per router target, and what each feature costs.
#
#   cross/size-report.sh [TARGET...] [--features "f1 f2"] [--no-sqlite] [--head] [--manifest-path PATH]
#
# TARGETs default to aarch64 and mipsel (the budget targets: <= 3.5 MiB and <= 4.5 MiB).
# For each target it builds the router build (cross/build.sh's default feature set), then for
# each feature (default: every feature in Cargo.toml's [features] except `default` and
# `router`) one more build: without it if the router build has it, with it otherwise. The
# difference is the feature's cost. It also measures the LIBSQLITE3_FLAGS trim (cross/
# sqlite-flags.txt) by building once without it (skip with --no-sqlite).
# --head measures the last commit (a `git archive HEAD` copy) instead of the working tree, so
# half-written files of work in progress don't break or skew the numbers.
# Slow: every line is a fat-LTO build (2–4 min each on two cores). Prints a table at the end;
# a build that fails shows as FAILED (its log tail goes to stderr) and the report goes on.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
die() { echo "cross/size-report.sh: $*" >&2; exit 2; }

targets=() features_arg="" features_set=0 sqlite=1 head=0 manifest="$repo/Cargo.toml"
while [ $# -gt 0 ]; do
  case "$1" in
    --features) [ $# -ge 2 ] || die "--features needs a list"; features_arg="$2"; features_set=1; shift 2 ;;
    --no-sqlite) sqlite=0; shift ;;
    --head) head=1; shift ;;
    --manifest-path) [ $# -ge 2 ] || die "--manifest-path needs a path"; manifest="$2"; shift 2 ;;
    -*) die "unknown option '$1'" ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=(aarch64 mipsel)

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
if [ "$head" = 1 ]; then
  mkdir -p "$out/src"
  git -C "$repo" archive HEAD | tar -x -C "$out/src" || die "git archive HEAD failed"
  manifest="$out/src/Cargo.toml"
fi

# Feature names and the router set, read with Python's TOML parser (3.11+).
read_features() {
  python3 - "$manifest" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    feats = tomllib.load(f).get("features", {})
router = feats.get("router", [])
print(" ".join(x for x in router if "/" not in x and ":" not in x))
print(" ".join(k for k in feats if k not in ("default", "router")))
EOF
}
{ read -r router_set; read -r all_features; } < <(read_features) || die "cannot read [features] from $manifest"
[ "$features_set" = 1 ] && all_features="$features_arg"

size_of() { stat -c %s "$1/simkeep"; }

# build TARGET LABEL [build.sh args...] -> prints the size in bytes
build() {
  local t="$1" label="$2"; shift 2
  local dir="$out/$t-$label"
  if "$here/build.sh" "$t" --manifest-path "$manifest" --out "$dir" "$@" >"$dir.log" 2>&1; then
    size_of "$dir"
  else
    { echo "--- build failed: $t $label"; grep -E '^error' -A3 "$dir.log" | head -n 20; } >&2
    echo FAILED
  fi
}
# line LABEL SIZE_OR_FAILED [cost]: one table row
row() {
  if [ "$2" = FAILED ]; then printf '%-34s %-28s %10s\n' "$t" "$1" "FAILED"; return; fi
  if [ "${3:-}" = abs ]; then
    printf '%-34s %-28s %10d B  %7.2f MiB\n' "$t" "$1" "$2" "$(awk -v s="$2" 'BEGIN{print s/1048576}')"
  else
    printf '%-34s %-28s %+10d B  %+7.0f KiB\n' "$t" "$1" "$2" "$(awk -v s="$2" 'BEGIN{print s/1024}')"
  fi
}

# The router set as a comma list, minus/plus one feature.
without() { local f="$1" x r=""; for x in $router_set; do [ "$x" = "$f" ] || r="${r:+$r,}$x"; done; echo "$r"; }
with() { local r; r="$(without "$1")"; echo "${r:+$r,}$1"; }

report=()
for t in "${targets[@]}"; do
  echo "==> $t: router build" >&2
  # What cross/build.sh builds by default: the `router` feature if Cargo.toml has one. The
  # with/without builds list router's members instead, as a feature can't be subtracted.
  if grep -Eq '^[[:space:]]*router[[:space:]]*=' "$manifest"; then base_features=router; else base_features=""; fi
  base=$(build "$t" base --features "$base_features")
  report+=("$(row "router build" "$base" abs)")
  [ "$base" = FAILED ] && continue
  for f in $all_features; do
    case " $router_set " in
      *" $f "*) echo "==> $t: without $f" >&2; other=$(build "$t" "no-$f" --features "$(without "$f")"); sign=-1 ;;
      *) echo "==> $t: with $f" >&2; other=$(build "$t" "with-$f" --features "$(with "$f")"); sign=1 ;;
    esac
    if [ "$other" = FAILED ]; then report+=("$(row "feature $f" FAILED)"); continue; fi
    report+=("$(row "feature $f" $(( (other - base) * sign )))")
  done
  if [ "$sqlite" = 1 ]; then
    echo "==> $t: SQLite untrimmed" >&2
    other=$(build "$t" untrimmed --features "$base_features" --no-sqlite-trim)
    if [ "$other" = FAILED ]; then report+=("$(row "saved by sqlite-flags.txt" FAILED)"); continue; fi
    report+=("$(row "saved by sqlite-flags.txt" $((other - base)))")
  fi
done

echo
echo "router feature set: ${router_set:-(none)}; commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo ?)"
printf '%s\n' "${report[@]}"
