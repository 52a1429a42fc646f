// validate_graphql.mjs QUERIES.json — every query text the C GraphQL client sends is valid
// against the Sui GraphQL schema that @mysten/sui 2.33.1 ships (src/graphql/generated).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, parse, validate } from 'graphql';

// run from beside node_modules (test_chain_sui_graphql.sh copies it there)
const sdk = join(dirname(fileURLToPath(import.meta.url)), 'node_modules', '@mysten', 'sui');
const schema = buildSchema(readFileSync(join(sdk, 'src/graphql/generated/schema.graphql'), 'utf8'));
const queries = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let bad = 0;
for (const q of queries) {
    const errors = validate(schema, parse(q));
    for (const err of errors) console.error(`INVALID: ${err.message}\n  in: ${q}`);
    bad += errors.length ? 1 : 0;
}
console.log(`validate_graphql.mjs: ${queries.length - bad} of ${queries.length} queries valid against @mysten/sui's schema`);
process.exitCode = bad || queries.length === 0 ? 1 : 0;
