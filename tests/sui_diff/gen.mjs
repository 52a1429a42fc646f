// gen.mjs SEED COUNT OUT — random Sui transactions built and signed with @mysten/sui 2.33.1:
// for each case the program (inputs, commands, gas, sender key) that test_chain_sui_diff.c
// rebuilds in C, and what the SDK made of it (bytes, digests, signature, keys).
import { writeFileSync } from 'node:fs';
import { blake2b } from '@noble/hashes/blake2.js';
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519';
import { messageWithIntent } from '@mysten/sui/cryptography';
import { Inputs, Transaction, TransactionDataBuilder } from '@mysten/sui/transactions';
import { fromBase64, toBase58, toBase64, toHex } from '@mysten/sui/utils';

const [seedArg, countArg, out] = process.argv.slice(2);
let state = BigInt(seedArg) & 0xffffffffffffffffn;
// splitmix64: deterministic for a seed, the same in every Node version
function next64() {
    state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    return z ^ (z >> 31n);
}
const int = (n) => Number(next64() % BigInt(n)); // 0..n-1
const pick = (a) => a[int(a.length)];
const bytes = (n) => Uint8Array.from({ length: n }, () => int(256));
// u64s near the edges as often as in the middle
const u64 = () => pick([0n, 1n, 0xffffffffffffffffn, next64(), next64() >> BigInt(int(64))]);
const hexAddr = () => '0x' + toHex(bytes(32));
const shortAddr = () => pick(['0x1', '0x2', '0x' + int(4096).toString(16), hexAddr()]);
const ident = () => {
    const first = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
    const rest = first + '0123456789';
    let s = first[int(first.length)];
    const n = int(pick([4, 12, 40]));
    for (let i = 0; i < n; i++) s += rest[int(rest.length)];
    return s;
};

function typeTag(depth) {
    const prims = ['bool', 'u8', 'u16', 'u32', 'u64', 'u128', 'u256', 'address'];
    const r = depth > 3 ? 0 : int(10);
    if (r < 5) return pick(prims);
    if (r < 7) return `vector<${typeTag(depth + 1)}>`;
    const params = [];
    const n = r === 9 ? 1 + int(3) : 0;
    for (let i = 0; i < n; i++) params.push(typeTag(depth + 1));
    return `${shortAddr()}::${ident()}::${ident()}` + (n ? `<${params.join(', ')}>` : '');
}

function pureValue() {
    switch (int(10)) {
        case 0: return { type: 'u8', value: String(int(256)) };
        case 1: return { type: 'u16', value: String(int(65536)) };
        case 2: return { type: 'u32', value: String(Number(next64() & 0xffffffffn)) };
        case 3: return { type: 'u64', value: u64().toString() };
        case 4: return { type: 'u128', value: ((next64() << 64n) | next64()).toString() };
        case 5: return { type: 'u256', value: ((next64() << 192n) | (next64() << 64n) | next64()).toString() };
        case 6: return { type: 'bool', value: int(2) ? 'true' : 'false' };
        case 7: return { type: 'address', value: hexAddr() };
        case 8: return { type: 'string', value: Array.from({ length: int(pick([3, 40, 300])) }, () => pick(['a', 'Z', '0', ' ', 'é', '€', '_'])).join('') };
        default: return { type: 'vector<u8>', value: toHex(bytes(pick([0, 1, 32, 200]))) };
    }
}

function pure(tx, p) {
    switch (p.type) {
        case 'u8': return tx.pure.u8(Number(p.value));
        case 'u16': return tx.pure.u16(Number(p.value));
        case 'u32': return tx.pure.u32(Number(p.value));
        case 'u64': return tx.pure.u64(BigInt(p.value));
        case 'u128': return tx.pure.u128(BigInt(p.value));
        case 'u256': return tx.pure.u256(BigInt(p.value));
        case 'bool': return tx.pure.bool(p.value === 'true');
        case 'address': return tx.pure.address(p.value);
        case 'string': return tx.pure.string(p.value);
        default: return tx.pure.vector('u8', Array.from(Buffer.from(p.value, 'hex')));
    }
}

const ref = () => ({ objectId: hexAddr(), version: u64().toString(), digest: toBase58(bytes(32)) });

// One random program: inputs (made in this order) and commands over them; `arg` names an
// input {input:i}, the gas coin {gas:true}, or a command result {result:c, sub:k|null}.
function program() {
    const inputs = [];
    const nIn = int(8);
    for (let i = 0; i < nIn; i++) {
        const k = int(4);
        if (k <= 1) inputs.push({ kind: 'pure', ...pureValue() });
        else if (k === 2) inputs.push({ kind: pick(['owned', 'receiving']), ...ref() });
        else inputs.push({ kind: 'shared', objectId: hexAddr(), initialSharedVersion: u64().toString(), mutable: !!int(2) });
    }
    const commands = [];
    const results = []; // nested results usable later
    const anyArg = () => {
        const r = int(10);
        if (r === 0) return { gas: true };
        if (r < 3 && results.length) return pick(results);
        if (inputs.length) return { input: int(inputs.length) };
        return { gas: true };
    };
    const nCmd = 1 + int(5);
    for (let c = 0; c < nCmd; c++) {
        const k = int(5);
        if (k === 0 || k === 4) {
            const nT = int(3), nA = int(5);
            commands.push({
                kind: 'moveCall', package: shortAddr(), module: ident(), function: ident(),
                typeArguments: Array.from({ length: nT }, () => typeTag(0)),
                arguments: Array.from({ length: nA }, anyArg),
            });
            if (int(2)) results.push({ result: c, sub: null });
        } else if (k === 1) {
            // split from the gas coin (or an object), amounts as fresh pure u64 inputs
            const n = 1 + int(3);
            const amounts = [];
            for (let i = 0; i < n; i++) {
                inputs.push({ kind: 'pure', type: 'u64', value: u64().toString() });
                amounts.push({ input: inputs.length - 1 });
            }
            commands.push({ kind: 'splitCoins', coin: int(3) ? { gas: true } : anyArg(), amounts });
            for (let i = 0; i < n; i++) results.push({ result: c, sub: i });
        } else if (k === 2) {
            inputs.push({ kind: 'pure', type: 'address', value: hexAddr() });
            const address = { input: inputs.length - 1 };
            commands.push({ kind: 'transferObjects', objects: Array.from({ length: 1 + int(3) }, anyArg), address });
        } else if (int(2)) {
            commands.push({ kind: 'mergeCoins', destination: anyArg(), sources: Array.from({ length: 1 + int(3) }, anyArg) });
        } else {
            commands.push({ kind: 'makeMoveVec', type: int(2) ? typeTag(0) : null, elements: Array.from({ length: int(4) }, anyArg) });
            results.push({ result: c, sub: null });
        }
    }
    return { inputs, commands };
}

function build(tx, prog) {
    const made = prog.inputs.map((i) => {
        if (i.kind === 'pure') return pure(tx, i);
        if (i.kind === 'owned') return tx.object(Inputs.ObjectRef(i));
        if (i.kind === 'receiving') return tx.object(Inputs.ReceivingRef(i));
        return tx.object(Inputs.SharedObjectRef(i));
    });
    const cmdResults = [];
    const arg = (a) => {
        if (a.gas) return tx.gas;
        if (a.input !== undefined) return made[a.input];
        const r = cmdResults[a.result];
        return a.sub === null ? r : r[a.sub];
    };
    for (const c of prog.commands) {
        let r;
        if (c.kind === 'moveCall')
            r = tx.moveCall({ target: `${c.package}::${c.module}::${c.function}`, typeArguments: c.typeArguments, arguments: c.arguments.map(arg) });
        else if (c.kind === 'splitCoins') r = tx.splitCoins(arg(c.coin), c.amounts.map(arg));
        else if (c.kind === 'transferObjects') r = tx.transferObjects(c.objects.map(arg), arg(c.address));
        else if (c.kind === 'mergeCoins') r = tx.mergeCoins(arg(c.destination), c.sources.map(arg));
        else r = tx.makeMoveVec({ type: c.type ?? undefined, elements: c.elements.map(arg) });
        cmdResults.push(r);
    }
}

const cases = [];
const count = Number(countArg);
for (let n = 0; n < count; n++) {
    const seed = bytes(32);
    const kp = Ed25519Keypair.fromSecretKey(seed);
    const prog = program();
    const c = {
        case: n,
        key_seed: toHex(seed),
        gas_owner: int(4) ? null : hexAddr(),
        gas_payment: Array.from({ length: 1 + int(4) }, ref),
        gas_price: u64().toString(),
        gas_budget: u64().toString(),
        // the SDK reads an Epoch expiration back as a JS number (bcs.mjs unsafe_u64): only
        // epochs below 2^53 survive its decoder, so check.mjs could not test larger ones
        expiration_epoch: int(3) ? null : (u64() & 0x1fffffffffffffn).toString(),
        ...prog,
    };
    const tx = new Transaction();
    tx.setSender(kp.toSuiAddress());
    if (c.gas_owner) tx.setGasOwner(c.gas_owner);
    tx.setGasPayment(c.gas_payment);
    tx.setGasPrice(BigInt(c.gas_price));
    tx.setGasBudget(BigInt(c.gas_budget));
    if (c.expiration_epoch !== null) tx.setExpiration({ Epoch: c.expiration_epoch });
    build(tx, prog);
    const txBytes = await tx.build();
    const signed = await kp.signTransaction(txBytes);
    const serialized = fromBase64(signed.signature);
    c.sdk = {
        address: kp.toSuiAddress(),
        suiprivkey: kp.getSecretKey(),
        tx_bytes: toBase64(txBytes),
        intent_digest: toHex(blake2b(messageWithIntent('TransactionData', txBytes), { dkLen: 32 })),
        tx_digest: TransactionDataBuilder.getDigestFromBytes(txBytes),
        signature: toHex(serialized.slice(1, 65)),
        serialized_signature: signed.signature,
    };
    cases.push(c);
}
writeFileSync(out, JSON.stringify({ seed: seedArg, sdk: '@mysten/sui 2.33.1', cases }, null, 1));
console.log(`gen.mjs: ${count} transactions from seed ${seedArg}`);
