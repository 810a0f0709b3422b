// gdb node core names the code dlswap loaded, after the process died (docs/debugging.md, "Core files").
//
// A fault in a call through dlswap is contained (docs/faults.md): the call throws ERR_DLSWAP_FAULT,
// the process goes on, and no core is written. So the process that dies here faults where
// containment does not apply, in a thread the library started itself; and a contained fault's
// core is had the way docs/debugging.md says, from gdb stopped at the signal.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { fixture } from '../helpers';
import {
  APP,
  FAULT_LINE,
  GDB,
  PARK_LINE,
  THREAD_LINE,
  TOOL_MS,
  attachUntilParked,
  gdbOutput,
  parked,
  run,
  title,
  unavailable,
  withTempBaseAsync,
} from './tools';

const gdbMissing = unavailable('gdb', ['-batch', '-nx', '-ex', 'echo']);

/**
 * Where the kernel writes a core file of a process started in `cwd`, or why it cannot be had
 * (then gdb's gcore writes one of a live process, and the test reads it after the process died).
 */
function kernelCores(): { dir: (cwd: string) => string; prefix: string } | { why: string } {
  let pattern = '';
  try {
    pattern = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim();
  } catch {
    return { why: 'no /proc/sys/kernel/core_pattern' };
  }
  if (pattern.startsWith('|')) return { why: `core_pattern hands cores to ${pattern.slice(1).split(' ')[0]}` };
  const hard = run('sh', ['-c', 'ulimit -H -c']).stdout.trim();
  if (hard === '0') return { why: 'the hard core size limit is 0' };
  const absolute = pattern.startsWith('/');
  const dir = path.dirname(pattern);
  if (absolute && (dir.includes('%') || !fs.existsSync(dir))) return { why: `core_pattern's directory ${dir} is not there` };
  const base = path.basename(pattern);
  return { dir: (cwd) => (absolute ? dir : cwd), prefix: base.slice(0, base.includes('%') ? base.indexOf('%') : base.length) };
}
const CORES = kernelCores();
const coreSource = 'why' in CORES ? `gcore, because ${CORES.why}` : 'the kernel';

/** The app, run with core dumps allowed, in `cwd`; and the core files the kernel wrote for it. */
function runDumping(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const started = Date.now();
  const r = run('sh', ['-c', 'ulimit -c unlimited && exec "$0" "$@"', process.execPath, APP, ...args], { env, cwd });
  let cores: string[] = [];
  if (!('why' in CORES)) {
    const where = CORES.dir(cwd);
    cores = fs
      .readdirSync(where)
      .filter((f) => f.startsWith(CORES.prefix) && fs.statSync(path.join(where, f)).mtimeMs >= started - 1000)
      .sort((a, b) => Number(b.includes(String(r.pid))) - Number(a.includes(String(r.pid))))
      .map((f) => path.join(where, f));
  }
  return { r, cores };
}

const readCore = (core: string, first: string[] = []) =>
  gdbOutput(run('gdb', [...GDB, ...first, '-ex', 'bt', '-ex', 'info sharedlibrary debuggee', process.execPath, core]));

describe(title(`gdb node core, after the process died (core files written by ${coreSource})`, gdbMissing), () => {
  it.skipIf(gdbMissing).each(ISOLATION_MODES)(
    '%s: the core file names the old generation, its function and file:line',
    async (mode) => {
      await withTempBaseAsync(async (dir, env) => {
        let core = '';
        let out = '';
        try {
          if (!('why' in CORES)) {
            // A thread the old generation started faults, outside any call through dlswap: not
            // contained, reported once, and the process dies with the signal and its core.
            const { r, cores } = runDumping([mode, 'crash', 'old'], env, dir);
            expect(r.signal ?? r.status, r.stderr).toBe('SIGSEGV');
            expect(r.stderr).toMatch(/dlswap: SIGSEGV .*ring_len\+0x0 in \S+libdebuggee_v1\.so \(generation 1\).*outside any call through dlswap/);
            expect(cores, `no core file ${CORES.prefix}* in ${CORES.dir(dir)}`).not.toHaveLength(0);
            core = cores[0];
            // gdb starts in the thread that took the signal.
            out = readCore(core);
            expect(out).toMatch(new RegExp(`ring_len \\(r=.*\\) at \\S*debuggee\\.c:${FAULT_LINE}`));
            expect(out).toMatch(new RegExp(`in ring_worker \\(arg=.*\\) at \\S*debuggee\\.c:${THREAD_LINE}`));
          } else {
            const app = await parked(mode, env);
            try {
              attachUntilParked(app.pid);
              const g = run('gcore', ['-o', path.join(dir, 'core'), String(app.pid)]);
              expect(g.status, g.stderr).toBe(0);
              core = path.join(dir, `core.${app.pid}`);
            } finally {
              await app.stop(); // SIGKILL: no exit handler runs, as in a crash
            }
            out = readCore(core, ['-ex', 'thread 1']);
            expect(out).toMatch(new RegExp(`debuggee_park \\(seconds=.*\\) at \\S*debuggee\\.c:${PARK_LINE}`));
          }
          expect(out).toMatch(/Yes\s+\S+libdebuggee_v1\.so/);
          expect(out).not.toMatch(/Could not load shared library symbols/);
        } finally {
          if (core) fs.rmSync(core, { force: true });
        }
      });
    },
    TOOL_MS * 3,
  );

  // gdb stops at a signal before any handler of the process runs, in every mode (gdb.test.ts shows
  // it per mode); one mode here keeps the suite from writing a gigabyte of core per mode.
  it.skipIf(gdbMissing)(
    'local: a fault contained in a call leaves no core; gdb stopped at its signal writes one that names the function and file:line',
    async () => {
      await withTempBaseAsync(async (dir, env) => {
        const { r, cores } = runDumping(['local', 'fault', 'old'], env, dir);
        for (const c of cores) fs.rmSync(c, { force: true });
        // Contained: the call threw, nothing caught it, node exited with status 1 and no core.
        expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
        expect(r.stderr).toMatch(/code: 'ERR_DLSWAP_FAULT'/);
        expect(r.stderr).toMatch(/where: 'ring_len\+0x0 in \S+libdebuggee_v1\.so'/);
        expect(cores).toEqual([]);
        // The error's innermost frame, given to addr2line with the library's own file.
        const at = /symbol: 'ring_len',[^}]*objectAddress: (\d+)/.exec(r.stderr);
        expect(at, r.stderr).not.toBeNull();
        const a2l = run('addr2line', ['-f', '-e', fixture('libdebuggee_v1.so'), `0x${Number(at![1]).toString(16)}`]);
        expect(a2l.stdout).toMatch(new RegExp(`^ring_len\\n\\S*debuggee\\.c:${FAULT_LINE}`));

        const core = path.join(dir, 'core.contained');
        try {
          const g = gdbOutput(
            run('gdb', [...GDB, '-ex', 'run', '-ex', `generate-core-file ${core}`, '-ex', 'kill', '--args', process.execPath, APP, 'local', 'fault', 'old'], {
              env,
            }),
          );
          expect(g).toMatch(/received signal SIGSEGV/);
          expect(g).toMatch(/Saved corefile/);
          const out = readCore(core);
          expect(out).toMatch(new RegExp(`ring_len \\(r=.*\\) at \\S*debuggee\\.c:${FAULT_LINE}`));
          expect(out).toMatch(/in debuggee_fault \(\) at \S*debuggee\.c:\d+/);
          expect(out).toMatch(/Yes\s+\S+libdebuggee_v1\.so/);
        } finally {
          fs.rmSync(core, { force: true });
        }
      });
    },
    TOOL_MS * 3,
  );
});
