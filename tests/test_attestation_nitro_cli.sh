#!/usr/bin/env bash
# test_attestation_nitro_cli.sh — `cloakx attest verify-nitro` and `inspect` on the real Nitro
# document: JSON fields, exit 3 naming each failed check (expired, signature, pcr N, format),
# hex-text input, usage errors.
set -euo pipefail
cx=${CLOAKX:?}
td=${CX_SHARED_TESTDATA:?}/attestation/nitro
doc=$td/nautilus_weather_20250415.cose
at=1744684007462
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_refusal REASON ARGS...: exit 3 and the reason on stderr
expect_refusal() {
    local reason=$1; shift
    set +e
    "$cx" attest verify-nitro "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
    set -e
    [ "$rc" -eq 3 ] || { cat "$tmp/err" >&2; fail "$reason: exit $rc, wanted 3"; }
    grep -q "error: $reason" "$tmp/err" || { cat "$tmp/err" >&2; fail "$reason not named"; }
}

out=$("$cx" attest verify-nitro "$doc" --at $at --json)
/usr/bin/python3 - "$out" <<'PY' || fail "verify-nitro --json"
import json, sys
v = json.loads(sys.argv[1])
assert v['module_id'] == 'i-06e4b98c6549ff803-enc0196373b195fb723', v['module_id']
assert v['timestamp'] == 1744683923696
assert sorted(int(k) for k in v['pcrs']) == list(range(16))
assert v['pcrs']['2'] == '21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a'
assert v['pcrs']['0'].startswith('cbe1afb6') and v['pcrs']['0'] == v['pcrs']['1']
assert v['public_key'] == 'e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af'
assert v['user_data'] is None and v['nonce'] is None
assert v['debug'] is False and v['simulated'] is False
PY

pcr2=21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a
"$cx" attest verify-nitro "$doc" --at $at --pcr 2=$pcr2 --root "$td/aws_nitro_root_g1.pem" \
    | grep >/dev/null "^module_id    i-06e4b98c6549ff803" || fail "human output"
"$cx" attest verify-nitro "$doc" --at doc >/dev/null || fail "--at doc"

# MANIFEST negative cases
expect_refusal "expired" "$doc" --at $(( (1744694270 + 1) * 1000 ))
expect_refusal "expired" "$doc"  # now: years after the 3-hour leaf
/usr/bin/python3 - "$doc" "$tmp/flip.cose" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(b'i-06e4b98c') + 3
b[i] ^= 1
open(sys.argv[2], 'wb').write(b)
PY
expect_refusal "signature" "$tmp/flip.cose" --at $at
expect_refusal "pcr 0" "$doc" --at $at --pcr 0=$(printf '0%.0s' $(seq 96))
expect_refusal "pcr 2" "$doc" --at $at --pcr 2=${pcr2%?}b
head -c 3000 "$doc" > "$tmp/trunc.cose"
expect_refusal "format: " "$tmp/trunc.cose" --at $at
# wrong root: the GPU CA is a valid certificate but not Nitro's root
expect_refusal "root" "$doc" --at $at --root "$CX_SHARED_TESTDATA/attestation/gpu/nvidia_device_identity_ca.pem"
set +e
"$cx" --json attest verify-nitro "$tmp/flip.cose" --at $at >"$tmp/j" 2>/dev/null; rc=$?
set -e
[ "$rc" -eq 3 ] || fail "--json refusal exit $rc"
/usr/bin/python3 -c "import json,sys; j=json.load(open('$tmp/j')); assert j['error']['message'].startswith('signature'), j" \
    || fail "--json error object"

# hex text input (what Nautilus' /get_attestation serves)
/usr/bin/python3 -c "import sys; print(open('$doc','rb').read().hex())" > "$tmp/doc.hex"
"$cx" attest verify-nitro "$tmp/doc.hex" --at $at >/dev/null || fail "hex input"

# inspect
"$cx" attest inspect "$doc" > "$tmp/insp"
grep -q "AWS Nitro attestation document" "$tmp/insp" || fail "inspect kind"
grep -q "CN=aws.nitro-enclaves" "$tmp/insp" || fail "inspect cabundle root"
grep -q "NOT verified" "$tmp/insp" || fail "inspect says unverified"
"$cx" --json attest inspect "$tmp/doc.hex" | /usr/bin/python3 -c \
    "import json,sys; j=json.load(sys.stdin); assert j['kind']=='nitro' and j['verified'] is False" \
    || fail "inspect --json"
set +e
"$cx" attest inspect "$td/aws_nitro_root_g1.pem" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -ne 0 ] || fail "inspect of an unknown file succeeded"

# simulated TEE: refused unless --allow-simulated, only with its dev root; the binding shows
sim=${CX_TESTDATA:?}/attestation_nitro/simulated_bound.cose
simroot=$CX_TESTDATA/attestation_nitro/simulated_devroot.pem
simat=1795721393740
expect_refusal "simulated" "$sim" --at $simat --root "$simroot"
expect_refusal "root" "$sim" --at $simat --allow-simulated
out=$("$cx" attest verify-nitro "$sim" --at $simat --root "$simroot" --allow-simulated --json 2>/dev/null)
/usr/bin/python3 - "$out" <<'PY' || fail "simulated --json"
import json, sys, hashlib
v = json.loads(sys.argv[1])
assert v['simulated'] is True and v['module_id'].startswith('cloakx-simulated-')
ud = bytes.fromhex(v['user_data']); pk = bytes.fromhex(v['public_key'])
job, ch = bytes(range(32)), bytes(range(0x40, 0x60))
assert len(ud) == 149 and ud[:5] == b'CXAT\x01' and ud[5:37] == job and ud[37:69] == ch
nonce = hashlib.sha256(b'cloakx/gpu-nonce/v1\x00' + job + pk + ch).digest()
assert ud[69:101] == nonce, 'gpu_nonce (independent hashlib)'
assert ud[101:149] == bytes(range(0x80, 0xb0))
assert v['nonce'] == ch.hex()
PY
"$cx" attest inspect "$sim" | grep >/dev/null "CloakX GPU binding" || fail "inspect binding"
# the simulated document is a real COSE_Sign1/ES384: check it with Python's cryptography alone
/usr/bin/python3 - "$sim" "$simroot" <<'PY' || fail "independent ES384 check of the simulated document"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
b = open(sys.argv[1], 'rb').read()
assert b[:8] == bytes.fromhex('8444a1013822a059'), b[:8].hex()
n = int.from_bytes(b[8:10], 'big'); payload = b[10:10 + n]
assert b[10 + n:12 + n] == b'\x58\x60' and len(b) == 12 + n + 96
sig = b[12 + n:]
i = payload.find(b'\x6bcertificate') + 12
assert payload[i] == 0x59
clen = int.from_bytes(payload[i + 1:i + 3], 'big')
leaf = x509.load_der_x509_certificate(payload[i + 3:i + 3 + clen])
root = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())
root.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA384()))
tbs = bytes.fromhex('846a5369676e61747572653144a101382240') + b'\x59' + n.to_bytes(2, 'big') + payload
der = utils.encode_dss_signature(int.from_bytes(sig[:48], 'big'), int.from_bytes(sig[48:], 'big'))
leaf.public_key().verify(der, tbs, ec.ECDSA(hashes.SHA384()))
PY

# usage errors
set +e
"$cx" attest verify-nitro >/dev/null 2>&1; rc1=$?
"$cx" attest verify-nitro "$doc" --pcr 40=00 >/dev/null 2>&1; rc2=$?
"$cx" attest verify-nitro "$doc" --bogus >/dev/null 2>&1; rc3=$?
set -e
[ "$rc1" -eq 2 ] && [ "$rc2" -eq 2 ] && [ "$rc3" -eq 2 ] || fail "usage exits $rc1 $rc2 $rc3"
"$cx" attest verify-nitro --help | grep >/dev/null "usage: cloakx attest verify-nitro" || fail "help"
echo "attest verify-nitro / inspect: ok"
