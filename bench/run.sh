#!/usr/bin/env bash
# Loads generated sales sets into fresh SQLite files four ways, in one invocation, and prints a
# table: the sqlite3 CLI's raw .import, a minimal hand-written Node loader (bench/hand-loader.mjs),
# `etl run --full-refresh` (all three sources, every rule, upserts, rejects, validation; its
# default SPLIT_READ=auto splits a sales file of 64 MiB or more between two threads), and the same
# with SPLIT_READ=off (one thread whatever the size).
# Usage: bash bench/run.sh [N ...]   (default: 100000 1000000; add 10000000 for the large set)
# REPEAT=K runs the four K times in turn at each size (import, hand, etl, one, import, ...)
# and reports each one's median wall time and highest peak: this machine's speed drifts by a
# third within an hour, so one pair can mislead. The last column is etl's time over the hand
# loader's, from the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
sizes=("${@:-100000 1000000}")
[ $# -eq 0 ] && sizes=(100000 1000000)
repeat=${REPEAT:-1}
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "REPEAT: expected a whole number ≥ 1, got '$repeat'" >&2; exit 2; }
out=bench/results
mkdir -p "$out" bench/data
report="$out/latest.md"
{
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(node --version), SQLite $(sqlite3 --version | cut -d' ' -f1), $(date -u +%F), $repeat run(s) of each"
  echo
  echo "| transactions | loader | wall s | rows/s | peak RSS MB | × hand |"
  echo "|---|---|---|---|---|---|"
} > "$report"

declare -A walls peaks
declare -A labels=([import]="sqlite3 .import (raw)" [hand]="hand-written Node loader" [etl]="etl run --full-refresh"
  [one]="etl run --full-refresh, SPLIT_READ=off")
measure() { # key command... : appends the wall seconds and peak KB of one run
  local key=$1; shift
  local tmp; tmp=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$tmp" "$@" > /dev/null 2>&1 || echo "  ($key exited non-zero)" >&2
  local t; t=$(tail -1 "$tmp"); rm -f "$tmp"
  walls[$key]+="${t% *} "
  peaks[$key]+="${t#* } "
}

for n in "${sizes[@]}"; do
  dir=bench/data/$n
  [ -f "$dir/sales_transactions.csv" ] || node bin/etl.js generate --transactions "$n" --out "$dir" --seed 42 > /dev/null
  for ((i = 1; i <= repeat; i++)); do
    rm -f "$dir"/*.db*
    measure import sqlite3 "$dir/import.db" ".import --csv --skip 1 $dir/sales_transactions.csv sales"
    measure hand node bench/hand-loader.mjs "$dir/sales_transactions.csv" "$dir/hand.db"
    measure etl env INPUT_DIR="$dir" DATABASE_URL="sqlite:$dir/etl.db" OUTPUT_DIR="$dir/out" \
      LOG_DIR="$dir/logs" ALERTS_DIR="$dir/alerts" bin/etl.js run --full-refresh
    measure one env SPLIT_READ=off INPUT_DIR="$dir" DATABASE_URL="sqlite:$dir/one.db" OUTPUT_DIR="$dir/out" \
      LOG_DIR="$dir/logs" ALERTS_DIR="$dir/alerts" bin/etl.js run --full-refresh
  done
  hand=$(echo "${walls[hand]}" | median)
  for key in import hand etl one; do
    wall=$(echo "${walls[$key]}" | median)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$n" "${labels[$key]}" "$wall" "$(awk -v r="$n" -v w="$wall" 'BEGIN{printf "%d", r/w}')" \
      "$(( $(echo "${peaks[$key]}" | highest) / 1024 ))" "$(awk -v w="$wall" -v h="$hand" 'BEGIN{printf "%.2f", w/h}')" >> "$report"
  done
  walls=() peaks=()
done
cat "$report"
