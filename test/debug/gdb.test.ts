// gdb --args node app.js and gdb -p <pid> name the code dlswap loaded (docs/debugging.md, "gdb").
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import {
  APP,
  GDB,
  PARK_LINE,
  TOOL_MS,
  attachUntilParked,
  expectFaultNamed,
  gdbOutput,
  parked,
  run,
  title,
  unavailable,
  withTempBase,
  withTempBaseAsync,
} from './tools';

const gdbMissing = unavailable('gdb', ['-batch', '-nx', '-ex', 'echo']);

describe(title('gdb', gdbMissing), () => {
  it.skipIf(gdbMissing).each(ISOLATION_MODES)(
    '%s: gdb --args node app.js names both generations at their breakpoints, and the fault in the old one with its file:line',
    (mode) => {
      const out = withTempBase((_dir, env) =>
        gdbOutput(
          run(
            'gdb',
            [
              ...GDB,
              '-ex',
              'set breakpoint pending on',
              '-ex',
              'break debuggee_version',
              '-ex',
              'run',
              '-ex',
              'info symbol $pc',
              '-ex',
              'continue',
              '-ex',
              'info symbol $pc',
              '-ex',
              'continue',
              '-ex',
              'bt 3',
              '-ex',
              'info symbol $pc',
              '--args',
              process.execPath,
              APP,
              mode,
              'fault',
              'old',
            ],
            { env },
          ),
        ),
      );
      // Generation 1, then generation 2, each from its own copy, with source lines.
      expect(out).toMatch(/debuggee_version in section \.text of \S+libdebuggee_v1\.so/);
      expect(out).toMatch(/debuggee_version in section \.text of \S+libdebuggee_v2\.so/);
      expect(out).toMatch(/debuggee_version \(\) at \S*debuggee\.c:\d+/);
      expect(out).toMatch(/received signal SIGSEGV/);
      expectFaultNamed(out);
    },
    TOOL_MS * 2,
  );

  it.for(ISOLATION_MODES)(
    '%s: gdb -p <pid> names the old generation a thread waits in, with its file:line',
    { skip: gdbMissing !== '', timeout: TOOL_MS * 3 },
    async (mode, ctx) => {
      await withTempBaseAsync(async (_dir, env) => {
        const app = await parked(mode, env);
        try {
          const out = attachUntilParked(app.pid);
          if (/ptrace: Operation not permitted/.test(out)) ctx.skip('ptrace is not permitted here (kernel.yama.ptrace_scope); see docs/debugging.md');
          expect(out).toMatch(new RegExp(`debuggee_park \\(seconds=.*\\) at \\S*debuggee\\.c:${PARK_LINE}`));
          // Both generations' copies, their symbols read.
          expect(out).toMatch(/Yes\s+\S+libdebuggee_v1\.so/);
          expect(out).toMatch(/Yes\s+\S+libdebuggee_v2\.so/);
        } finally {
          await app.stop();
        }
      });
    },
  );
});
