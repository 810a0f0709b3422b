// vitest globalSetup: the code a test runs in a child process or a worker is the code it runs in
// process. vitest runs lib/ (TypeScript, transformed on the fly); children and workers run dist/ (what
// `tsc` made of lib/). A single file run with `npx vitest run test/x.test.ts` skips `npm test`'s pretest
// compile, so an edit to lib/ without `tsc` would test the new code in process and the old code in
// every child. Before any test file runs, this compiles lib/ when dist/ is older than it, and fails the
// run (no test starts) when it cannot make dist/ current.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const lib = path.join(root, 'lib');
const dist = path.join(root, 'dist');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const mtime = (p: string): number => fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? -1;

/** The sources under lib/ whose dist/ output is missing or older than them (or than tsconfig.json). */
export function staleSources(): string[] {
  const config = mtime(path.join(root, 'tsconfig.json'));
  return sources(lib).filter((src) => {
    const out = mtime(path.join(dist, path.relative(lib, src)).replace(/\.ts$/, '.js'));
    return out < 0 || out < mtime(src) || out < config;
  });
}

export default function setup(): void {
  const stale = staleSources();
  if (stale.length === 0) return;
  // Not under a sanitizer the suite may be preloading (scripts/test-asan.mjs): tsc is plain node.
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 600_000,
  });
  const left = staleSources();
  if (tsc.status !== 0 || left.length > 0) {
    throw new Error(
      `dist/ is older than lib/ (${stale.length} files, e.g. ${path.relative(root, stale[0])}) and ` +
        `\`tsc -p tsconfig.json\` did not make it current (exit ${tsc.status ?? tsc.signal}` +
        `${left.length ? `; still stale: ${left.map((f) => path.relative(root, f)).join(', ')}` : ''}). ` +
        `Child processes in the tests run dist/: fix the compile, then run the tests again.\n${tsc.stdout}${tsc.stderr}`,
    );
  }
  console.log(`compiled_dist: dist/ was older than ${stale.length} file(s) of lib/: compiled it (tsc -p tsconfig.json)`);
}
