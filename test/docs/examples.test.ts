// The runnable examples of README.md and docs/ (all but those of docs/types.md and docs/callbacks.md,
// which test/call/examples_ffi.test.ts runs): each `<!-- example: name -->` js block, with the blocks
// that continue it, is written to build/examples-docs/ (inside the package, so that
// `import ... from 'dlswap'` resolves to this checkout) and run with node from the repository root,
// one child each; it must print what its `<!-- output: name -->` block says, and nothing on stderr.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';
import { examplesRunHere } from './doc_blocks';

const all = examplesRunHere();
const dir = path.join(root, 'build', 'examples-docs');

describe('docs examples', () => {
  it('include the handles pattern, the connection pool, the side-by-side versions and an aborted openAsync, each with its output', () => {
    expect(all.map((e) => e.name)).toEqual(expect.arrayContaining(['handles-and-generations', 'pool-migrates', 'two-versions', 'open-async-signal']));
    for (const e of all) expect(e.output, `${e.doc} ${e.name} has no output block`).not.toBeNull();
  });

  it.each(all.map((e) => [`${e.doc}: ${e.name}`, e] as const))('%s runs and prints what the docs say', (_, e) => {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${e.name}.mjs`);
    fs.writeFileSync(file, e.code);
    const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.replace(/\n$/, '')).toBe(e.output);
  });
});
