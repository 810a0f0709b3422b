// valgrind names the code dlswap loaded (docs/debugging.md, "valgrind").
import { describe, expect, it } from 'vitest';
import type { Isolation } from '../../lib/load/isolation';
import { APP, FAULT_LINE, TOOL_MS, run, title, unavailable, withTempBase } from './tools';

const valgrindMissing = unavailable('valgrind', ['--version']);

describe(title('valgrind', valgrindMissing), () => {
  // valgrind follows the process's mmaps, whatever dlopen or dlmopen made them: `local` stands for
  // node's namespace (deepbind too), `namespace` for a namespace of dlswap's (fresh-namespace too).
  // Each run takes a minute or more; two keep the suite's time down.
  it.skipIf(valgrindMissing).each(['local', 'namespace'] as Isolation[])(
    "%s: the invalid read is reported in the old generation's function, with its file:line",
    (mode) => {
      withTempBase((_dir, env) => {
        const r = run('valgrind', ['-q', process.execPath, APP, mode, 'fault', 'old'], { env, timeout: TOOL_MS * 2 });
        expect(r.stderr).toMatch(/Invalid read of size 4/);
        expect(r.stderr).toMatch(new RegExp(`at 0x[0-9A-F]+: ring_len \\(debuggee\\.c:${FAULT_LINE}\\)`));
        expect(r.stderr).toMatch(/by 0x[0-9A-F]+: debuggee_fault \(debuggee\.c:\d+\)/);
        // Reported before the signal is delivered; then dlswap contains the fault as without valgrind.
        expect(r.stderr).toMatch(/code: 'ERR_DLSWAP_FAULT'/);
      });
    },
    TOOL_MS * 2,
  );
});
