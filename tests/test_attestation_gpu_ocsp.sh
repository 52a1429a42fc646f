#!/usr/bin/env bash
# test_attestation_gpu_ocsp.sh — `verify-gpu --online` against loopback OCSP responders
# (openssl ocsp) for a generated 5-certificate P-384 chain and the sample report re-signed
# with its leaf: all checks pass, a revoked intermediate fails "ocsp", no responder = not
# checked (and not passed). Also shows the verifier is not tied to the one real chain.
set -euo pipefail
: "${CLOAKX:?}" "${CX_SHARED_TESTDATA:?}"
command -v openssl >/dev/null || exit 77
G=$CX_SHARED_TESTDATA/attestation/gpu
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
fails=0
base=$((20000 + ($$ % 20000)))
P1=$base P2=$((base + 1)) P3=$((base + 2))

key() { openssl ecparam -name secp384r1 -genkey -noout -out "$1.key" 2>/dev/null; }
# cert NAME ISSUER EXTS: a certificate for NAME.key signed by ISSUER (self when equal)
cert() {
    local name=$1 issuer=$2 exts=$3
    printf '%b' "$exts" >"$name.ext"
    openssl req -new -key "$name.key" -subj "/O=CloakX test/CN=$name" -out "$name.csr" 2>/dev/null
    if [ "$name" = "$issuer" ]; then
        openssl x509 -req -in "$name.csr" -signkey "$name.key" -sha384 -days 30 \
            -extfile "$name.ext" -set_serial "0x$(openssl rand -hex 8)" -out "$name.pem" 2>/dev/null
    else
        openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -sha384 \
            -days 30 -extfile "$name.ext" -set_serial "0x$(openssl rand -hex 8)" \
            -out "$name.pem" 2>/dev/null
    fi
}
ca_ext='basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\n'
for n in root c3 c2 c1 c0; do key $n; done
cert root root "$ca_ext"
cert c3 root "${ca_ext}authorityInfoAccess=OCSP;URI:http://127.0.0.1:$P3/\n"
cert c2 c3 "${ca_ext}authorityInfoAccess=OCSP;URI:http://127.0.0.1:$P2/\n"
cert c1 c2 "${ca_ext}authorityInfoAccess=OCSP;URI:http://127.0.0.1:$P1/\n"
# the leaf carries the sample report's FWID at the end of its TCG DICE TcbInfo extension
python3 - "$G/nvtrust_hopper_report.bin" <<'EOF' >fwid.hex
import sys
r = open(sys.argv[1], 'rb').read()
o = 45 + int.from_bytes(r[42:45], 'little') + 34
end = o + int.from_bytes(r[o - 2:o], 'little')
while o < end:
    t, s = int.from_bytes(r[o:o + 2], 'little'), int.from_bytes(r[o + 2:o + 4], 'little')
    if t == 20:
        print(r[o + 4:o + 4 + s].hex())
    o += 4 + s
EOF
cert c0 c1 "keyUsage=critical,digitalSignature\n2.23.133.5.4.1=DER:0430$(cat fwid.hex)\n"
cat c0.pem c1.pem c2.pem c3.pem root.pem >chain.pem

# re-sign the sample's signed bytes with the generated leaf (raw r || s, 48 bytes each)
head -c 4021 "$G/nvtrust_hopper_report.bin" >signed.bin
openssl dgst -sha384 -sign c0.key -out sig.der signed.bin
python3 - <<'EOF'
d = open('sig.der', 'rb').read()
def der_len(b, i):
    n = b[i]
    if n < 0x80:
        return n, i + 1
    k = n & 0x7f
    return int.from_bytes(b[i + 1:i + 1 + k], 'big'), i + 1 + k
assert d[0] == 0x30
_, i = der_len(d, 1)
out = b''
for _ in range(2):
    assert d[i] == 0x02
    n, i = der_len(d, i + 1)
    out += int.from_bytes(d[i:i + n], 'big').to_bytes(48, 'big')
    i += n
open('report.bin', 'wb').write(open('signed.bin', 'rb').read() + out)
EOF

# index files: c1, c2, c3 valid unless revoked below
idx_line() { # STATUS CERT
    local serial exp
    serial=$(openssl x509 -in "$2.pem" -noout -serial | cut -d= -f2)
    exp=$(date -u -d '+30 days' +%y%m%d%H%M%SZ)
    if [ "$1" = R ]; then
        printf 'R\t%s\t%s\t%s\tunknown\t/CN=%s\n' "$exp" "$(date -u +%y%m%d%H%M%SZ)" "$serial" "$2"
    else
        printf 'V\t%s\t\t%s\tunknown\t/CN=%s\n' "$exp" "$serial" "$2"
    fi
}
start_responders() { # STATUS_OF_C2
    idx_line V c1 >idx_c2.txt
    idx_line "$1" c2 >idx_c3.txt
    idx_line V c3 >idx_root.txt
    for spec in "$P1 c2" "$P2 c3" "$P3 root"; do
        set -- $spec
        openssl ocsp -index "idx_$2.txt" -port "$1" -rsigner "$2.pem" -rkey "$2.key" \
            -CA "$2.pem" -nrequest 50 >"ocsp_$1.log" 2>&1 &
        pids+=($!)
    done
    # ready when each says so (a bare connect probe would stall the one-at-a-time responder)
    for port in $P1 $P2 $P3; do
        for _ in $(seq 100); do
            grep -q "waiting for OCSP client connections" "ocsp_$port.log" 2>/dev/null && break
            sleep 0.05
        done
    done
}
stop_responders() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
}

run() { # WANT_RC OCSP_WORD FAILED args...
    local want=$1 word=$2 failed=$3 rc=0
    shift 3
    "$CLOAKX" --json attest verify-gpu --report report.bin --certs chain.pem --root root.pem \
        --nonce 931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb "$@" \
        >out.json 2>err.txt || rc=$?
    if [ "$rc" != "$want" ] || ! grep -q "\"ocsp\": *\"$word\"" out.json ||
        { [ -n "$failed" ] && ! grep -q "\"failed\": *\"$failed\"" out.json; }; then
        echo "FAIL: want exit $want, ocsp $word, failed '$failed'; got exit $rc:" >&2
        cat out.json err.txt >&2
        fails=$((fails + 1))
    fi
}

start_responders V
run 0 not_checked ""  # offline: everything else passes with the generated chain
for c in signature chain fwid; do
    grep -q "\"$c\": *\"passed\"" out.json || { echo "FAIL: $c not passed" >&2; fails=$((fails + 1)); }
done
run 0 passed "" --online
stop_responders

start_responders R
run 3 failed ocsp --online
grep -q "revoked" err.txt || { echo "FAIL: revocation not named" >&2; cat err.txt >&2; fails=$((fails + 1)); }
stop_responders

# nobody listening: not checked, never passed, and the GPU is not verified
run 3 not_checked ocsp --online
run 3 not_checked ocsp --online --ocsp-url "http://127.0.0.1:$P1/"

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)" >&2
    exit 1
fi
echo "verify-gpu --online: OCSP good, revoked and unreachable cases as expected"
