#!/usr/bin/env bash
# test_attestation_inspect_cli.sh — `cloakx attest inspect` on the kinds beyond Nitro: the raw
# nvtrust H100 report, the evidence JSON, and a result bundle built here from RULES.md §5.
set -euo pipefail
cx=${CLOAKX:?}
td=${CX_SHARED_TESTDATA:?}/attestation
gpu=${CX_TESTDATA:?}/gpu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc RC ARGS...: cloakx exits with RC
expect_rc() {
    local want=$1; shift
    set +e
    "$cx" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    set -e
    [ "$rc" -eq "$want" ] || { cat "$tmp/err" >&2; fail "$*: exit $rc, wanted $want"; }
}

# raw SPDM report: text and JSON carry the same fields (MANIFEST values)
"$cx" attest inspect "$td/gpu/nvtrust_hopper_report.bin" >"$tmp/rep"
grep -q "^NVIDIA GPU attestation report" "$tmp/rep" || fail "report kind"
grep -q "NOT verified" "$tmp/rep" || fail "report says unverified"
grep -Eq "^driver_version +550.90.07$" "$tmp/rep" || fail "report driver text"
"$cx" --json attest inspect "$td/gpu/nvtrust_hopper_report.bin" >"$tmp/rep.json"
/usr/bin/python3 - "$tmp/rep.json" "$td/gpu/nvtrust_hopper_report.bin" <<'PY' || fail "report --json"
import json, sys
j = json.load(open(sys.argv[1])); raw = open(sys.argv[2], 'rb').read()
assert j['kind'] == 'gpu_report' and j['verified'] is False
assert j['length'] == len(raw) and j['signature'] == raw[-96:].hex()
assert j['nonce'] == raw[4:36].hex()
assert j['driver_version'] == '550.90.07' and j['vbios_version'] == '96.00.9f.00.01'
assert len(j['measurements']) > 0 and j['measurements'][0]['index'] == 1
assert all(len(m['value']) == 96 for m in j['measurements'])
PY
head -c 200 "$td/gpu/nvtrust_hopper_report.bin" >"$tmp/trunc.bin"
expect_rc 3 attest inspect "$tmp/trunc.bin"
grep -q "truncated report" "$tmp/err" || fail "truncated report not named"

# evidence JSON: the §4.2 digest agrees with verify-gpu's, the report is parsed
"$cx" --json attest inspect "$gpu/nvtrust_evidence.json" >"$tmp/ev.json"
"$cx" --json attest verify-gpu "$gpu/nvtrust_evidence.json" --at 1718000000000 \
    >"$tmp/vg.json" 2>/dev/null || true
/usr/bin/python3 - "$tmp/ev.json" "$tmp/vg.json" <<'PY' || fail "evidence --json"
import json, sys
j = json.load(open(sys.argv[1])); v = json.load(open(sys.argv[2]))
assert j['kind'] == 'gpu_evidence' and j['verified'] is False
assert j['gpu_digest'] == v['gpu_digest'] and len(j['gpu_digest']) == 96
g = j['gpus'][0]
assert g['arch'] == 'HOPPER' and g['certificates'] == 5
assert g['report']['nonce'] == g['nonce'] and g['report']['driver_version'] == '550.90.07'
PY
"$cx" attest inspect "$gpu/nvtrust_evidence.json" >"$tmp/ev.txt"
grep -q "^NVIDIA GPU evidence JSON" "$tmp/ev.txt" || fail "evidence text"

# result bundle: the committed statement vector (tests/gen_statement_vector.py) with the real
# Nitro document and the evidence JSON inside
/usr/bin/python3 - "$td/nitro/nautilus_weather_20250415.cose" "$gpu/nvtrust_evidence.json" \
    "$tmp/bundle.json" "$tmp/bad.json" "$tmp/big.json" <<'PY'
import base64, json, sys
stmt = ('0000b875bd9a0100000111111111111111111111111111111111111111111111111111111111111111112222'
        '2222222222222222222222222222222222222222222222222222222222223033333333333333333333333333'
        '3333333333333333333333333333333333333333333333333333333333333333333333204444444444444444'
        '4444444444444444444444444444444444444444444444442055555555555555555555555555555555555555'
        '555555555555555555555555552033886c646435a0292d7737a007a1e723a322dbc4b69ea38f1f12be5bbff8'
        '05492077777777777777777777777777777777777777777777777777777777777777770002160179a1565ea7'
        'cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3acb00400000000000029287d8584fb5b71b8d62e'
        '7224b867207d205fb61d42b7cce0deef95bf4e8202200300000000000002086163637572616379d9eb0d0000'
        '00000003617563584a0d0000000000c0c62d00000000008096980000000000')
b = {'format': 'cloakx-result-bundle/1', 'statement': stmt, 'signature': 'ab' * 64,
     'public_key': 'e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af',
     'enclave_id': '0x' + '9a' * 32,
     'tee_report': base64.b64encode(open(sys.argv[1], 'rb').read()).decode(),
     'gpu_evidence': base64.b64encode(open(sys.argv[2], 'rb').read()).decode()}
json.dump(b, open(sys.argv[3], 'w'))
# eight GPUs: a bundle larger than any Nitro document file (inspect reads up to 4 MiB)
big = dict(b, gpu_evidence=base64.b64encode(json.dumps(
    json.load(open(sys.argv[2])) * 8).encode()).decode())
json.dump(big, open(sys.argv[5], 'w'))
b['statement'] = stmt[:-2]  # one byte short: the statement no longer decodes
json.dump(b, open(sys.argv[4], 'w'))
PY
"$cx" --json attest inspect "$tmp/bundle.json" >"$tmp/b.json"
/usr/bin/python3 - "$tmp/b.json" "$tmp/ev.json" <<'PY' || fail "bundle --json"
import base64, json, sys
j = json.load(open(sys.argv[1])); ev = json.load(open(sys.argv[2]))
assert j['kind'] == 'result_bundle' and j['verified'] is False
s = j['statement']
assert s['job_id'] == '11' * 32 and s['pool_id'] == '22' * 32 and s['code_measurement'] == '33' * 48
assert s['result_blob_id'] is None  # raw bytes, not a store id's text
assert s['result_blob_id_hex'] == base64.urlsafe_b64decode('M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk=').hex()
assert s['contributors'] == [
    {'contributor': '0x160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac', 'rows': 1200},
    {'contributor': '0x29287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e8202', 'rows': 800}]
assert s['metrics_micro'] == {'accuracy': 912345, 'auc': 871000}
assert s['dp_epsilon_micro'] == 3000000 and s['dp_delta_1e12'] == 10000000
assert s['gpu_evidence_hash'] is None
assert j['enclave_id'] == '0x' + '9a' * 32
t = j['tee_report']
assert t['kind'] == 'nitro' and t['module_id'].startswith('i-06e4b98c') and t['public_key_matches'] is True
assert j['gpu_evidence']['gpu_digest'] == ev['gpu_digest']
PY
"$cx" attest inspect "$tmp/bundle.json" >"$tmp/b.txt"
grep -q "^CloakX result bundle" "$tmp/b.txt" || fail "bundle text"
grep -Eq "^ +accuracy +912345$" "$tmp/b.txt" || fail "bundle text metrics"
[ "$(wc -c <"$tmp/big.json")" -gt 100000 ] || fail "big bundle too small"
"$cx" --json attest inspect "$tmp/big.json" | /usr/bin/python3 -c \
    "import json,sys; j=json.load(sys.stdin); assert len(j['gpu_evidence']['gpus']) == 8" \
    || fail "large bundle"
expect_rc 3 attest inspect "$tmp/bad.json"
grep -q "statement" "$tmp/err" || fail "bad statement not named"

# a multi-rank job's bundle (RULES.md §5): the same statement at version 3 committing to two
# ranks (ranks_hash, built here from §4 and §5), the ranks listed with their key and sizes and
# whether they hash to the statement's commitment; a rank left out is refused
/usr/bin/python3 - "$tmp/bundle.json" "$td/nitro/nautilus_weather_20250415.cose" \
    "$gpu/nvtrust_evidence.json" "$tmp/ranks.json" "$tmp/ranks_other.json" "$tmp/ranks_gap.json" <<'PY'
import base64, hashlib, json, struct, sys
b = json.load(open(sys.argv[1]))
doc0, ev1 = open(sys.argv[2], 'rb').read(), open(sys.argv[3], 'rb').read()
doc1 = b'rank 1: another attestation document'
ranks = [(0, b'\x10' * 32, doc0, None), (1, b'\x11' * 32, doc1, ev1)]
h = hashlib.sha256(b'cloakx/ranks/v1' + struct.pack('<I', 2) + b''.join(
    struct.pack('<I', r) + x + hashlib.sha256(d).digest() +
    (hashlib.sha256(g).digest() if g else b'\x00' * 32) for r, x, d, g in ranks)).digest()
st = bytearray(bytes.fromhex(b['statement']))  # version 1: no rejected list, no ranks hash
assert st[9] == 1 and st[255] == 0 and st[256] == 2  # empty GPU hash, then two rows
st[9] = 3
st = st[:256] + bytes([32]) + h + st[256:256 + 81] + b'\x00' + st[256 + 81:]  # + empty rejected
b['statement'] = st.hex()
b['ranks'] = [dict({'rank': r, 'x25519': x.hex(), 'document': base64.b64encode(d).decode()},
                   **({'gpu_evidence': base64.b64encode(g).decode()} if g else {}))
              for r, x, d, g in ranks]
json.dump(b, open(sys.argv[4], 'w'))
b['ranks'][1]['document'] = base64.b64encode(doc1 + b'!').decode()
json.dump(b, open(sys.argv[5], 'w'))
b['ranks'][1]['rank'] = 2
json.dump(b, open(sys.argv[6], 'w'))
PY
"$cx" --json attest inspect "$tmp/ranks.json" >"$tmp/r.json" || fail "ranks bundle"
"$cx" --json attest inspect "$tmp/ranks_other.json" >"$tmp/r2.json" || fail "ranks bundle 2"
/usr/bin/python3 - "$tmp/r.json" "$tmp/r2.json" <<'PY' || fail "ranks --json"
import json, sys
j, k = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
s = j['statement']
assert s['version'] == 3 and len(s['ranks_hash']) == 64
assert s['contributors'][0]['rows'] == 1200
r = j['ranks']
assert r['hash_matches_statement'] is True, r
assert [x['rank'] for x in r['list']] == [0, 1] and r['list'][1]['x25519'] == '11' * 32
assert r['list'][0]['gpu_evidence_bytes'] == 0 and r['list'][1]['gpu_evidence_bytes'] > 1000
assert k['ranks']['hash_matches_statement'] is False  # another document for rank 1
PY
"$cx" --json attest inspect "$tmp/bundle.json" | /usr/bin/python3 -c \
    "import json,sys; j=json.load(sys.stdin); assert j['ranks'] is None and j['statement']['ranks_hash'] is None and j['statement']['version'] == 1" \
    || fail "one-rank bundle: no ranks"
expect_rc 3 attest inspect "$tmp/ranks_gap.json"
grep -q "ranks\[1\]" "$tmp/err" || fail "rank gap not named"

# a JSON object that is not a bundle is not a known kind
echo '{"format": "cloakx-gpu-reference/v1"}' >"$tmp/other.json"
expect_rc 1 attest inspect "$tmp/other.json"
grep -q "not a known attestation artefact" "$tmp/err" || fail "unknown kind"
echo "ok"
