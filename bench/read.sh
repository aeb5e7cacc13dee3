#!/usr/bin/env bash
# Peak memory of reading the sales CSV alone (extract + every rule, no warehouse) at several sizes,
# from the same bundle settings as the etl command. Usage: bash bench/read.sh [N ...] (default 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-100000 1000000}")
[ $# -eq 0 ] && sizes=(100000 1000000)
npx esbuild bench/read-sales.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/read-sales.mjs \
  --external:better-sqlite3 --external:pg --external:tedious --external:nodemailer --log-level=warning \
  --banner:js="import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);"
echo "| transactions | seconds | peak RSS MB | read | loaded | rejected | filtered |"
echo "|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  dir=bench/data/$n
  [ -f "$dir/sales_transactions.csv" ] || node bin/etl.js generate --transactions "$n" --out "$dir" --seed 42 > /dev/null
  tmp=$(mktemp)
  out=$(/usr/bin/time -f "%M" -o "$tmp" node --max-old-space-size=128 --v8-pool-size=1 --no-allocation-site-pretenuring dist/read-sales.mjs "$dir/sales_transactions.csv")
  rss=$(( $(tail -1 "$tmp") / 1024 )); rm -f "$tmp"
  echo "$out" | node -e "const o = JSON.parse(require('fs').readFileSync(0, 'utf8')); console.log('| $n | ' + o.seconds.toFixed(2) + ' | $rss | ' + [o.read, o.loaded, o.rejected, o.filtered].join(' | ') + ' |')"
done
