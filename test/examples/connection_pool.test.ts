// examples/connection-pool, run the way its README does (`node main.mjs`): a pool of SQLite
// connections (the system's libsqlite3.so.0) serving 16 async workers while SQLite is reloaded 20
// times. Each connection's handles follow their generation; the pool replaces a connection of an
// old generation once it is idle; every old generation unloads once its last connection is closed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers';

const example = path.join(root, 'examples', 'connection-pool');
const count = (text: string) => Number(text.replace(/,/g, ''));

describe('examples/connection-pool', () => {
  it('0 failed queries over 20 reloads, and every old generation unloads once its connections are closed', () => {
    const run = spawnSync(process.execPath, ['main.mjs'], { cwd: example, encoding: 'utf8', timeout: 300_000 });
    console.log(run.stdout);
    expect(run.stderr).toBe('');
    expect(run.status, run.stdout).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/^SQLite 3\.[\d.]+ \(libsqlite3\.so\.0\), namespace isolation: 8 connections, 16 async workers, 20 reloads$/m);
    const reloads = [...out.matchAll(/^reload +(\d+): generation (\d+) -> (\d+) in [\d.]+ ms; \d+ connections in use stayed on generation (\d+)$/gm)];
    expect(reloads.map((m) => [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])])).toEqual(
      Array.from({ length: 20 }, (_, i) => [i + 1, i + 1, i + 2, i + 1]),
    );
    const totals = /^queries: ([\d,]+), failed: 0; rows each connection counted in its own database: ([\d,]+)$/m.exec(out);
    expect(totals, out).not.toBeNull();
    expect(count(totals![1])).toBeGreaterThan(0);
    expect(count(totals![2])).toBe(count(totals![1]));
    const unloaded =
      /^old generations unloaded: (\d+) of 20 \((\d+) once their last connection was closed, (\d+) never had one\); 0 while a connection was open$/m.exec(out);
    expect(unloaded, out).not.toBeNull();
    expect(Number(unloaded![1])).toBe(20);
    expect(Number(unloaded![2]) + Number(unloaded![3])).toBe(20);
    expect(Number(unloaded![2])).toBeGreaterThan(0);
  }, 600_000);
});
