#!/bin/bash
# The systemd unit: `systemd-analyze verify` on a copy whose ExecStart is
# the daemon just built (verify checks that the command exists) and whose
# man pages are this tree's (verify runs man(1) on Documentation=), and
# the exposure `systemd-analyze security --offline` gives it, printed.
# Exit 77 (skipped) without systemd-analyze.
set -uo pipefail

top_srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${TOP_BUILDDIR:-$top_srcdir}
command -v systemd-analyze >/dev/null ||
    { echo "SKIP: systemd-analyze is missing (package systemd)" >&2; exit 77; }
[ -x "$top_builddir/src/virt-heartbeatd" ] || { echo "build first" >&2; exit 99; }

dir=$(mktemp -d /tmp/hb-unit-test.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/man/man5" "$dir/man/man8"
cp "$top_srcdir/man/virt-heartbeatd.8" "$dir/man/man8/"
cp "$top_srcdir/man/virt-heartbeatd.conf.5" "$dir/man/man5/"
unit=$dir/virt-heartbeatd.service
sed -e "s|@sbindir[@]|$top_builddir/src|g" "$top_srcdir/src/virt-heartbeatd.service.in" >"$unit"

status=0
# verify exits 0 on an unknown or misspelt directive, and only says so:
# anything it says is a failure.
if MANPATH=$dir/man systemd-analyze verify "$unit" >"$dir/verify.log" 2>&1 &&
    [ ! -s "$dir/verify.log" ]; then
    echo "ok 1 - systemd-analyze verify: no complaint"
else
    echo "not ok 1 - systemd-analyze verify"
    sed 's/^/#   /' "$dir/verify.log"
    status=1
fi
# The score is printed for BENCHMARKS.md, not held to a figure: each
# systemd version weighs the directives anew.
if systemd-analyze security --offline=yes "$unit" >"$dir/security.log" 2>&1; then
    score=$(sed -n 's/.*exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p' "$dir/security.log")
    echo "ok 2 - systemd-analyze security --offline: exposure $score"
else
    echo "not ok 2 - systemd-analyze security --offline"
    sed 's/^/#   /' "$dir/security.log"
    status=1
fi
echo "1..2"
exit $status
