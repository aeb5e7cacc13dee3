#!/usr/bin/env bash
# Loads generated sales sets into fresh SQLite files three ways, in one invocation, and prints a
# table: the sqlite3 CLI's raw .import, a minimal hand-written Node loader (bench/hand-loader.mjs),
# and `etl run --full-refresh` (all three sources, every rule, upserts, rejects, validation).
# Usage: bash bench/run.sh [N ...]   (default: 100000 1000000; add 10000000 for the large set)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-100000 1000000}")
[ $# -eq 0 ] && sizes=(100000 1000000)
out=bench/results
mkdir -p "$out" bench/data
report="$out/latest.md"
{
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(node --version), SQLite $(sqlite3 --version | cut -d' ' -f1), $(date -u +%F)"
  echo
  echo "| transactions | loader | wall s | rows/s | peak RSS MB |"
  echo "|---|---|---|---|---|"
} > "$report"

measure() { # label rows command...
  local label=$1 rows=$2; shift 2
  local tmp; tmp=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$tmp" "$@" > /dev/null 2>&1 || echo "  ($label exited non-zero)" >&2
  local t; t=$(tail -1 "$tmp"); rm -f "$tmp"
  local wall=${t% *} rss=${t#* }
  printf '| %s | %s | %s | %s | %s |\n' "$rows" "$label" "$wall" "$(awk -v r="$rows" -v w="$wall" 'BEGIN{printf "%d", r/w}')" "$((rss / 1024))" >> "$report"
}

for n in "${sizes[@]}"; do
  dir=bench/data/$n
  [ -f "$dir/sales_transactions.csv" ] || node bin/etl.js generate --transactions "$n" --out "$dir" --seed 42 > /dev/null
  rm -f "$dir"/*.db*
  measure "sqlite3 .import (raw)" "$n" sqlite3 "$dir/import.db" ".import --csv --skip 1 $dir/sales_transactions.csv sales"
  measure "hand-written Node loader" "$n" node bench/hand-loader.mjs "$dir/sales_transactions.csv" "$dir/hand.db"
  measure "etl run --full-refresh" "$n" env INPUT_DIR="$dir" DATABASE_URL="sqlite:$dir/etl.db" OUTPUT_DIR="$dir/out" \
    LOG_DIR="$dir/logs" ALERTS_DIR="$dir/alerts" node --max-old-space-size=128 --max-semi-space-size=16 --v8-pool-size=1 bin/etl.js run --full-refresh
done
cat "$report"
