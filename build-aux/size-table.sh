#!/bin/bash
# The size table of the sources (issue 9): per file its lines, functions,
# and the median and longest function body in lines, then totals and the
# ten longest functions. A function is what the house style writes: its
# name at the start of a line, its body from a "{" to a "}" alone in
# column 0. Generated code is left out. Usage: build-aux/size-table.sh [DIR]
set -euo pipefail
dir=${1:-$(dirname "$0")/../src}
files=$(ls "$dir"/*.c | grep -v -- '-generated\.c$' | sort)

# "FILE FUNCTION LINES" for every function body.
bodies() {
    awk '
        FNR == 1 { name = "" }
        /^[A-Za-z_][A-Za-z0-9_]*\(/ { name = $0; sub(/\(.*/, "", name) }
        /^\{$/ { start = FNR }
        /^\}/ && start { print FILENAME, (name == "" ? "?" : name), FNR - start - 1; start = 0 }
    ' $files
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }

printf '%-28s %6s %5s %6s %4s\n' file lines funcs median max
for f in $files; do
    lens=$(bodies | awk -v f="$f" '$1 == f { print $3 }')
    n=$(grep -c . <<<"$lens" || true)
    printf '%-28s %6d %5d %6s %4s\n' "$(basename "$f")" "$(wc -l < "$f")" "$n" \
        "$(median <<<"$lens")" "$(sort -n <<<"$lens" | tail -n1)"
done
all=$(bodies | awk '{ print $3 }')
printf '%-28s %6d %5d %6s %4s\n' total "$(cat $files | wc -l)" "$(grep -c . <<<"$all")" \
    "$(median <<<"$all")" "$(sort -n <<<"$all" | tail -n1)"
echo
echo "longest functions:"
bodies | sort -k3,3nr | head -n 10 | awk '{ n = split($1, p, "/"); printf "  %4d %s %s\n", $3, p[n], $2 }'
