#!/usr/bin/python3
# gen_statement_vector.py — independent (Python + `cryptography`) construction of the committed
# result-statement vectors of tests/proto_statement_vector.h, from chain/RULES.md §4 and §5 alone.
# Run with Debian's /usr/bin/python3; prints the ranks hash of the vector's rank list (hex), then
# for version 3 and version 2 (the committed vector before version 3): length, signing bytes
# (hex), signature (hex).
import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def uleb(n):
    out = b''
    while True:
        b, n = n & 0x7f, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def vec(b):
    return uleb(len(b)) + b


def u64(v):
    return struct.pack('<Q', v)


def u32(v):
    return struct.pack('<I', v)


def sha256(b):
    return hashlib.sha256(b).digest()


# RULES.md §5: the ranks commitment of a two-rank job, rank 1 with GPU evidence
RANKS = [(0, b'\xa0' * 32, b'rank-0 attestation document', None),
         (1, b'\xa1' * 32, b'rank-1 attestation document', b'rank-1 gpu evidence')]
ranks_hash = sha256(b'cloakx/ranks/v1' + u32(len(RANKS)) + b''.join(
    u32(r) + x + sha256(d) + (sha256(g) if g is not None else b'\x00' * 32)
    for r, x, d, g in RANKS))
print(ranks_hash.hex())


a1 = bytes.fromhex('160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac')
a2 = bytes.fromhex('29287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e8202')
blob = base64.urlsafe_b64decode('M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk=')
rows = sorted([(a2, 800), (a1, 1200)])
# rejected contributions: (contributor, blob id, reason class), strictly ascending by
# (contributor, blob id) with the blob ids compared bytewise, a prefix first
rejected = sorted([(a2, b'blob-b', 3), (a1, b'\x09' * 32, 1), (a2, b'blob', 6)])
mets = [(b'accuracy', 912345), (b'auc', 871000)]
for version in (3, 2):
    st = bytes([version]) + b'\x11' * 32 + b'\x22' * 32 + vec(b'\x33' * 48) + vec(b'\x44' * 32)
    st += vec(b'\x55' * 32) + vec(blob) + vec(b'\x77' * 32) + vec(b'')
    if version >= 3:
        st += vec(ranks_hash)  # ranks_hash, right after gpu_evidence_hash
    st += uleb(len(rows)) + b''.join(a + u64(r) for a, r in rows)
    st += uleb(len(rejected)) + b''.join(a + vec(b) + bytes([r]) for a, b, r in rejected)
    st += uleb(len(mets)) + b''.join(vec(n) + u64(v) for n, v in mets)
    st += u64(3000000) + u64(10000000)
    msg = bytes([0]) + u64(1764115200000) + st
    sig = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).sign(msg)
    print(len(msg))
    print(msg.hex())
    print(sig.hex())
