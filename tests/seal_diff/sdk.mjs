// sdk.mjs — the @mysten/seal 1.4.12 side of test_seal_diff (run from beside node_modules):
//   node sdk.mjs encrypt SEED COUNT OUT.json  — a pool of 5 test key servers (master keys from
//       SEED) and COUNT random objects the SDK encrypts (1-of-1 … 3-of-5 and up, both DEMs,
//       random ids, sizes, aad, servers sometimes listed twice), with the SDK's user secret keys;
//   node sdk.mjs decrypt IN.json  — the other way: the SDK parses, re-encodes and decrypts
//       every object C encrypted (keys derived by the SDK from the pool's master keys), with
//       its full share-consistency check, and compares the plaintext.
// The SDK's public client needs a Sui network to find key servers, so its encrypt/decrypt
// modules are imported directly: the same code SealClient runs once it has the keys.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const dist = './node_modules/@mysten/seal/dist/';
const { encrypt, KemType } = await import(dist + 'encrypt.mjs');
const { decrypt } = await import(dist + 'decrypt.mjs');
const { AesGcm256, Hmac256Ctr } = await import(dist + 'dem.mjs');
const { EncryptedObject } = await import(dist + 'bcs.mjs');
const { G1Element, G2Element, Scalar } = await import(dist + 'bls12381.mjs');
const { hashToG1 } = await import(dist + 'kdf.mjs');
const { createFullId } = await import(dist + 'utils.mjs');
const { fromHex, toHex, toBase64, fromBase64 } = await import('@mysten/bcs');

const POOL = 5;

// deterministic bytes: SHA-256(seed || label || counter), so a failing case can be remade
function stream(seed, label) {
    let ctr = 0, buf = new Uint8Array(0), at = 0;
    const bytes = (n) => {
        const out = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
            if (at === buf.length) {
                buf = createHash('sha256').update(`${seed}/${label}/${ctr++}`).digest();
                at = 0;
            }
            out[i] = buf[at++];
        }
        return out;
    };
    const int = (lo, hi) => { // inclusive
        const v = bytes(4);
        return lo + (((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0) % (hi - lo + 1);
    };
    return { bytes, int };
}

function pool(seed) {
    const rnd = stream(seed, 'pool');
    const servers = [];
    for (let s = 0; s < POOL; s++) {
        const msk = rnd.bytes(32);
        msk[0] %= 0x73; // below the group order r = 0x73ed…
        const pk = G2Element.generator().multiply(Scalar.fromBytes(msk)).toBytes();
        const objectId = '0x' + toHex(rnd.bytes(32));
        servers.push({ objectId, msk: toHex(msk), pk: toHex(pk) });
    }
    return servers;
}

const uskFor = (msk, fullIdHex) =>
    hashToG1(fromHex(fullIdHex)).multiply(Scalar.fromBytes(fromHex(msk)));

async function cmdEncrypt(seed, count, outPath) {
    const servers = pool(seed);
    const rnd = stream(seed, 'cases');
    const cases = [];
    for (let c = 0; c < count; c++) {
        const n = rnd.int(1, 5);
        const t = rnd.int(1, Math.min(n, 3 + (c % 3 === 0 ? 2 : 0)));
        // mostly distinct servers; sometimes one listed twice (a weighted server)
        const chosen = [];
        for (let i = 0; i < n; i++) {
            const pick = rnd.int(0, 9) === 0 && i > 0 ? chosen[rnd.int(0, i - 1)] : (c + i) % POOL;
            chosen.push(pick);
        }
        const dem = c % 2;
        const packageId = '0x' + toHex(rnd.bytes(32));
        const id = toHex(rnd.bytes(rnd.int(0, 64)));
        const sizes = [0, 1, 31, 32, 33, rnd.int(0, 200), rnd.int(0, 5000)];
        const msg = rnd.bytes(sizes[rnd.int(0, sizes.length - 1)]);
        // SealClient.encrypt passes aad = new Uint8Array() when the caller gives none
        const aad = rnd.int(0, 2) === 0 ? new Uint8Array() : rnd.bytes(rnd.int(1, 40));
        const input = dem === 0 ? new AesGcm256(msg, aad) : new Hmac256Ctr(msg, aad);
        const { encryptedObject } = await encrypt({
            keyServers: chosen.map((s) => ({ objectId: servers[s].objectId, pk: fromHex(servers[s].pk) })),
            kemType: KemType.BonehFranklinBLS12381DemCCA,
            threshold: t,
            packageId,
            id,
            encryptionInput: input,
        });
        const fullId = createFullId(packageId, id);
        const usks = {}; // the SDK's user secret keys for C to compare with (first cases only: slow)
        if (c < 25)
            for (const s of new Set(chosen))
                usks[servers[s].objectId] = toHex(uskFor(servers[s].msk, fullId).toBytes());
        cases.push({ n, t, dem, servers: chosen, object: toBase64(encryptedObject),
                     plaintext: toBase64(msg), full_id: fullId, usks });
    }
    writeFileSync(outPath, JSON.stringify({ seed, servers, cases }));
    console.log(`sdk.mjs: @mysten/seal encrypted ${count} objects (seed ${seed})`);
}

async function cmdDecrypt(inPath) {
    const input = JSON.parse(readFileSync(inPath, 'utf8'));
    const byId = new Map(input.servers.map((s) => [s.objectId, s]));
    let ok = 0;
    const failures = [];
    for (const [i, c] of input.cases.entries()) {
        try {
            const bytes = fromBase64(c.object);
            const parsed = EncryptedObject.parse(bytes);
            const again = EncryptedObject.serialize(parsed).toBytes();
            if (toHex(again) !== toHex(bytes)) throw new Error('BCS re-encoding differs');
            const fullId = createFullId(parsed.packageId, parsed.id);
            const keys = new Map();
            for (const objectId of c.key_servers) // the subset C chose: just enough
                keys.set(`${fullId}:${objectId}`, uskFor(byId.get(objectId).msk, fullId));
            // the full consistency check (n more pairings) on every other object
            const publicKeys = i % 2 ? undefined : parsed.services.map(([objectId]) => G2Element.fromBytes(fromHex(byId.get(objectId).pk)));
            const pt = await decrypt({ encryptedObject: parsed, keys, publicKeys });
            if (toBase64(pt) !== c.plaintext) throw new Error('plaintext differs');
            ok++;
        } catch (err) {
            failures.push(i);
            console.error(`FAIL case ${i}: ${err.message}\nreproducer: ${JSON.stringify(c)}`);
        }
    }
    console.log(`sdk.mjs: @mysten/seal decrypted ${ok} of ${input.cases.length} C objects`);
    if (failures.length) process.exit(1);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'encrypt') await cmdEncrypt(args[0], Number(args[1]), args[2]);
else if (cmd === 'decrypt') await cmdDecrypt(args[0]);
else { console.error('usage: sdk.mjs encrypt SEED COUNT OUT | decrypt IN'); process.exit(2); }
