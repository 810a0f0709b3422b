// What `require('dlswap')` loads (the addon, the error type, the isolation modes, the fault points)
// and that everything else arrives on first use behind exports that act as the real ones: functions
// that forward, classes whose `new`, `extends`, statics and `instanceof` are the real class's
// (lib/lazy.ts). What it costs beside koffi is measured by bench/startup.mjs, not here.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, root } from '../helpers';

const dist = path.join(root, 'dist');

function child(script: string, esm = false): string {
  const r = spawnSync(process.execPath, esm ? ['--input-type=module', '-e', script] : ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`child failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The package's own modules in require.cache, relative to dist/ (the addon by its file name). */
const LOADED = `(() => Object.keys(require.cache).filter((f) => f.startsWith(${JSON.stringify(dist + path.sep)})).map((f) => f.slice(${dist.length + 1})).sort())()`;

describe("require('dlswap')", () => {
  it('loads the addon, the error type and the constants, and no loader, call, hot, analysis or watch module', () => {
    const loaded = JSON.parse(child(`require(${JSON.stringify(path.join(dist, 'index.js'))}); process.stdout.write(JSON.stringify(${LOADED}))`)) as string[];
    expect(loaded).toEqual(['debug.js', 'errors.js', 'faults.js', 'index.js', 'isolation_modes.js', 'lazy.js', 'native.js', 'platform.js']);
  });

  it('loads the loader and the call machinery on the first open(), and the analysis only on inspect()', () => {
    const out = JSON.parse(
      child(`const d = require(${JSON.stringify(path.join(dist, 'index.js'))});
const lib = d.open(${JSON.stringify(fixture('libbasic_v1.so'))});
const add = lib.func('int add(int a, int b)');
const afterOpen = ${LOADED};
d.inspect(${JSON.stringify(fixture('libbasic_v1.so'))});
process.stdout.write(JSON.stringify({ sum: add(2, 3), afterOpen, afterInspect: ${LOADED} }));`),
    ) as { sum: number; afterOpen: string[]; afterInspect: string[] };
    expect(out.sum).toBe(5);
    expect(out.afterOpen).toContain('load/library.js');
    expect(out.afterOpen).toContain('signature/signature_parser.js');
    expect(out.afterOpen.filter((f) => f.startsWith('analysis/') || f.startsWith('cli/'))).toEqual([]);
    expect(out.afterInspect).toContain('analysis/inspect.js');
  });

  it('lazy classes are the real classes to new, extends, statics and instanceof, from CommonJS and ESM', () => {
    const script = (load: string) => `${load}
const lib = d.open(${JSON.stringify(fixture('libbasic_v1.so'))});
const inner = require(${JSON.stringify(path.join(dist, 'load', 'library.js'))});
const reg = d.types('struct p { int x; };');
class Mine extends d.HotLibrary {}
const report = {
  libraryIsReal: lib instanceof d.Library && lib instanceof inner.Library,
  notInstance: ({}) instanceof d.Library,
  registry: reg instanceof d.TypeRegistry,
  staticOpen: typeof d.HotLibrary.open,
  name: d.HotLibrary.name,
  subclassStatic: Mine.open === d.HotLibrary.open,
  protoIsReal: d.Library.prototype === inner.Library.prototype,
  error: new d.DlswapError('ERR_DLSWAP_ARG', 'x') instanceof Error,
  fn: d.open.name,
};
process.stdout.write(JSON.stringify(report));`;
    const cjs = JSON.parse(child(script(`const d = require(${JSON.stringify(path.join(dist, 'index.js'))});`))) as Record<string, unknown>;
    const esm = JSON.parse(
      child(
        script(`import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(path.join(root, 'package.json'))});
const d = await import(${JSON.stringify(path.join(root, 'esm', 'index.mjs'))});`),
        true,
      ),
    ) as Record<string, unknown>;
    const expected = {
      libraryIsReal: true,
      notInstance: false,
      registry: true,
      staticOpen: 'function',
      name: 'HotLibrary',
      subclassStatic: true,
      protoIsReal: true,
      error: true,
      fn: 'open',
    };
    expect(cjs).toEqual(expected);
    expect(esm).toEqual(expected);
  });
});
