#!/usr/bin/env bash
# `imi serve` under load, on each backend: wrk with 64 connections (2 threads) for
# 30 s against (a) GET /health, (b) GET /api/v1/projects/app/worktrees (a project
# with 100 worktrees besides its trunk), (c) claim/release cycles on 64 of them
# (serve_load.lua: 409 CONFLICT expected when two agents want one worktree).
# Prints requests/s, p50/p99, statuses per class (wrk's count for (a)/(b), the
# Lua script's for (c), and the server's request log for all three) and the
# server's RSS at ~10 s and ~30 s into each run and its peak (VmHWM, reset before
# each run). Usage (from anywhere in the workspace):
#   bash crates/imi-bench/serve_load.sh [sqlite] [postgres]     # default: both
# Environment: DURATION (30s), CONNECTIONS (64), THREADS (2), IMI_BIN (a binary to
# measure instead of building target/release/imi), PGHOST_URL
# (postgres://postgres@127.0.0.1:5432, trust auth; a database imi_bench_PID is
# created and dropped). Installs wrk with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
duration=${DURATION:-30s}
conns=${CONNECTIONS:-64}
threads=${THREADS:-2}
pg=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(sqlite postgres)

if ! command -v wrk >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

if [ -n "${IMI_BIN:-}" ]; then
  bin=$(realpath "$IMI_BIN") # another build, e.g. to compare before and after a change
else
  cargo build --release -p imi
  bin=${CARGO_TARGET_DIR:-$root/target}/release/imi
fi
lua=$root/crates/imi-bench/serve_load.lua

work=$(mktemp -d)
server=""
db=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  [ -z "$server" ] || wait "$server" 2>/dev/null || true
  [ -z "$db" ] || dropdb --if-exists -h 127.0.0.1 -U postgres "$db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 IMI_AGENT_ID=bench \
  GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b
unset IMI_DATABASE_URL IMI_ROOT IMI_HOST XDG_CONFIG_HOME XDG_STATE_HOME XDG_DATA_HOME

# A project "app" cloned from a local bare origin, with feat-w1..feat-w100 made by
# git and registered by `imi sync --register`.
seed() { # DIR
  local d=$1 trunk i
  git init -q --bare -b main "$d/app.git"
  git clone -q "$d/app.git" "$d/seed" 2>/dev/null
  (cd "$d/seed" && echo x > f && git add f && git commit -qm init && git push -q origin main)
  "$bin" init "$d/app.git" >/dev/null
  trunk=$("$bin" -p app path)
  for i in $(seq 1 100); do
    git -C "$trunk" worktree add -q -b "feat/w$i" "../feat-w$i" 2>/dev/null
  done
  (cd "$trunk" && "$bin" sync --register >/dev/null)
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
mb() { awk -v v="$1" 'BEGIN {printf "%.1f", v / 1024}'; }

# Samples the server's RSS every half second into FILE ("SECONDS KB") while wrk runs.
sample_rss() { # PID FILE
  local start
  start=$(date +%s%N)
  while kill -0 "$1" 2>/dev/null; do
    sleep 0.5
    echo "$(( ($(date +%s%N) - start) / 1000000 )) $(kb "$1" VmRSS)" |
      awk '{printf "%.1f %s\n", $1 / 1000, $2}' >> "$2"
  done
}

rows=()
run() { # BACKEND LABEL PATH [wrk args...]
  local backend=$1 label=$2 path=$3
  shift 3
  local out=$work/wrk.out rss=$work/rss sampler
  : > "$work/serve.log"
  : > "$rss"
  echo 5 > "/proc/$server/clear_refs" # VmHWM starts again from the RSS of now
  local before
  before=$(kb "$server" VmRSS)
  sample_rss "$server" "$rss" &
  sampler=$!
  wrk -c"$conns" -t"$threads" -d"$duration" --latency "$@" "http://127.0.0.1:$port$path" > "$out"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sed 's/^/    /' "$out"
  local rps p50 p99 r10 r30 peak statuses log
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  # the samples nearest 10 s and the last one (the end of the run: 30 s)
  r10=$(awk '{d = $1 - 10; d = d < 0 ? -d : d} NR == 1 || d < best {best = d; v = $2} END {print v}' "$rss")
  r30=$(tail -n1 "$rss" | awk '{print $2}')
  peak=$(kb "$server" VmHWM)
  if grep -q '^STATUS' "$out"; then
    statuses=$(sed -n 's/^STATUS //p' "$out")
  else
    local bad
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    statuses="non-2xx=${bad:-0}"
  fi
  local sock
  sock=$(awk '/Socket errors:/ {sub(/^ *Socket errors: */, ""); print}' "$out")
  [ -z "$sock" ] || statuses="$statuses; socket errors: $sock"
  # the server's own count, from its request log (one JSON line per request)
  log=$(grep -o '"status":[0-9]*' "$work/serve.log" | awk -F: '
    {c = substr($2, 1, 1) "xx"; if ($2 == 409) c = "409"; n[c]++}
    END {s = ""; for (k in n) s = s " " k "=" n[k]; print s}')
  rows+=("$(printf '%-8s | %-24s | %8s | %8s | %8s | %6s | %6s | %6s | %6s | %s | server log:%s' \
    "$backend" "$label" "$rps" "$p50" "$p99" "$(mb "$before")" "$(mb "$r10")" "$(mb "$r30")" "$(mb "$peak")" "$statuses" "$log")")
}

for backend in "${backends[@]}"; do
  home=$work/$backend/home
  mkdir -p "$home"
  export HOME=$home
  case $backend in
    sqlite) unset IMI_DATABASE_URL ;;
    postgres)
      db=imi_bench_$$
      createdb -h 127.0.0.1 -U postgres "$db"
      export IMI_DATABASE_URL=$pg/$db
      ;;
    *) echo "unknown backend $backend (sqlite or postgres)" >&2; exit 2 ;;
  esac
  echo "== $backend: seeding a project with 100 worktrees"
  seed "$work/$backend"
  port=$(free_port)
  "$bin" serve --listen "127.0.0.1:$port" >> "$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.1
  done
  listed=$(curl -fs "http://127.0.0.1:$port/api/v1/projects/app/worktrees" |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["data"]["worktrees"]))')
  echo "== $backend: imi serve pid $server on port $port, $listed worktrees listed; load: $(uptime | sed 's/.*load/load/')"
  echo "-- (a) GET /health"
  run "$backend" "(a) /health" /health
  echo "-- (b) GET /api/v1/projects/app/worktrees"
  run "$backend" "(b) list 100+1 worktrees" /api/v1/projects/app/worktrees
  echo "-- (c) claim/release on 64 worktrees"
  run "$backend" "(c) claim/release" /api/v1/projects/app/worktrees/feat-w1/claim -s "$lua"
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
  if [ "$backend" = postgres ]; then
    dropdb -h 127.0.0.1 -U postgres "$db"
    db=""
    unset IMI_DATABASE_URL
  fi
done

echo
echo "imi serve under load: wrk -c$conns -t$threads -d$duration --latency; RSS in MB ($(nproc) cores; load: $(uptime | sed 's/.*load average: //'))"
printf '%-8s | %-24s | %8s | %8s | %8s | %6s | %6s | %6s | %6s | %s\n' backend scenario "req/s" p50 p99 \
  "RSS@0s" "@10s" "@30s" "peak" "statuses (wrk; Lua for (c)) | server log"
for r in "${rows[@]}"; do echo "$r"; done
