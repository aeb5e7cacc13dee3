# Shared by bench/run.sh and bench/ab.sh (sourced). The etl command is run as bin/etl.js itself, so
# its shebang's V8 flags (old space, young generation, helper threads) are the ones measured.

# The median of the numbers on standard input, separated by spaces or lines, to two decimals.
median() { tr -s ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {printf "%.2f\n", (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# The largest of the numbers on standard input, separated by spaces or lines.
highest() { tr -s ' ' '\n' | grep . | sort -g | tail -1; }
