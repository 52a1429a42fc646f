// parse_move.cjs NODE_MODULES FILE... — parses Move sources with the tree-sitter Move grammar
// that @mysten/prettier-plugin-move ships; prints every syntax error as FILE:LINE:COL and
// exits 1 if there is any, 0 when all files parse.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
    const [modules, ...files] = process.argv.slice(2);
    if (!modules || files.length === 0) {
        console.error('usage: parse_move.cjs NODE_MODULES FILE...');
        process.exit(2);
    }
    const Parser = require(path.join(modules, 'web-tree-sitter'));
    await Parser.init();
    const grammar = path.join(modules, '@mysten', 'prettier-plugin-move', 'tree-sitter-move.wasm');
    const parser = new Parser();
    parser.setLanguage(await Parser.Language.load(grammar));
    let errors = 0;
    for (const file of files) {
        const tree = parser.parse(fs.readFileSync(file, 'utf8'));
        const stack = [tree.rootNode];
        while (stack.length) {
            const node = stack.pop();
            if (node.type === 'ERROR' || node.isMissing()) {
                const p = node.startPosition;
                const what = node.isMissing() ? `missing ${node.type}` : 'unexpected';
                const text = node.text.split('\n')[0].slice(0, 60);
                console.log(`${file}:${p.row + 1}:${p.column + 1}: syntax error: ${what} '${text}'`);
                errors++;
            } else if (node.hasError()) {
                for (let i = node.childCount - 1; i >= 0; i--) stack.push(node.child(i));
            }
        }
    }
    console.log(`parse_move: ${files.length} file(s), ${errors} syntax error(s)`);
    process.exitCode = errors ? 1 : 0; // not exit(): it can cut piped output
}

main().catch((err) => {
    console.error(`parse_move: ${err.stack || err}`);
    process.exit(2);
});
