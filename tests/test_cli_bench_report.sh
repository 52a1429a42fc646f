#!/usr/bin/env bash
# test_cli_bench_report.sh — `cloakx bench report --quick`: the suite runs in seconds, report.json
# holds each bench's JSON with the host's CPU, kernels and libraries, report.html is well-formed,
# self-contained and shows exactly report.json's numbers (tests/report_check.py), a failed or
# skipped bench is said on the page, and headless Chromium renders the page without a console
# message (screenshot kept as report/report.png in the test's work dir).
set -euo pipefail
CLOAKX=${CLOAKX:?path to cloakx}
here=$(cd "$(dirname "$0")" && pwd)
art=$PWD # the test's own work dir under the build tree: the artefacts stay there
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
rm -rf "$art/report" "$art/crafted" "$art/chrome"

# --- usage ---
set +e
"$CLOAKX" bench report 2>"$art/usage.err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "no --out: exit $rc, not 2"

# --- the quick suite ---
t0=$(date +%s)
"$CLOAKX" bench report --quick --out "$art/report" >"$art/run.out" 2>"$art/run.err" \
    || { cat "$art/run.err"; fail "bench report --quick failed: $(cat "$art/run.out")"; }
secs=$(( $(date +%s) - t0 ))
[ "$secs" -le 90 ] || fail "the quick report took ${secs}s"
python3 "$here/report_check.py" report "$art/report"
python3 - "$art/report/report.json" <<'EOF' || fail "report.json"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["quick"] is True and r["format"] == 1
h = r["host"]
assert h["cpu"] and h["cores"] >= 1 and h["kernels"]["gemm"] and h["libraries"]["openssl"], h
b = r["benches"]
for k in ("version", "decrypt", "parse", "train", "train_sweep"):
    assert "result" in b[k], (k, b[k])
assert b["train"]["result"]["cpu"] and b["train"]["result"]["gemm"]
assert len(b["decrypt"]["result"]["runs"]) >= 1
# each bench beside its peer, and the peer at the bench's thread count (the machine's scaling)
pr = b["parse"]["result"]
assert pr["peer_strtof_1thread_mb_s"] > 0 and pr["peer_strtof_parallel_mb_s"] > 0, pr
assert pr["peer_strtof_parallel_mb_per_cpu_s"] > 0, pr
assert len(b["train_sweep"]["result"]["sweep"]) == 9  # 3 widths x 3 batch sizes
assert "result" in b["ledger"] or "skipped" in b["ledger"], b["ledger"]
assert "result" in b["train_gpu"] or b["train_gpu"]["skipped"].startswith("no GPU")
EOF

# --- drawn again from the JSON alone: the same page ---
"$CLOAKX" bench report --from "$art/report/report.json" --out "$art/redrawn" >/dev/null
cmp -s "$art/report/report.html" "$art/redrawn/report.html" \
    || fail "report.html drawn from report.json differs from the run's"

# --- a failed bench, a skipped one and a GPU result, from a crafted report ---
mkdir -p "$art/crafted"
python3 - "$art/report/report.json" "$art/crafted/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
b = r["benches"]
b["ledger"] = {"argv": ["bench_ledger"], "error": "ledger <exploded> & \"left\""}
b["parse"] = {"skipped": "not today"}
b["train_gpu"] = {"argv": ["cloakx", "bench", "train", "--device", "cuda"], "seconds": 3.5,
                  "result": {"device": "cuda:0 (H100)", "precision": "fp32", "gpu_cc_state": "on",
                             "model": "mlp 64-256-256-10", "samples_per_s": 2.5e6,
                             "gemm_bound_samples_per_s": 4.25e6}}
json.dump(r, open(sys.argv[2], "w"))
EOF
"$CLOAKX" bench report --from "$art/crafted/report.json" --out "$art/crafted" >/dev/null
python3 "$here/report_check.py" report "$art/crafted"
grep -q 'failed: ledger &lt;exploded&gt; &amp; &quot;left&quot;' "$art/crafted/report.html" \
    || fail "the ledger's failure is not on the page"
grep -q 'data-value="2500000"' "$art/crafted/report.html" || fail "no GPU figure on the page"

# --- headless Chromium: renders, nothing on the console, nothing fetched ---
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (scripts/deps.sh test); the JSON and HTML checks passed"; exit 77; }
# render PAGE PNG: a screenshot, console messages at INFO level on stderr (CONSOLE lines); no
# network (every host resolves to nothing), a fresh profile each time
render() {
    rm -rf "$art/chrome"
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --disable-default-apps --no-default-browser-check \
        --host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir="$art/chrome" \
        --enable-logging=stderr --log-level=0 --window-size=1200,2400 \
        --screenshot="$2" "file://$1" >/dev/null 2>"$2.log" || { tail -5 "$2.log"; return 1; }
    [ -s "$2" ]
}
# the console check can fail: a page with a script error is caught
printf '<!DOCTYPE html><html><body><script>console.error("x");nosuch();</script></body></html>' \
    >"$art/broken.html"
render "$art/broken.html" "$art/broken.png" || fail "chromium did not render a plain page"
grep -q ':CONSOLE' "$art/broken.png.log" || fail "chromium's console messages are not seen"
render "$art/report/report.html" "$art/report/report.png" || fail "chromium: the report"
if grep ':CONSOLE' "$art/report/report.png.log"; then fail "the report logs to the console"; fi
rm -rf "$art/chrome"
echo "PASS: bench report in ${secs}s; screenshot $art/report/report.png"
