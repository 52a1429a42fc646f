// check.mjs CASES.json C_OUT.json — the other direction: @mysten/sui decodes the bytes the C
// client wrote (bcs.TransactionData and Transaction.from) and encodes them again unchanged.
import { readFileSync } from 'node:fs';
import { bcs } from '@mysten/sui/bcs';
import { Transaction } from '@mysten/sui/transactions';
import { fromBase64, toBase64 } from '@mysten/sui/utils';

const [casesPath, cOutPath] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const cOut = JSON.parse(readFileSync(cOutPath, 'utf8')).cases;
let failed = 0;
for (const { case: n, tx_bytes } of cOut) {
    try {
        if (!tx_bytes) throw new Error('the C side wrote no bytes');
        const bytes = fromBase64(tx_bytes);
        const parsed = bcs.TransactionData.parse(bytes);
        const again = toBase64(bcs.TransactionData.serialize(parsed).toBytes());
        if (again !== tx_bytes) throw new Error('bcs.TransactionData parse + serialize changed the bytes');
        const rebuilt = toBase64(await Transaction.from(bytes).build());
        if (rebuilt !== tx_bytes) throw new Error('Transaction.from(bytes).build() changed the bytes');
        const prog = cases.cases[n];
        const ptb = parsed.V1.kind.ProgrammableTransaction;
        if (ptb.inputs.length !== prog.inputs.length || ptb.commands.length !== prog.commands.length)
            throw new Error('input or command count differs from the program');
    } catch (err) {
        failed++;
        console.error(`FAIL case ${n} (seed ${cases.seed}): ${err.message}\nreproducer: ${JSON.stringify(cases.cases[n])}`);
    }
}
console.log(`check.mjs: @mysten/sui decoded ${cOut.length - failed} of ${cOut.length} C transactions unchanged`);
process.exitCode = failed || cOut.length === 0 ? 1 : 0; // not exit(): it can cut piped output
