// examples/side-by-side, run the way its README does (`make`, then `node main.mjs`): the system's
// SQLite and a newer one built from the amalgamation better-sqlite3 ships, queried side by side in
// one process; the HotLibrary on the system's is upgraded to the new build while both keep serving.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';

const example = path.join(root, 'examples', 'side-by-side');
const header = path.join(root, 'node_modules', 'better-sqlite3', 'deps', 'sqlite3', 'sqlite3.h');

/** "3.54.1" from a version line of the output, or of sqlite3.h. */
const version = (text: string, re: RegExp) => re.exec(text)?.[1] ?? '';
const older = (a: string, b: string) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i];
  return false;
};

describe('examples/side-by-side', () => {
  it('two SQLite versions answer side by side, and one is upgraded while both serve', () => {
    // The optimiser is the one thing changed from the README's `make`: the suite need not spend a minute on -O2.
    const make = spawnSync('make', ['CFLAGS=-O0'], { cwd: example, encoding: 'utf8', timeout: 300_000 });
    expect(make.status, `${make.stdout}\n${make.stderr}`).toBe(0);
    const run = spawnSync(process.execPath, ['main.mjs'], { cwd: example, encoding: 'utf8', timeout: 120_000 });
    expect(run.stderr).toBe('');
    expect(run.status, run.stdout).toBe(0);
    const out = run.stdout;
    console.log(out);

    const bundled = version(fs.readFileSync(header, 'utf8'), /#define SQLITE_VERSION\s+"([\d.]+)"/);
    const [before, after] = out.split(/^after /m);
    const system = version(before, /version\s+app: ([\d.]+)/);
    expect(version(before, /version\s+app: [\d.]+\s+bundled: ([\d.]+)/)).toBe(bundled);
    expect(older(system, bundled)).toBe(true);
    if (older(system, '3.46.0')) expect(before).toMatch(/json_pretty \(3\.46\+\)\s+app: error: no such function: json_pretty\s+bundled: \{ "a": \[ 1, 2 \] \}/);
    expect(out).toMatch(/generation 1 unloaded: true/);
    expect(out).toContain(`(versions ${system} then ${bundled}), bundled`);
    expect(out).toMatch(/queries during the upgrade: app \d+ .* failed 0$/m);
    expect(version(after, /version\s+app: ([\d.]+)/)).toBe(bundled);
    expect(after).toMatch(/json_pretty \(3\.46\+\)\s+app: \{ "a": \[ 1, 2 \] \}/);
  }, 600_000);
});
