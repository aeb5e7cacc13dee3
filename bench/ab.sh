#!/usr/bin/env bash
# Compares two builds (or two settings) of `etl run --full-refresh` side by side: A and B run at the
# same time on the same generated set, K times, each into its own fresh SQLite file. This machine's
# speed drifts by up to 2x within an hour, which one run after the other cannot tell from a change;
# run together, both see the same drift. Each gets about one core, so the times are not those of
# bench/run.sh: only the difference means something.
# Usage: bash bench/ab.sh A [B] [N]
#   A, B: git revisions; B defaults to the working tree ("."); N to 1000000 transactions.
#   K=3 pairs; ENV_A / ENV_B: settings for one side, e.g. ENV_A="BATCH_SIZE=2000" bash bench/ab.sh . .
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
[ $# -ge 1 ] || { echo "usage: bash bench/ab.sh A [B] [N]" >&2; exit 2; }
a=$1 b=${2:-.} n=${3:-1000000} k=${K:-3}
[[ "$k" =~ ^[1-9][0-9]*$ ]] || { echo "K: expected a whole number ≥ 1, got '$k'" >&2; exit 2; }
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "N: expected a whole number ≥ 1, got '$n'" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'for w in "$tmp"/tree-*; do [ -d "$w" ] && git worktree remove --force "$w"; done; rm -rf "$tmp"' EXIT

tree() { # revision side: prints the directory of that build, made in a worktree of its own
  if [ "$1" = "." ]; then pwd; return; fi
  local w="$tmp/tree-$2"
  git worktree add --detach "$w" "$1" > /dev/null 2>&1 || { echo "$2: '$1' is not a revision here" >&2; exit 2; }
  ln -s "$PWD/node_modules" "$w/node_modules"
  node "$w/bin/build.js" > /dev/null
  echo "$w"
}
root_a=$(tree "$a" a)
root_b=$(tree "$b" b)
data=bench/data/$n
[ -f "$data/sales_transactions.csv" ] || node bin/etl.js generate --transactions "$n" --out "$data" --seed 42 > /dev/null

run() { # side root settings: one run, its "wall user peakKB" appended to $tmp/side
  local o="$tmp/out-$1"
  rm -rf "$o" && mkdir -p "$o"
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %U %M" -o "$o/time" env $3 INPUT_DIR="$data" DATABASE_URL="sqlite:$o/etl.db" OUTPUT_DIR="$o/out" \
    LOG_DIR="$o/logs" ALERTS_DIR="$o/alerts" "$2/bin/etl.js" run --full-refresh > "$o/stdout" 2>&1 || echo "  ($1 exited non-zero: $o/stdout)" >&2
  tail -1 "$o/time" >> "$tmp/$1"
}
for ((i = 1; i <= k; i++)); do
  run a "$root_a" "${ENV_A:-}" & run b "$root_b" "${ENV_B:-}" & wait
  echo "pair $i: A $(tail -1 "$tmp/a" | awk '{printf "%.2f s", $1}'), B $(tail -1 "$tmp/b" | awk '{printf "%.2f s", $1}')"
done
for side in a b; do
  label=$([ $side = a ] && echo "A ($a${ENV_A:+, $ENV_A})" || echo "B ($b${ENV_B:+, $ENV_B})")
  echo "$label: median wall $(cut -d' ' -f1 "$tmp/$side" | median) s, CPU $(cut -d' ' -f2 "$tmp/$side" | median) s, highest peak $(( $(cut -d' ' -f3 "$tmp/$side" | highest) / 1024 )) MB"
done
wins=$(paste -d' ' "$tmp/a" "$tmp/b" | awk '$4 < $1' | wc -l)
echo "B was faster in $wins of $k pairs"
