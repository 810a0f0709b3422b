// examples/c-testing, run by vitest in a child process as a user would run it (docs/testing.md): a C
// library with a planted bug, built by make from the test run's globalSetup, each test with a fresh
// instance. The faulting test is one failed test with the fault report, the other four pass, under
// both of vitest's pools with their default settings; a compile error is a failed run showing the
// compiler's output; watch mode rebuilds on a .c change and reruns with the new build.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { root } from '../helpers';

const EXAMPLE = path.join(root, 'examples', 'c-testing');
const VITEST = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const ENV = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CI: '' };
delete (ENV as Record<string, string | undefined>).VITEST_POOL_ID;

const scratch: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  // Also when a test timed out before its own cleanup: no watcher outlives its test.
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the example, with dlswap and vitest installed as a user's project would have them. */
function project(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-c-testing-'));
  scratch.push(dir);
  fs.cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => src !== path.join(EXAMPLE, 'build') });
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'dlswap'));
  fs.symlinkSync(path.join(root, 'node_modules', 'vitest'), path.join(dir, 'node_modules', 'vitest'));
  return dir;
}

function vitestRun(dir: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [VITEST, 'run', ...args], { cwd: dir, encoding: 'utf8', env: ENV, timeout: 180_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

const hasAddr2line = spawnSync('addr2line', ['--version']).status === 0;

describe('examples/c-testing', () => {
  it.each(['forks', 'threads'])(
    'pool %s: the faulting test fails with the fault report, the four others pass, exit 1',
    (pool) => {
      const dir = project();
      const r = vitestRun(dir, [`--pool=${pool}`]);
      expect(r.signal).toBeNull();
      expect(r.status).toBe(1);
      expect(r.out).toMatch(/Tests\s+1 failed \| 4 passed \(5\)/);
      expect(r.out).toMatch(/FAIL\s+test\/stack\.test\.ts > stack > returns -1 when popping an empty stack/);
      expect(r.out).toMatch(/stack_pop\(\) raised SIGSEGV \(address not mapped\) reading address 0x0 at stack_pop\+0x[0-9a-f]+ in .*libstack\.so/);
      if (hasAddr2line) expect(r.out).toMatch(/stack_pop \(.*src\/stack\.c:\d+\)/);
    },
    400_000,
  ); // above vitestRun's hang guard

  it('a compile error is a failed run that shows the compiler output; no test runs the previous build', () => {
    const dir = project();
    expect(vitestRun(dir).status).toBe(1); // a first build exists now
    const source = path.join(dir, 'src', 'stack.c');
    fs.writeFileSync(source, fs.readFileSync(source, 'utf8').replace('return top == NULL ? 0', 'return top == NULL ? 0 +'));
    const r = vitestRun(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/ERR_DLSWAP_BUILD_FAILED|the build of libstack\.so failed/);
    expect(r.out).toMatch(/src\/stack\.c:\d+:\d+: error:/);
    expect(r.out).not.toMatch(/\d+ passed/);
  }, 400_000);

  it('watch mode rebuilds when a .c file changes and reruns with the new build, without a restart', async () => {
    const dir = project();
    const child = spawn(process.execPath, [VITEST, 'watch'], { cwd: dir, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const until = async (re: RegExp, what: string) => {
      // A hang guard, far above the seconds this takes on a loaded machine.
      for (let i = 0; i < 1200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      if (!re.test(out)) throw new Error(`watch mode never printed ${what}:\n${out}`);
    };
    try {
      await until(/Tests\s+1 failed \| 4 passed \(5\)[\s\S]*Watching for file changes/, 'the first run');
      const source = path.join(dir, 'src', 'stack.c');
      fs.writeFileSync(source, fs.readFileSync(source, 'utf8').replace('  int value = *top;', '  if (top == NULL) return -1;\n  int value = *top;'));
      await until(/RERUN[\s\S]*Tests\s+5 passed \(5\)/, 'a rerun with the fixed build');
    } finally {
      child.kill('SIGKILL');
    }
  }, 300_000); // above the two hang guards of 120 s each
});
