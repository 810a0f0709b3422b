// The runnable examples of docs/hot-reload.md and docs/jobs/*.md: each `<!-- example: name -->` js
// block is written to build/examples-docs/ (inside the package, so that `import ... from 'dlswap'`
// resolves to this checkout) and run with node from the repository root; it must print what its
// `<!-- output: name -->` block says. (docs/types.md and docs/callbacks.md have their own runner,
// test/call/examples_ffi.test.ts.)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';

interface Example {
  doc: string;
  name: string;
  code: string;
  output: string | null;
}

const docs = ['docs/hot-reload.md', ...fs.readdirSync(path.join(root, 'docs', 'jobs')).map((f) => `docs/jobs/${f}`)];
const all: Example[] = docs.flatMap((doc) => {
  const text = fs.readFileSync(path.join(root, doc), 'utf8');
  return [...text.matchAll(/<!-- example: ([\w-]+) -->\n```js\n([\s\S]*?)```/g)].map((m) => {
    const output = new RegExp(`<!-- output: ${m[1]} -->\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(text);
    return { doc, name: m[1], code: m[2], output: output ? output[1].replace(/\n$/, '') : null };
  });
});
const dir = path.join(root, 'build', 'examples-docs');

describe('docs examples (hot reload, jobs)', () => {
  it('include the handles, the connection pool and the side-by-side versions, each with its output', () => {
    expect(all.map((e) => e.name)).toEqual(expect.arrayContaining(['handles-and-generations', 'pool-migrates', 'two-versions']));
    for (const e of all) expect(e.output, `${e.doc} ${e.name} has no output block`).not.toBeNull();
    expect(new Set(all.map((e) => e.name)).size).toBe(all.length);
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
