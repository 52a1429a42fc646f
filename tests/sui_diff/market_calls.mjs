// market_calls.mjs OUT — every call of the cloakx_market package (chain/move) built with
// @mysten/sui 2.33.1 from fixed parameters; test_chain_sui_diff --market builds the same with
// chain/sui_market.c and compares the bytes.
import { writeFileSync } from 'node:fs';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { Inputs, Transaction } from '@mysten/sui/transactions';
import { toBase58, toBase64, toHex } from '@mysten/sui/utils';

const fill = (byte, n) => new Uint8Array(n).fill(byte);
const hex = (b) => toHex(b);
const P = {
    package: '0x' + 'ab'.repeat(32),
    market: { id: '0x' + 'cd'.repeat(32), isv: '7' },
    pool: { id: '0x' + 'ee'.repeat(32), isv: '9' },
    job: { id: '0x' + 'f1'.repeat(32), isv: '11' },
    enclave: { objectId: '0x' + '12'.repeat(32), version: '3', digest: toBase58(fill(0x34, 32)) },
    gas: { objectId: '0x' + '56'.repeat(32), version: '5', digest: toBase58(fill(0x78, 32)) },
    theme: 'wearables and cardiac risk', price: '1000', k: '3', rows: '1000', op_bps: '500',
    proto_bps: '100', measurements: [hex(fill(0xaa, 48)), hex(fill(0xbb, 48))],
    operator: '0x' + 'a0'.repeat(32),
    require_dp: true, max_epsilon_micro: '8000000', forbidden: ['ssn', 'zip code'],
    max_params: '100000000', max_epochs: '10000', max_flops: '10000000000000000', sealing: 2,
    doc: hex(fill(0x84, 200)), x25519: hex(fill(0x99, 32)), endorsement: hex(fill(0x98, 64)),
    doc_sha256: hex(fill(0x22, 32)), doc_blob: hex(new TextEncoder().encode('walrus-doc-0001')),
    blob: hex(new TextEncoder().encode('blob-1')), spec_hash: hex(fill(0x55, 32)),
    spec_blob: hex(new TextEncoder().encode('spec')), payment: '100000', deadline: '1760003600000',
    msg: hex(fill(0x01, 100)), sig: hex(fill(0x02, 64)), statement: hex(fill(0x03, 300)),
    key_release: hex(fill(0x04, 150)), key_sig: hex(fill(0x05, 64)),
};
const kp = Ed25519Keypair.fromSecretKey(Uint8Array.from({ length: 32 }, (_, i) => i));
const bytes = (h) => Array.from(Buffer.from(h, 'hex'));
const T = ['0x2::sui::SUI'];
const target = (f) => `${P.package}::market::${f}`;

function base() {
    const tx = new Transaction();
    tx.setSender(kp.toSuiAddress());
    tx.setGasPayment([P.gas]);
    tx.setGasPrice(1000);
    tx.setGasBudget(50000000);
    return tx;
}
const shared = (tx, r, mutable) => tx.object(Inputs.SharedObjectRef({ objectId: r.id, initialSharedVersion: r.isv, mutable }));
const clock = (tx) => tx.object(Inputs.SharedObjectRef({ objectId: '0x6', initialSharedVersion: 1, mutable: false }));
const enclave = (tx) => tx.object(Inputs.ObjectRef(P.enclave));
const u8s = (tx, h) => tx.pure.vector('u8', bytes(h));

const calls = {
    create_pool(tx) {
        tx.moveCall({ target: target('create_pool'), typeArguments: T, arguments: [
            u8s(tx, hex(new TextEncoder().encode(P.theme))), tx.pure.u64(P.price), tx.pure.u64(P.k),
            tx.pure.u64(P.rows), tx.pure.u64(P.op_bps), tx.pure.u64(P.proto_bps),
            tx.pure.vector('vector<u8>', P.measurements.map(bytes)), tx.pure.address(P.operator),
            tx.pure.bool(P.require_dp), tx.pure.u64(P.max_epsilon_micro),
            tx.pure.vector('vector<u8>', P.forbidden.map((n) => Array.from(new TextEncoder().encode(n)))),
            tx.pure.u64(P.max_params), tx.pure.u64(P.max_epochs), tx.pure.u64(P.max_flops), tx.pure.u8(P.sealing), clock(tx)] });
    },
    register_enclave(tx) {
        const d = u8s(tx, P.doc);
        const c = clock(tx);
        const doc = tx.moveCall({ target: '0x2::nitro_attestation::load_nitro_attestation', arguments: [d, c] });
        tx.moveCall({ target: target('register_enclave'), arguments: [shared(tx, P.market, true), doc,
            u8s(tx, P.x25519), u8s(tx, P.endorsement), u8s(tx, P.doc_sha256), u8s(tx, P.doc_blob), c] });
    },
    add_pool_enclave(tx) {
        tx.moveCall({ target: target('add_pool_enclave'), typeArguments: T, arguments: [shared(tx, P.pool, true), enclave(tx), clock(tx)] });
    },
    register_contribution(tx) {
        tx.moveCall({ target: target('register_contribution'), typeArguments: T, arguments: [shared(tx, P.pool, true), u8s(tx, P.blob), clock(tx)] });
    },
    create_job(tx) {
        const [pay] = tx.splitCoins(tx.gas, [tx.pure.u64(P.payment)]);
        tx.moveCall({ target: target('create_job'), typeArguments: T, arguments: [shared(tx, P.pool, false),
            u8s(tx, P.spec_hash), u8s(tx, P.spec_blob), pay, tx.pure.u64(P.deadline), clock(tx)] });
    },
    accept_job(tx) {
        tx.moveCall({ target: target('accept_job'), typeArguments: T, arguments: [shared(tx, P.job, true),
            shared(tx, P.pool, false), enclave(tx), u8s(tx, P.msg), u8s(tx, P.sig), clock(tx)] });
    },
    fail_job(tx) {
        tx.moveCall({ target: target('fail_job'), typeArguments: T, arguments: [shared(tx, P.job, true),
            enclave(tx), u8s(tx, P.msg), u8s(tx, P.sig), clock(tx)] });
    },
    submit_result(tx) {
        tx.moveCall({ target: target('submit_result'), typeArguments: T, arguments: [shared(tx, P.market, false),
            shared(tx, P.job, true), shared(tx, P.pool, false), enclave(tx), u8s(tx, P.statement),
            u8s(tx, P.sig), u8s(tx, P.key_release), u8s(tx, P.key_sig), clock(tx)] });
    },
    refund_expired(tx) {
        tx.moveCall({ target: target('refund_expired'), typeArguments: T, arguments: [shared(tx, P.job, true), clock(tx)] });
    },
};

const out = { params: P, calls: {} };
for (const [name, build] of Object.entries(calls)) {
    const tx = base();
    build(tx);
    out.calls[name] = toBase64(await tx.build());
}
writeFileSync(process.argv[2], JSON.stringify(out, null, 1));
console.log(`market_calls.mjs: ${Object.keys(calls).length} calls of cloakx_market built with @mysten/sui`);
