#!/usr/bin/env bash
# test_e2e_worker_status.sh — `cloakx worker --listen`: the demo's job watched live. A real
# headless Chromium loads the page mid-job (paused after training) and after payment, and its
# DOM shows the job's phases, loss curve and contributors (screenshots kept in the test's work
# dir); the JSON API and /metrics (strict Prometheus text parser) say the same; the server is
# read-only, loopback-bound unless a token is set, and no response holds data or key material.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/e2e_common.sh"
artefacts=$PWD # the test's own work dir (ctest runs it there)
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (scripts/deps.sh test)"; exit 77; }
# Debian's python3-prometheus-client lives with Debian's python (a python3 earlier on PATH,
# e.g. pyenv's, may not see it)
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
mkdir -p "$work/resp"
nresp=0

keys operator buyer s1 s2
"$CLOAKX" demo --write-data "$work/data" --sellers 2 --rows 300 >/dev/null
"$CLOAKX" balance --key "$work/keys/buyer" --faucet 1000000 >/dev/null
pool=$("$CLOAKX" pool create --key "$work/keys/operator" --theme "status page" --price 10 --k 2 \
       --max-rows 1000)
"$CLOAKX" enclave register --key "$work/keys/operator" --state "$work/op" --allow-simulated \
    --pool "$pool" >/dev/null
for i in 1 2; do
    "$CLOAKX" contribute --key "$work/keys/s$i" --pool "$pool" --allow-simulated \
        "$work/data/seller0$i.csv" >/dev/null
done
job=$("$CLOAKX" job create --key "$work/keys/buyer" --pool "$pool" \
      --spec "$work/data/spec.json" --pay 5000)

# start_worker NAME [args...]: a worker in the background serving on a free loopback port;
# sets $pid and $base
start_worker() {
    local name=$1; shift
    "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" --poll-ms 100 "$@" \
        >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    bg_pids+=("$pid")
    base=
    for _ in $(seq 200); do
        base=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/$name.err" | head -1 || true)
        [ -n "$base" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/$name.err"; fail "$name: worker died"; }
        sleep 0.05
    done
    [ -n "$base" ] || fail "$name: no status address logged"
}
stop_worker() { kill -9 "$pid"; wait "$pid" 2>/dev/null || true; }
# get PATH [curl args...]: the body on stdout, also kept for the scan; fails unless 200
get() {
    local path=$1; shift
    nresp=$((nresp + 1))
    local f="$work/resp/$(printf %03d $nresp)"
    local code
    code=$(curl -sS --max-time 10 -o "$f" -w '%{http_code}' "$@" "$base$path") || fail "curl $path"
    [ "$code" = 200 ] || fail "GET $path: HTTP $code"
    cat "$f"
}
code_of() { # METHOD PATH [curl args...]: the status code only
    local m=$1 path=$2; shift 2
    curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X "$m" "$@" "$base$path"
}
# browse NAME: the page in headless Chromium (fresh profile, no network but loopback); its DOM
# after the page's own script ran, kept for the scan, and a screenshot in the artefacts
browse() {
    local name=$1 flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
        --disable-background-networking --disable-component-update --disable-sync
        --disable-extensions --disable-default-apps --no-default-browser-check
        --virtual-time-budget=5000)
    rm -rf "$work/chrome-$name"
    timeout 90 "$CHROMIUM" "${flags[@]}" --user-data-dir="$work/chrome-$name" --dump-dom \
        "$base/" >"$work/$name.dom.html" 2>"$work/$name.chrome.err" \
        || { tail -5 "$work/$name.chrome.err"; fail "$name: chromium --dump-dom"; }
    nresp=$((nresp + 1))
    cp "$work/$name.dom.html" "$work/resp/$(printf %03d $nresp)"
    rm -rf "$work/chrome-$name"
    timeout 90 "$CHROMIUM" "${flags[@]}" --user-data-dir="$work/chrome-$name" \
        --window-size=1200,1800 --screenshot="$artefacts/$name.png" "$base/" \
        >/dev/null 2>>"$work/$name.chrome.err" \
        || { tail -5 "$work/$name.chrome.err"; fail "$name: chromium --screenshot"; }
    [ -s "$artefacts/$name.png" ] || fail "$name: no screenshot"
    grep -q 'data-loaded="1"' "$work/$name.dom.html" \
        || fail "$name: the page's script never drew the status: $(grep -o 'id="conn">[^<]*' "$work/$name.dom.html")"
}
dom_has() { grep -q -- "$2" "$work/$1.dom.html" || fail "$1: the page lacks $2"; }

# --- 1. mid-job: paused right after training ---
rm -f "$work/op/paused-trained"
CLOAKX_WORKER_PAUSE_AT=trained start_worker live --listen 127.0.0.1:0
for _ in $(seq 600); do [ -e "$work/op/paused-trained" ] && break; sleep 0.05; done
[ -e "$work/op/paused-trained" ] || fail "worker never reached training"
get /api/status >"$work/live.json"
jq -e --arg j "$job" '
    .enclave.tee_backend == "sim" and .enclave.simulated and (.enclave.measurement | length) == 96
    and .enclave.attestation_age_seconds >= 0 and (.enclave.cc_mode | length) > 0
    and (.jobs | length) == 1 and .jobs[0].job == $j and .jobs[0].state == "running"
    and .jobs[0].phase == "train"
    and ([.jobs[0].phases[].phase] | index("decrypt_and_parse") != null)
    and .jobs[0].progress.blobs_fetched == 2 and .jobs[0].progress.blobs_total == 2
    and .jobs[0].progress.bytes_decrypted > 0
    and .jobs[0].progress.bytes_decrypted == .jobs[0].progress.bytes_total
    and (.jobs[0].loss.train | length) == .jobs[0].progress.epoch
    and (.jobs[0].loss.train | length) > 0' "$work/live.json" >/dev/null \
    || fail "live status: $(cat "$work/live.json")"
bytes=$(jq -r '.jobs[0].progress.bytes_decrypted' "$work/live.json")
[ "$bytes" -eq "$(cat "$work"/data/seller0{1,2}.csv | wc -c)" ] \
    || fail "bytes decrypted $bytes, not the two sellers' file sizes"
get /metrics >"$work/live.prom"
"$PY" "$here/status_check.py" metrics "$work/live.prom" 'cloakx_jobs{state="running"}=1' \
    "cloakx_decrypted_bytes_total=$bytes" 'cloakx_epoch_duration_seconds_count>0' \
    'cloakx_call_duration_seconds_count{op="get",service="store"}=2' \
    'cloakx_call_duration_seconds_count{op="events_read",service="ledger"}>0'
browse running
for ph in load_job check_measurement read_request decrypt_and_parse commit_dataset train; do
    dom_has running "data-phase=\"$ph\""
done
dom_has running 'data-state="running"'
dom_has running 'data-series="train"'
dom_has running 'SIMULATED TEE'
# read-only: every other method is refused, unknown paths are 404
for m in POST PUT DELETE PATCH; do
    [ "$(code_of "$m" /api/status)" = 405 ] || fail "$m /api/status was not refused with 405"
done
[ "$(code_of HEAD /metrics -I)" = 200 ] || fail "HEAD /metrics"
[ "$(code_of GET /nope)" = 404 ] || fail "GET /nope"
stop_worker

# --- 2. the restarted worker finishes the job: paid, with its contributors ---
start_worker done --listen 127.0.0.1:0
for _ in $(seq 600); do
    get /api/status >"$work/done.json"
    jq -e '.jobs[0].state == "paid"' "$work/done.json" >/dev/null && break
    sleep 0.1
done
rows=$(( $(wc -l <"$work/data/seller01.csv") + $(wc -l <"$work/data/seller02.csv") - 2 ))
jq -e --argjson rows "$rows" '.jobs[0].state == "paid"
       and (.jobs[0].acceptance.contributors | length) == 2
       and ([.jobs[0].acceptance.contributors[].rows] | add) == $rows
       and .jobs[0].error == null and (.jobs[0].phases | length) == 13
       and (.jobs[0].phases[-1].phase == "sign_statement")' "$work/done.json" >/dev/null \
    || fail "finished status: $(cat "$work/done.json")"
get /metrics >"$work/done.prom"
"$PY" "$here/status_check.py" metrics "$work/done.prom" 'cloakx_jobs{state="paid"}=1' \
    'cloakx_jobs{state="running"}=0' 'cloakx_decrypt_throughput_bytes_per_second>0' \
    'cloakx_train_throughput_rows_per_second>0' \
    'cloakx_call_duration_seconds_count{op="result_submit",service="ledger"}=1' \
    'cloakx_call_duration_seconds_count{op="put",service="store"}=1'
browse paid
for ph in load_job decrypt_and_parse train seal_model sign_statement; do
    dom_has paid "data-phase=\"$ph\""
done
dom_has paid 'data-state="paid"'
dom_has paid 'class="acceptance"'
for s in s1 s2; do dom_has paid "$(addr "$s")"; done
stop_worker

# --- 3. beyond loopback only with a token; a token given is always required ---
expect_rc 2 "$CLOAKX" worker --key "$work/keys/operator" --state "$work/op" --listen 0.0.0.0:0
grep -q "token is required" "$work/err" || fail "0.0.0.0 without a token: $(cat "$work/err")"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$work/token"
start_worker tok --listen 127.0.0.1:0 --token-file "$work/token"
tok=$(cat "$work/token")
[ "$(code_of GET /api/status)" = 401 ] || fail "no token: not 401"
[ "$(code_of GET /metrics -H "Authorization: Bearer x$tok")" = 401 ] || fail "wrong token: not 401"
[ "$(code_of GET /metrics -H "Authorization: Bearer ${tok%?}")" = 401 ] || fail "short token"
get /api/status -H "Authorization: Bearer $tok" >/dev/null
get / -H "Authorization: Bearer $tok" >"$work/page.html" # not in a pipe: get counts responses
grep -q '<title>CloakX worker</title>' "$work/page.html" || fail "page with the token"
stop_worker
for r in tok; do grep -q "$tok" "$work/$r.err" && fail "the token was logged"; done

# --- 4. nothing in any response is data or key material ---
"$PY" "$here/status_check.py" scan "$work/resp" "$work" "$work/data"
echo "PASS: worker status page, API and metrics ($nresp responses; screenshots in $artefacts)"
