#!/usr/bin/env bash
# Throughput of partitioned runs by runner count, against the local PostgreSQL.
# Generates N transactions over DAYS days, then loads the window into a fresh PostgreSQL warehouse:
# once in a single process (`etl run`), then with 1, 2 and 3 runners (`etl run --partition-by day`).
# SOURCE=csv reads sales_transactions.csv (every partition scans the file for its day's rows);
# SOURCE=db reads them from a PostgreSQL source database (each partition queries its day).
# Usage: [SOURCE=csv|db] [ADMIN_URL=postgres://postgres@127.0.0.1:5432/test] bash bench/cluster.sh [N] [DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
days=${2:-10}
source=${SOURCE:-csv}
admin=${ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
server=${admin%/*}
dir=bench/data/cluster-$n-$days
out=bench/results
mkdir -p "$out" "$dir"
report="$out/cluster-$source.md"
last=$(date -u -d "2024-01-01 + $((days - 1)) days" +%F)
window=(--from 2024-01-01 --to "$last")

fresh() { psql -q "$admin" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" > /dev/null 2>&1; echo "$server/$1"; }
node=(node --max-old-space-size=128 --v8-pool-size=1 --no-allocation-site-pretenuring bin/etl.js)

[ -f "$dir/sales_transactions.csv" ] || "${node[@]}" generate --transactions "$n" --days "$days" --out "$dir" --seed 42 > /dev/null
export INPUT_DIR=$dir OUTPUT_DIR=$dir/out LOG_DIR=$dir/logs ALERTS_DIR=$dir/alerts
if [ "$source" = db ]; then
  export SOURCE_DATABASE_URL
  SOURCE_DATABASE_URL=$(fresh etl_bench_source)
  "${node[@]}" generate --transactions "$n" --days "$days" --out "$dir" --seed 42 --source-db "$SOURCE_DATABASE_URL" > /dev/null
fi

{
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(node --version), PostgreSQL $(psql -tA "$admin" -c 'SHOW server_version'), $(date -u +%F)"
  echo "$n transactions over $days days (window ${window[*]}), sales from $source"
  echo
  echo "| loader | wall s | rows/s |"
  echo "|---|---|---|"
} > "$report"

row() { printf '| %s | %s | %s |\n' "$1" "$2" "$(awk -v r="$n" -v w="$2" 'BEGIN{printf "%d", r/w}')" >> "$report"; }
timed() { local s e; s=$(date +%s.%N); "$@" > "$dir/last.log" 2>&1 || { echo "failed: $*" >&2; tail -5 "$dir/last.log" >&2; }; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN{printf "%.1f", e-s}'; }

export DATABASE_URL
DATABASE_URL=$(fresh etl_bench_single)
row "single process (etl run)" "$(timed "${node[@]}" run "${window[@]}")"

for runners in 1 2 3; do
  DATABASE_URL=$(fresh etl_bench_wh)
  export CLUSTER_DATABASE_URL
  CLUSTER_DATABASE_URL=$(fresh etl_bench_cluster)
  pids=()
  for i in $(seq 1 "$runners"); do
    "${node[@]}" runner --port $((24560 + i)) > "$dir/runner$i.log" 2>&1 &
    pids+=($!)
  done
  sleep 3
  row "$runners runner(s) (etl run --partition-by day)" "$(timed "${node[@]}" run --partition-by day "${window[@]}")"
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
done
cat "$report"
