// perf record + perf report name the code dlswap loaded (docs/debugging.md, "perf").
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { APP, TOOL_MS, run, title, unavailable, withTempBase } from './tools';

// perf can sample this user's processes with a software clock (no PMU needed: CI machines are VMs).
const perfMissing = unavailable('perf', ['record', '-e', 'cpu-clock', '-q', '-o', '/dev/null', 'true']);

describe(title('perf record + perf report', perfMissing), () => {
  it.skipIf(perfMissing).each(ISOLATION_MODES)(
    '%s: samples in the old generation are reported against its copy and function',
    (mode) => {
      withTempBase((dir, env) => {
        const data = path.join(dir, 'perf.data');
        // -N: no build-id cache in ~/.debug; perf report then reads the copy itself, which outlives
        // the process (it exits with the library open).
        const rec = run('perf', ['record', '-e', 'cpu-clock', '-N', '-q', '-o', data, '--', process.execPath, APP, mode, 'spin', 'old'], { env });
        expect(rec.status, rec.stderr).toBe(0);
        const rep = run('perf', ['report', '-i', data, '--stdio', '--sort', 'dso,sym']);
        expect(rep.stdout).toMatch(/libdebuggee_v1\.so\s+\[\.\] debuggee_spin_inner/);
      });
    },
    TOOL_MS,
  );
});
