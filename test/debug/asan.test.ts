// AddressSanitizer's reports name the code dlswap loaded (docs/debugging.md, "AddressSanitizer").
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Isolation } from '../../lib/load/isolation';
import { underAsan } from '../helpers';
import { APP, FAULT_LINE, TOOL_MS, run, title, withTempBase } from './tools';

const libasan = run('gcc', ['-print-file-name=libasan.so']).stdout?.trim() ?? '';
const asanMissing = underAsan
  ? 'the suite runs under ASan (npm run test:asan), with the ASan addon; npm test runs these'
  : path.isAbsolute(libasan) && fs.existsSync(libasan)
    ? ''
    : 'libasan is not installed (gcc -print-file-name=libasan.so)';

describe(title('AddressSanitizer (node run with libasan preloaded)', asanMissing), () => {
  // node installs its own SIGSEGV handler (WebAssembly traps); allow_user_segv_handler=0 keeps
  // ASan's, which reports the fault.
  const asanEnv = { LD_PRELOAD: libasan, ASAN_OPTIONS: 'detect_leaks=0:allow_user_segv_handler=0' };

  it.skipIf(asanMissing)(
    'local: the report names the function and its file:line',
    () => {
      withTempBase((_dir, env) => {
        const r = run(process.execPath, [APP, 'local', 'fault', 'old'], { env: { ...env, ...asanEnv } });
        expect(r.stderr).toMatch(/AddressSanitizer: SEGV on unknown address/);
        expect(r.stderr).toMatch(new RegExp(`#0 0x[0-9a-f]+ in ring_len \\S*debuggee\\.c:${FAULT_LINE}`));
        expect(r.stderr).toMatch(/#1 0x[0-9a-f]+ in debuggee_fault \S*debuggee\.c:\d+/);
      });
    },
    TOOL_MS,
  );

  // ASan lists modules with dl_iterate_phdr, which reports its caller's namespace only: a frame in
  // another namespace is printed as (file+offset), and the file is there to symbolize it.
  it.skipIf(asanMissing).each(['namespace', 'fresh-namespace'] as Isolation[])(
    '%s: the report names the copy and offset, which addr2line turns into the function and file:line',
    (mode) => {
      withTempBase((_dir, env) => {
        const r = run(process.execPath, [APP, mode, 'fault', 'old'], { env: { ...env, ...asanEnv } });
        expect(r.stderr).toMatch(/AddressSanitizer: SEGV on unknown address/);
        const frame = /#0 0x[0-9a-f]+ +\((\S+libdebuggee_v1\.so)\+(0x[0-9a-f]+)\)/.exec(r.stderr);
        expect(frame, r.stderr).not.toBeNull();
        const a2l = run('addr2line', ['-f', '-e', frame![1], frame![2]]);
        expect(a2l.stdout).toMatch(new RegExp(`^ring_len\\n\\S*debuggee\\.c:${FAULT_LINE}`));
      });
    },
    TOOL_MS,
  );

  it.skipIf(asanMissing)(
    'deepbind: refused under ASan, with the mode to use',
    () => {
      const r = run(process.execPath, [APP, 'deepbind', 'fault', 'old'], { env: asanEnv });
      expect(r.stderr).toMatch(/ERR_DLSWAP_MODE_UNSUPPORTED/);
    },
    TOOL_MS,
  );
});
