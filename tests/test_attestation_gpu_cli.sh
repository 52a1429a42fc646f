#!/usr/bin/env bash
# test_attestation_gpu_cli.sh — `cloakx attest verify-gpu` / `collect-gpu` end to end on the
# real nvtrust H100 sample: exit 0 with per-GPU JSON, exit 3 naming each negative case.
set -euo pipefail
: "${CLOAKX:?}" "${CX_SHARED_TESTDATA:?}" "${CX_TESTDATA:?}"
G=$CX_SHARED_TESTDATA/attestation/gpu
D=$CX_TESTDATA/gpu
NONCE=931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb
AT=1767225600000 # 2026-01-01, inside every certificate's validity
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect CODE FAILED_NAME -- cloakx args...: runs with --json, checks exit code and "failed".
expect() {
    local want=$1 name=$2
    shift 3
    local rc=0
    "$CLOAKX" --json "$@" >"$tmp/out.json" 2>"$tmp/err.txt" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL: exit $rc (want $want): $*" >&2
        cat "$tmp/err.txt" >&2
        fails=$((fails + 1))
        return
    fi
    if [ -n "$name" ] && ! grep -q "\"failed\": *\"$name\"" "$tmp/out.json"; then
        echo "FAIL: no \"failed\": \"$name\" in output of: $*" >&2
        cat "$tmp/out.json" "$tmp/err.txt" >&2
        fails=$((fails + 1))
    fi
}
has() { # has KEY VALUE: the last output holds "KEY": "VALUE"
    if ! grep -q "\"$1\": *\"$2\"" "$tmp/out.json"; then
        echo "FAIL: output lacks \"$1\": \"$2\"" >&2
        cat "$tmp/out.json" >&2
        fails=$((fails + 1))
    fi
}

# the real evidence verifies, as evidence JSON and as raw report + PEM chain
expect 0 "" -- attest verify-gpu "$D/nvtrust_evidence.json" --nonce $NONCE --at $AT
for kv in nonce:$NONCE driver_version:550.90.07 vbios_version:96.00.9f.00.01 signature:passed \
    chain:passed fwid:passed measurements:not_compared ocsp:not_checked rim:not_checked \
    nonce_check:passed; do
    has "${kv%%:*}" "${kv#*:}"
done
grep -q '"gpu_digest": *"975496ba0238d98883d4a25704930c651028ed6716a14ff17692983bbddcf7e7f70875086bc306d615933ef11868ffda"' \
    "$tmp/out.json" || { echo "FAIL: gpu_digest" >&2; fails=$((fails + 1)); }
expect 0 "" -- attest verify-gpu --report "$G/nvtrust_hopper_report.bin" \
    --certs "$G/nvtrust_hopper_certchain.pem" --nonce $NONCE
expect 0 "" -- attest verify-gpu "$D/nvtrust_evidence.json" --reference \
    "$D/reference_nvtrust_match.json"
has measurements passed
# human output names the checks
"$CLOAKX" attest verify-gpu "$D/nvtrust_evidence.json" >"$tmp/human.txt"
grep -q "signature:     passed" "$tmp/human.txt" || { echo "FAIL: human output" >&2; fails=$((fails + 1)); }

# negative cases
python3 - "$G/nvtrust_hopper_report.bin" "$G/nvtrust_hopper_certchain.pem" "$tmp" <<'EOF'
import base64, json, sys
rep = bytearray(open(sys.argv[1], 'rb').read())
chain = open(sys.argv[2], 'rb').read()
out = sys.argv[3]
def ev(name, r, c):
    json.dump([{"arch": "HOPPER", "nonce": bytes(r[4:36]).hex() if len(r) >= 36 else "00" * 32,
                "evidence": base64.b64encode(bytes(r)).decode(),
                "certificate": base64.b64encode(c).decode()}], open(f"{out}/{name}.json", "w"))
flipped = bytearray(rep); flipped[45 + 7 + 200] ^= 1
ev("flipped", flipped, chain)
ev("truncated", rep[:-1], chain)
certs = [b"-----BEGIN CERTIFICATE-----" + c for c in chain.split(b"-----BEGIN CERTIFICATE-----")[1:]]
assert len(certs) == 5
ev("swapped", rep, b"".join([certs[1], certs[0]] + certs[2:]))
ev("swapped_mid", rep, b"".join(certs[:2] + [certs[3], certs[2], certs[4]]))
open(f"{out}/truncated.bin", "wb").write(rep[:3000])
good = json.load(open(f"{out}/flipped.json"))[0]
good["evidence"] = base64.b64encode(bytes(rep)).decode()
bad = json.load(open(f"{out}/flipped.json"))[0]
json.dump([good, bad], open(f"{out}/two_gpus.json", "w"))
json.dump([good, good], open(f"{out}/two_good.json", "w"))
EOF
expect 0 "" -- attest verify-gpu "$tmp/two_good.json"
expect 3 signature -- attest verify-gpu "$tmp/two_gpus.json"
grep -q "GPU 1: signature" "$tmp/err.txt" || { echo "FAIL: second GPU not named" >&2; fails=$((fails + 1)); }
grep -q '"verified": *true' "$tmp/out.json" || { echo "FAIL: first GPU should verify" >&2; fails=$((fails + 1)); }
expect 3 signature -- attest verify-gpu "$tmp/flipped.json"
expect 3 nonce -- attest verify-gpu "$D/nvtrust_evidence.json" --nonce "00${NONCE:2}"
expect 3 format -- attest verify-gpu "$tmp/truncated.json"
expect 3 "" -- attest verify-gpu --report "$tmp/truncated.bin" --certs "$G/nvtrust_hopper_certchain.pem"
grep -q "format" "$tmp/err.txt" || { echo "FAIL: truncated raw report not named format" >&2; fails=$((fails + 1)); }
expect 3 chain -- attest verify-gpu "$tmp/swapped.json"
expect 3 chain -- attest verify-gpu "$tmp/swapped_mid.json"
expect 3 chain -- attest verify-gpu "$D/nvtrust_evidence.json" --root "$G/nvidia_corim_signing_root_ca.pem"
expect 0 "" -- attest verify-gpu "$D/nvtrust_evidence.json" --root "$G/nvidia_device_identity_ca.pem"
expect 3 expired -- attest verify-gpu "$D/nvtrust_evidence.json" --at 253402300800000
expect 3 "measurement 5" -- attest verify-gpu "$D/nvtrust_evidence.json" --reference \
    "$D/reference_nvtrust_mismatch5.json"

# NVIDIA RIMs (public samples for driver 545.00 / VBIOS 96.00.5E.00.01): parsed, compared,
# named as the mismatch they are; their signatures are not verified, never "passed"
expect 3 driver_version -- attest verify-gpu "$D/nvtrust_evidence.json" \
    --driver-rim "$D/Driver_RIM_test_no_gpu.swidtag" \
    --vbios-rim "$D/1010_0200_882_96005E0001_test_no_gpu.swidtag"
has measurements failed
has rim not_checked
has reference rim_unverified_signature
expect 1 "" -- attest verify-gpu "$D/nvtrust_evidence.json" \
    --driver-rim "$D/Driver_RIM_test_no_gpu.swidtag" --vbios-rim "$D/Driver_RIM_test_no_gpu.swidtag"
grep -q disjoint "$tmp/err.txt" || { echo "FAIL: overlapping RIMs" >&2; fails=$((fails + 1)); }

# usage errors
expect 2 "" -- attest verify-gpu
expect 2 "" -- attest verify-gpu "$D/nvtrust_evidence.json" --nonce 1234
expect 2 "" -- attest verify-gpu --report "$G/nvtrust_hopper_report.bin"
expect 2 "" -- attest collect-gpu --out "$tmp/x.json"
expect 1 "" -- attest verify-gpu "$tmp/does-not-exist.json"

# collection without a driver: a clear error, nothing written
if ! ldconfig -p 2>/dev/null | grep >/dev/null libnvidia-ml.so.1; then
    expect 1 "" -- attest collect-gpu --nonce $NONCE --out "$tmp/ev.json"
    grep -q "libnvidia-ml.so.1 not found: no NVIDIA driver" "$tmp/err.txt" ||
        { echo "FAIL: no-driver message" >&2; cat "$tmp/err.txt" >&2; fails=$((fails + 1)); }
    [ ! -e "$tmp/ev.json" ] || { echo "FAIL: evidence written without a driver" >&2; fails=$((fails + 1)); }
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)" >&2
    exit 1
fi
echo "attest verify-gpu/collect-gpu: all cases as expected"
