// The examples of docs/types.md and docs/callbacks.md run, against libraries installed on the
// machine (libc through libsqlite3, libsqlite3, libcurl) and the fixtures, and print what the docs
// say they print. Each `<!-- example: name -->` block, with the blocks that continue it
// (test/docs/doc_blocks.ts), is written to build/examples-ffi/ (inside the package, so that
// `import ... from 'dlswap'` resolves to this checkout) and run with node.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';
import { ffiExamples } from '../docs/doc_blocks';

const all = ffiExamples();
const dir = path.join(root, 'build', 'examples-ffi');

describe('docs examples', () => {
  it('include the four against real libraries', () => {
    expect(all.map((e) => e.name)).toEqual(expect.arrayContaining(['qsort', 'sqlite3-exec', 'curl-write', 'struct-round-trip']));
    for (const e of all) expect(e.output, `${e.doc} ${e.name} has no output block`).not.toBeNull();
  });

  it.each(all.map((e) => [`${e.doc}: ${e.name}`, e] as const))('%s runs and prints what the docs say', (_, e) => {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${e.name}.mjs`);
    fs.writeFileSync(file, e.code);
    const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.replace(/\n$/, '')).toBe(e.output);
  });
});
