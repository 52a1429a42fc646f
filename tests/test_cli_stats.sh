#!/usr/bin/env bash
# test_cli_stats.sh — `cloakx stats`: figures checked against an independent computation
# (NumPy when Debian's python3 has it, else the standard library), bad rows, usage errors.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/a.csv" <<'CSV'
x,y,"c,name",z
1,2.5,red,10
2,"4.5",blue,
3,6.5,red,30
4,8.5,red,40
5,9,blue,20
CSV
printf '{"x": 6, "y": 11, "c,name": "green", "z": 5}\n{"x": 7, "y": 13.5, "c,name": "red", "z": null}\n' >"$work/b.jsonl"

"$cx" stats --help | grep >/dev/null 'usage: cloakx stats' || fail "help"
out=$("$cx" stats --data "$work/a.csv" --categorical 'c,name' --json)
py=python3
/usr/bin/python3 -c 'import numpy' 2>/dev/null && py=/usr/bin/python3
$py - "$out" <<'PY' || fail "stats --json figures"
import json, sys, math, statistics
v = json.loads(sys.argv[1])
assert v['rows'] == 5, v['rows']
names = [c['name'] for c in v['columns']]
assert names == ['x', 'y', 'c,name=blue', 'c,name=red', 'z'], names
cols = {c['name']: c for c in v['columns']}
x = [1, 2, 3, 4, 5]; y = [2.5, 4.5, 6.5, 8.5, 9]; z = [10, 30, 40, 20]
assert cols['x']['count'] == 5 and cols['z']['count'] == 4
assert abs(cols['y']['mean'] - statistics.mean(y)) < 1e-9
assert abs(cols['y']['std'] - statistics.stdev(y)) < 1e-6
assert cols['z']['min'] == 10 and cols['z']['max'] == 40
def q(a, p):
    a = sorted(a); h = (len(a) - 1) * p; lo = int(h)
    return a[lo] + (h - lo) * (a[min(lo + 1, len(a) - 1)] - a[lo])
for k, p in (('p01', .01), ('p25', .25), ('p50', .5), ('p99', .99)):
    assert abs(cols['z']['quantiles'][k] - q(z, p)) < 1e-9, k
m = v['correlation']['matrix']
def corr(a, b):
    ma, mb = statistics.mean(a), statistics.mean(b)
    c = sum((i - ma) * (j - mb) for i, j in zip(a, b))
    return c / math.sqrt(sum((i - ma) ** 2 for i in a) * sum((j - mb) ** 2 for j in b))
assert abs(m[0][1] - corr(x, y)) < 1e-6
# pairwise complete: row 2 has no z
assert abs(m[0][4] - corr([1, 3, 4, 5], z)) < 1e-6
assert abs(m[0][0] - 1) < 1e-12
try:
    import numpy as np
    assert abs(m[1][4] - np.corrcoef([2.5, 6.5, 8.5, 9], z)[0, 1]) < 1e-6
except ImportError:
    pass
PY

# JSONL file of the same columns: a second blob would need one format, so on its own
out=$("$cx" stats --data "$work/b.jsonl" --categorical 'c,name' --json)
$py - "$out" <<'PY' || fail "stats jsonl"
import json, sys
v = json.loads(sys.argv[1])
assert v['rows'] == 2
cols = {c['name']: c for c in v['columns']}
assert cols['z']['count'] == 1 and cols['x']['mean'] == 6.5
PY

# bad rows: reported with line numbers, over the tolerance fails (exit 1)
printf 'a,b\n1,2\n3,oops\n5,6\n' >"$work/bad.csv"
set +e
"$cx" stats --data "$work/bad.csv" >/dev/null 2>"$work/err"; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad rows exit $rc"
grep -q 'line 3: number' "$work/err" || fail "bad row message: $(cat "$work/err")"
grep -q oops "$work/err" && fail "contents leaked into the error"
out=$("$cx" stats --data "$work/bad.csv" --max-bad-fraction 0.5 --json)
$py -c 'import json,sys; v=json.loads(sys.argv[1]); f=v["files"][0]; assert f["bad_rows"]==1 and f["bad"][0]["line"]==3 and f["bad"][0]["reason"]=="number", f' "$out" || fail "bad rows json"

# an f32 matrix written from FORMAT.md by hand (not by our writer): same figures
python3 - "$work/m.f32" <<'PY' || fail "writing f32"
import struct, sys
names = b"x\0y\0z\0"
hdr = b"CXF32MAT" + struct.pack("<IIQiI", 1, 3, 4, -1, len(names)) + names
hdr += b"\0" * (-len(hdr) % 8)
rows = [(1, 2.5, 10), (2, 4.5, float("nan")), (3, 6.5, 30), (4, 8.5, 40)]
open(sys.argv[1], "wb").write(hdr + b"".join(struct.pack("<3f", *r) for r in rows))
PY
out=$("$cx" stats --data "$work/m.f32" --json)
$py -c 'import json,sys; v=json.loads(sys.argv[1]); c={k["name"]:k for k in v["columns"]}; assert v["rows"]==4 and c["y"]["mean"]==5.5 and c["z"]["count"]==3 and c["z"]["max"]==40, v' "$out" || fail "f32 stats"

# text output and usage errors
"$cx" stats --data "$work/a.csv" --categorical 'c,name' | grep >/dev/null 'correlation' || fail "text output"
set +e
"$cx" stats >/dev/null 2>&1; rc1=$?
"$cx" stats --data "$work/a.csv" --bogus 1 >/dev/null 2>&1; rc2=$?
"$cx" stats --data "$work/none.csv" >/dev/null 2>&1; rc3=$?
set -e
[ "$rc1" -eq 2 ] && [ "$rc2" -eq 2 ] || fail "usage exit codes $rc1 $rc2"
[ "$rc3" -eq 1 ] || fail "missing file exit $rc3"

# sklearn's iris when present: 150 rows, 5 columns, known means
iris=/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv
if [ -r "$iris" ]; then
    out=$("$cx" stats --data "$iris" --skip-lines 1 --no-header --json)
    $py -c 'import json,sys; v=json.loads(sys.argv[1]); assert v["rows"]==150; assert abs(v["columns"][0]["mean"]-5.843333)<1e-5; assert abs(v["columns"][2]["mean"]-3.758)<1e-5' "$out" || fail "iris"
fi
echo "stats CLI: ok"
