/**
 * `npm run demo` / `dlswap demo`: loads two generations of the shipped fixture library in each
 * isolation mode, side by side, and swaps between them, printing what each mode isolates.
 * It builds nothing: the fixtures were built by `npm ci`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { open, type Library } from '../library';
import { ISOLATION_MODES } from '../isolation';
import { packageRoot } from '../native';

function fixture(name: string): string {
  return path.join(packageRoot, 'build', 'fixtures', name);
}

export async function runDemo(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  if (!fs.existsSync(fixture('libbasic_v1.so'))) {
    process.stderr.write('dlswap demo: the fixture libraries are missing; run `npm run build:fixtures` (npm ci builds them).\n');
    return 1;
  }
  const rounds = argv.includes('--quick') ? 4 : 20;
  let failures = 0;
  const rows: string[][] = [['mode', 'swaps', 'calls', 'failed', 'v1/v2 isolated', "node's crc32 interposes", 'all unloaded']];
  for (const mode of ISOLATION_MODES) {
    // glibc does not reclaim a fresh namespace's static TLS in FIFO order: the open-new/close-old
    // pattern runs out after about 11 generations with default tunables (docs/isolation.md).
    const swaps = mode === 'fresh-namespace' ? Math.min(rounds, 6) : rounds;
    let current: Library = open(fixture('libbasic_v1.so'), { isolation: mode });
    let calls = 0;
    let unloaded = true;
    for (let i = 1; i <= swaps; i++) {
      const want = (i % 2) + 1;
      const next = open(fixture(`libbasic_v${want}.so`), { isolation: mode });
      // Both generations are mapped here: the old one still answers with its own code.
      const oldVersion = current.func('int version(void)')();
      const newVersion = next.func('int version(void)')();
      const add = next.func('int add(int a, int b)');
      for (let k = 0; k < 1000; k++) if (add(k, 1) !== k + 1) failures++;
      calls += 1002;
      if (oldVersion === newVersion) failures++;
      const r = await current.close();
      unloaded &&= r.unloaded;
      current = next;
    }
    const v1 = open(fixture('libbasic_v1.so'), { isolation: mode });
    const v2 = open(fixture('libbasic_v2.so'), { isolation: mode });
    const isolated = v1.func('int call_internal(void)')() === 100 && v2.func('int call_internal(void)')() === 200;
    const crc = open(fixture('libcrc_clash.so'), { isolation: mode });
    const interposed = crc.func('unsigned long call_crc32(void)')() === 0n;
    for (const l of [v1, v2, crc, current]) unloaded = (await l.close()).unloaded && unloaded;
    rows.push([mode, String(swaps), String(calls), String(failures), isolated ? 'yes' : 'NO', interposed ? 'yes' : 'no', unloaded ? 'yes' : 'no']);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) out.write(r.map((cell, c) => cell.padEnd(widths[c])).join('  ') + '\n');
  out.write(failures === 0 ? '\nzero failed calls\n' : `\n${failures} failed calls\n`);
  return failures === 0 ? 0 : 1;
}
