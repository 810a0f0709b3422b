// Static TLS (issue 22, H6): a library with more initial-exec thread-local storage than glibc keeps
// for libraries loaded after start (jemalloc: 2,632 bytes; glibc keeps 1,664 by default) is refused
// in every mode, as plain dlopen refuses it, with ERR_DLSWAP_STATIC_TLS and the tunable that makes
// it load. It was ERR_DLSWAP_NAMESPACE_EXHAUSTED, "in a new link-map namespace", in every mode.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../lib/native';
import { loadFailure } from '../../lib/load/load_failure';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { staticTlsTunables } from '../../lib/load/static_tls';
import { runChild, underAsan } from '../helpers';

const JEMALLOC = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].find((f) => fs.existsSync(f));
const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));
// A child whose GLIBC_TUNABLES is exactly what the test says, whatever this process was started with.
const env = (tunables?: string) => ({ GLIBC_TUNABLES: tunables ?? '' });

describe.each(modes)('jemalloc, %s', (mode) => {
  it('is installed (Debian: libjemalloc2, which .ci/run installs)', () => {
    expect(JEMALLOC, 'libjemalloc.so.2 missing: apt-get install libjemalloc2').toBeDefined();
  });

  it('is refused with ERR_DLSWAP_STATIC_TLS, naming its static TLS and the tunable for this mode', () => {
    const r = runChild(
      `try { dlswap.open(${JSON.stringify(JEMALLOC)}, { isolation: ${JSON.stringify(mode)} }); console.log('{}'); }
       catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
      { env: env() },
    );
    expect(r.status, r.stderr).toBe(0);
    const { code, message } = JSON.parse(r.stdout);
    expect(code).toBe('ERR_DLSWAP_STATIC_TLS');
    expect(message).toContain(`cannot load ${JEMALLOC} (isolation '${mode}')`);
    expect(message).toContain('initial-exec thread-local storage, 2632 bytes of static TLS per thread');
    expect(message).toContain('glibc keeps 1664 bytes');
    expect(message).toContain(`Start node with ${staticTlsTunables(2632, mode)}`);
    expect(message).not.toContain('new link-map namespace');
    if (mode === 'fresh-namespace') expect(message).toContain("or use isolation 'namespace'");
    else expect(message).not.toContain("use isolation 'namespace'");
  });

  it('loads with the tunable the message names in the environment: plain, then 3 reloads', () => {
    const tunables = staticTlsTunables(2632, mode)!;
    const r = runChild(
      `(async () => {
         const lib = dlswap.open(${JSON.stringify(JEMALLOC)}, { isolation: ${JSON.stringify(mode)} });
         const mallocx = lib.func('void *mallocx(size_t size, int flags)'), dallocx = lib.func('void dallocx(void *p, int flags)');
         const p = mallocx(64n, 0); dallocx(p, 0);
         await lib.close();
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(JEMALLOC)}, { isolation: ${JSON.stringify(mode)},
           functions: { mallocx: 'void *mallocx(size_t size, int flags)', dallocx: 'void dallocx(void *p, int flags)' } });
         let ok = 0;
         for (let i = 0; i < 4; i++) {
           const q = hot.fn.mallocx(4096n, 0);
           if (q !== 0n) ok++;
           hot.fn.dallocx(q, 0);
           if (i < 3) await hot.reload();
         }
         await hot.close();
         console.log(JSON.stringify({ plain: p !== 0n, ok }));
       })();`,
      { env: env(tunables.replace(/^GLIBC_TUNABLES=/, '')) },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ plain: true, ok: 4 });
  });
});

describe("deepbind's copy-relocated imports", () => {
  const refused = (symbols: string[]) =>
    loadFailure(
      { ok: false, code: 'ERR_DLSWAP_UNSAFE_MODE', message: 'refused-imports', symbols } as unknown as LoadResult,
      '/x/liby.so',
      'deepbind' as Isolation,
    );

  it("environ is libc's copy, std::cout libstdc++'s", () => {
    const e = refused(['environ', '_ZSt4cout']);
    expect(e.code).toBe('ERR_DLSWAP_UNSAFE_MODE');
    expect(e.message).toContain("_ZSt4cout to libstdc++'s own copy and environ to libc's own copy");
    expect(refused(['environ']).message).not.toContain('libstdc++');
    expect(refused(['_ZSt4cerr', '_ZSt4cout']).message).toContain("to libstdc++'s own copies");
  });
});
