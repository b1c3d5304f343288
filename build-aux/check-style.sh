#!/bin/sh
# The mechanical part of the house style, run by `make check-style` and so by
# `make check`: no line over 100 columns, no function defined on one line,
# and a function's return type on a line of its own (a name can then be
# found with `grep ^name`). Generated code is left out. Columns are counted
# in bytes, so a line with UTF-8 text is held to a little less.
# Usage: build-aux/check-style.sh [SRCDIR]
srcdir=${1:-$(dirname "$0")/..}
LC_ALL=C
export LC_ALL

files=$(ls "$srcdir"/src/*.[ch] "$srcdir"/tests/*.[ch] "$srcdir"/tests/*/*.[ch] 2>/dev/null |
        grep -v -- '-generated\.[ch]$')
if [ -z "$files" ]; then
    echo "check-style: no sources under $srcdir" >&2
    exit 1
fi
status=0

# check RULE REGEX FILE...: print every line of the FILEs that matches REGEX.
check() {
    rule=$1
    regex=$2
    shift 2
    if grep -nE -- "$regex" "$@"; then
        echo "check-style: $rule" >&2
        status=1
    fi
}

check "lines over 100 columns" '^.{101,}' $files
# A name at the start of a line, its parameters, and a body on the same line.
check "a function defined on one line: write its body on lines of its own" \
      '^[A-Za-z_][^=;]*\)[[:space:]]*\{.*\}[[:space:]]*;?[[:space:]]*$' $files
# "static int name(" at the start of a line in a .c file, unless the
# declaration ends with ";" (a prototype: headers hold only those).
if awk '
    FNR == 1 { pending = 0 }
    pending && /;[[:space:]]*$/ { pending = 0; next }
    pending && /\)[[:space:]]*$/ { print FILENAME ":" start ":" first; found = 1; pending = 0; next }
    /^(static |const |unsigned |struct )*[A-Za-z_][A-Za-z0-9_]*[ *]+[a-z_][A-Za-z0-9_]*\(/ &&
    !/;[[:space:]]*$/ && !/\{/ {
        if (/\)[[:space:]]*$/) {
            print FILENAME ":" FNR ":" $0
            found = 1
        } else {
            pending = 1
            start = FNR
            first = $0
        }
    }
    END { exit !found }
' $(echo "$files" | grep '\.c$'); then
    echo "check-style: a function's return type shares the line with its name" >&2
    status=1
fi

exit $status
