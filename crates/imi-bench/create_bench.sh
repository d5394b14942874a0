#!/usr/bin/env bash
# Creation and removal beside git's own floor (issue: imi add / imi remove speed),
# interleaved in one run so both sides share the machine's noise. Each round:
#   floor:  git worktree add -b <branch> <dir>        then  git worktree remove <dir> && git branch -d <branch>
#   imi:    imi feat <name> --no-fetch                then  imi rm feat-<name>
# in the same project (a clone of a local bare origin, SQLite registry in a
# throw-away HOME, no hooks). Prints p50 / p90 of each and imi's p50 ratio to the floor.
# The floor grows with the files git checks out; imi's own cost does not, so the
# ratio depends on the repository: FILES (default 200) sets how many it has.
# Usage: [FILES=N] crates/imi-bench/create_bench.sh [IMI_BIN] [ROUNDS]
set -euo pipefail
imi=$(realpath "${1:-target/release/imi}"); n=${2:-30}; files=${FILES:-200}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
export HOME=$work/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 IMI_AGENT_ID=bench \
  GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
mkdir -p "$HOME"
git init -q --bare -b main "$work/origin.git"
git clone -q "$work/origin.git" "$work/seed" 2>/dev/null
(cd "$work/seed" && for i in $(seq 1 "$files"); do echo "$i" > "f$i"; done && git add . \
  && git commit -qm init && git push -q origin main)
"$imi" init "$work/origin.git" >/dev/null
trunk=$("$imi" -p origin path)
container=$(dirname "$trunk")

us() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
# both git commands, timed together (no shell started between them)
rm_floor() {
  local s e; s=$(date +%s%N)
  git worktree remove "$container/floor-w$1"; git branch -q -d "floor/w$1" >/dev/null
  e=$(date +%s%N); echo $(( (e - s) / 1000 ))
}
for f in gadd grm iadd irm; do : > "$work/$f"; done
cd "$trunk"
for i in $(seq 1 "$n"); do
  us git worktree add -q -b "floor/w$i" "$container/floor-w$i" >> "$work/gadd"
  us "$imi" feat "w$i" --no-fetch >> "$work/iadd"
  rm_floor "$i" >> "$work/grm"
  us "$imi" rm "feat-w$i" >> "$work/irm"
done
pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {i=int(NR*p+0.999); if (i<1) i=1; print v[i]}'; }
row() { printf '%-44s %8.2f %8.2f' "$1" "$(awk -v v="$(pct "$2" 0.5)" 'BEGIN{print v/1000}')" \
  "$(awk -v v="$(pct "$2" 0.9)" 'BEGIN{print v/1000}')"; }
echo "$n rounds each, interleaved, in a repository of $files files; ms"
printf '%-44s %8s %8s %s\n' "command" "p50" "p90" "p50 vs floor"
row "git worktree add -b (floor)" "$work/gadd"; echo "    1.00x"
row "imi feat NAME --no-fetch" "$work/iadd"
awk -v a="$(pct "$work/iadd" 0.5)" -v b="$(pct "$work/gadd" 0.5)" 'BEGIN {printf "    %.2fx\n", a/b}'
row "git worktree remove + git branch -d (floor)" "$work/grm"; echo "    1.00x"
row "imi rm NAME" "$work/irm"
awk -v a="$(pct "$work/irm" 0.5)" -v b="$(pct "$work/grm" 0.5)" 'BEGIN {printf "    %.2fx\n", a/b}'
echo "target: at most 1.5x each"
