// gdb node core names the code dlswap loaded, after the process died (docs/debugging.md, "Core files").
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { APP, FAULT_LINE, GDB, PARK_LINE, TOOL_MS, attachUntilParked, gdbOutput, parked, run, title, unavailable, withTempBaseAsync } from './tools';

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

describe(title(`gdb node core, after the process died (core files written by ${coreSource})`, gdbMissing), () => {
  it.skipIf(gdbMissing).each(ISOLATION_MODES)(
    '%s: the core file names the old generation, its function and file:line',
    async (mode) => {
      await withTempBaseAsync(async (dir, env) => {
        let core = '';
        let expected: RegExp;
        if (!('why' in CORES)) {
          // The process faults in the old generation and the kernel dumps it.
          const started = Date.now();
          const r = run('sh', ['-c', 'ulimit -c unlimited && exec "$0" "$@"', process.execPath, APP, mode, 'fault', 'old'], { env, cwd: dir });
          expect(r.signal ?? r.status).toBe('SIGSEGV');
          const where = CORES.dir(dir);
          const made = fs
            .readdirSync(where)
            .filter((f) => f.startsWith(CORES.prefix) && fs.statSync(path.join(where, f)).mtimeMs >= started - 1000)
            .sort((a, b) => Number(b.includes(String(r.pid))) - Number(a.includes(String(r.pid))));
          expect(made, `no core file ${CORES.prefix}* in ${where}`).not.toHaveLength(0);
          core = path.join(where, made[0]);
          expected = new RegExp(`ring_len \\(r=.*\\) at \\S*debuggee\\.c:${FAULT_LINE}`);
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
          expected = new RegExp(`debuggee_park \\(seconds=.*\\) at \\S*debuggee\\.c:${PARK_LINE}`);
        }
        try {
          const out = gdbOutput(run('gdb', [...GDB, '-ex', 'thread 1', '-ex', 'bt', '-ex', 'info sharedlibrary debuggee', process.execPath, core]));
          expect(out).toMatch(expected);
          expect(out).toMatch(/Yes\s+\S+libdebuggee_v1\.so/);
          expect(out).not.toMatch(/Could not load shared library symbols/);
        } finally {
          fs.rmSync(core, { force: true });
        }
      });
    },
    TOOL_MS * 3,
  );
});

