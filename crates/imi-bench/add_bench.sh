#!/usr/bin/env bash
# `imi add` p50 of two binaries, interleaved, in one throw-away HOME (SQLite
# registry, a local bare origin, no hooks configured): usage
#   crates/imi-bench/add_bench.sh BEFORE_BIN AFTER_BIN [N]
set -euo pipefail
before=$1; after=$2; n=${3:-30}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export HOME=$work/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 IMI_AGENT_ID=bench \
  GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
mkdir -p "$HOME"
git init -q --bare -b main "$work/origin.git"
git clone -q "$work/origin.git" "$work/seed" 2>/dev/null
(cd "$work/seed" && echo x > f && git add f && git commit -qm init && git push -q origin main)
"$after" init "$work/origin.git" >/dev/null
trunk=$("$after" -p origin path)
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
: > "$work/a"; : > "$work/b"
for i in $(seq 1 "$n"); do
  (cd "$trunk" && ms "$before" feat "before$i" --no-fetch) >> "$work/a"
  (cd "$trunk" && ms "$after" feat "after$i" --no-fetch) >> "$work/b"
done
p50() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
a=$(p50 "$work/a"); b=$(p50 "$work/b")
echo "imi add p50 (n=$n, interleaved): before ${a} us, after ${b} us, after/before $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", b/a}')"
