#!/usr/bin/env bash
# `imi add` p50 of two binaries, interleaved: each binary gets its own throw-away
# HOME with a local bare origin, its project and its SQLite registry (so an older
# binary is not refused a newer schema); no hooks are configured. Usage:
#   crates/imi-bench/add_bench.sh BEFORE_BIN AFTER_BIN [N]
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); n=${3:-30}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 IMI_AGENT_ID=bench \
  GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
setup() { # DIR BIN -> prints the trunk
  local d=$1 bin=$2
  mkdir -p "$d/home"
  git init -q --bare -b main "$d/origin.git"
  git clone -q "$d/origin.git" "$d/seed" 2>/dev/null
  (cd "$d/seed" && echo x > f && git add f && git commit -qm init && git push -q origin main)
  HOME=$d/home "$bin" init "$d/origin.git" >/dev/null
  HOME=$d/home "$bin" -p origin path
}
ta=$(setup "$work/a" "$before"); tb=$(setup "$work/b" "$after")
us() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
: > "$work/ta"; : > "$work/tb"
for i in $(seq 1 "$n"); do
  (cd "$ta" && HOME=$work/a/home us "$before" feat "w$i" --no-fetch) >> "$work/ta"
  (cd "$tb" && HOME=$work/b/home us "$after" feat "w$i" --no-fetch) >> "$work/tb"
done
p50() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(p50 "$work/ta"); b=$(p50 "$work/tb")
echo "imi add p50 (n=$n, interleaved): before ${a} us, after ${b} us, after/before $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b/a}')"
