// Libraries that load modules at run time (issue 22, H2): dlopen(..., RTLD_GLOBAL) from code inside a
// namespace crashed glibc 2.36 (add_to_global_resize: the namespace had no main search list). The
// runtime gives every namespace dlswap makes a global scope, so RTLD_GLOBAL means what it means in a
// process of its own: the module's symbols are found by dlsym(RTLD_DEFAULT), through dlopen(NULL),
// and by modules loaded after it. docs/isolation.md, "Plugin loaders inside a namespace".
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import { open, type Library } from '../../lib/load/library';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { fixture, runChild, underAsan } from '../helpers';

const LOADER = fixture('libplugin_loader.so');
const MODULE = fixture('libpl_module.so');
const DEPENDENT = fixture('libpl_dependent.so');
const NAMESPACE_MODES: Isolation[] = ['namespace', 'fresh-namespace'];
const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

const loaderFunctions = {
  openGlobal: 'int loader_open_global(const char *module)',
  callDefault: 'int loader_call_default(const char *symbol)',
  callSelf: 'int loader_call_self(const char *symbol)',
  openDependent: 'int loader_open_dependent(const char *module, const char *symbol)',
  openByRunpath: 'int loader_open_by_runpath(const char *name, const char *symbol)',
  dlmopenBase: 'long loader_dlmopen_base(const char *module)',
  closeAll: 'int loader_close_all(void)',
} as const;

// Each test closes what it opened before the next one starts: a dlsym(RTLD_DEFAULT) that finds the
// module makes the library depend on it, and in local the module is in node's own global scope as
// long as the library that looked it up is loaded.
const opened: Library[] = [];
afterEach(async () => {
  for (const lib of opened.splice(0)) await lib.close();
});
function loader(isolation: Isolation) {
  const lib = open(LOADER, { isolation });
  opened.push(lib);
  const fn = Object.fromEntries(Object.entries(loaderFunctions).map(([k, sig]) => [k, lib.func(sig)])) as Record<
    keyof typeof loaderFunctions,
    (...args: unknown[]) => number
  >;
  return { lib, fn };
}

describe.each(modes)('a library that loads a module with RTLD_GLOBAL, %s', (mode) => {
  it('finds the module through dlsym(RTLD_DEFAULT) and dlopen(NULL), and a module loaded later binds to it', () => {
    const { fn } = loader(mode);
    expect(fn.callDefault('pl_module_answer')).toBe(-2); // not loaded yet: nothing to find
    expect(fn.openGlobal(MODULE)).toBe(0);
    expect(fn.callDefault('pl_module_answer')).toBe(4242);
    expect(fn.callSelf('pl_module_answer')).toBe(4242);
    // libpl_dependent.so does not link libpl_module.so: it loads only if the global scope has it.
    expect(fn.openDependent(DEPENDENT, 'pl_dependent_answer')).toBe(4243);
    expect(fn.closeAll()).toBe(2);
  });

  // Under ASan, a dlopen in node's namespace goes through libasan's interceptor, which glibc then
  // takes for the caller: a bare name is searched along libasan's RUNPATH, with or without dlswap.
  it.skipIf(underAsan && mode === 'local')("a bare name is searched along the library's own RUNPATH: glibc still sees the library as the caller", () => {
    const { fn } = loader(mode);
    expect(fn.openByRunpath('libpl_rp_module.so', 'pl_rp_answer')).toBe(77);
    expect(fn.closeAll()).toBe(1);
  });
});

describe.each(NAMESPACE_MODES)('inside a namespace (%s)', (mode) => {
  it("dlmopen(LM_ID_BASE) opens in the library's own namespace, never node's", () => {
    const { lib, fn } = loader(mode);
    expect(fn.dlmopenBase(MODULE)).toBe(BigInt(lib.info.lmid));
    expect(fn.callDefault('pl_module_answer')).toBe(4242);
    expect(fn.closeAll()).toBe(1);
  });

  it("the module's symbols stay in the namespace: node's own lookups do not see them", () => {
    const { fn } = loader(mode);
    expect(fn.openGlobal(MODULE)).toBe(0);
    // A library opened in local mode looks through node's global scope, where the namespace's module
    // must not be.
    const probe = loader('local');
    expect(probe.fn.callDefault('pl_module_answer')).toBe(-2);
    expect(fn.closeAll()).toBe(1);
  });

  it('closed, the namespace gives its global scope back: the next namespace starts without the module', async () => {
    const first = loader(mode);
    expect(first.fn.openGlobal(MODULE)).toBe(0);
    expect(first.fn.closeAll()).toBe(1);
    const closed = await first.lib.close();
    if (mode === 'fresh-namespace') expect(closed).toMatchObject({ unloaded: true, namespaceFreed: true });
    opened.splice(opened.indexOf(first.lib), 1);
    const next = loader(mode);
    expect(next.fn.callDefault('pl_module_answer')).toBe(-2);
    expect(next.fn.openGlobal(MODULE)).toBe(0);
    expect(next.fn.callDefault('pl_module_answer')).toBe(4242);
    expect(next.fn.closeAll()).toBe(1);
  });

  it('HotLibrary: every generation of 3 reloads loads the module and finds it through the global scope', async () => {
    const hot = await HotLibrary.open(LOADER, { isolation: mode, functions: loaderFunctions });
    try {
      for (let generation = 1; generation <= 4; generation++) {
        expect(hot.fn.openGlobal(MODULE)).toBe(0);
        expect(hot.fn.callDefault('pl_module_answer')).toBe(4242);
        expect(hot.fn.callSelf('pl_module_answer')).toBe(4242);
        expect(hot.fn.openDependent(DEPENDENT, 'pl_dependent_answer')).toBe(4243);
        expect(hot.fn.closeAll()).toBe(2);
        if (generation < 4) await hot.reload();
      }
    } finally {
      await hot.close();
    }
  });

  it('NODE_DEBUG=dlswap says what the runtime did with each call', () => {
    const r = runChild(
      `const lib = dlswap.open(${JSON.stringify(LOADER)}, { isolation: ${JSON.stringify(mode)} });
       lib.func('int loader_open_global(const char *m)')(${JSON.stringify(MODULE)});
       lib.func('int loader_call_self(const char *s)')('pl_module_answer');
       lib.func('long loader_dlmopen_base(const char *m)')(${JSON.stringify(DEPENDENT)});
       lib.func('int loader_open_by_runpath(const char *name, const char *symbol)')('libpl_rp_module.so', 'pl_rp_answer');
       lib.close().then(() => console.log('closed'));`,
      { env: { NODE_DEBUG: 'dlswap' } },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('closed\n');
    const lines = r.stderr.split('\n').filter((l) => l.includes('runtime:'));
    const base = path.basename(LOADER);
    expect(lines.some((l) => l.includes(`${base} called dlopen("${MODULE}", RTLD_NOW|RTLD_GLOBAL)`) && l.includes('global scope'))).toBe(true);
    expect(lines.some((l) => l.includes(`${base} called dlopen(NULL)`) && l.includes("not node's executable"))).toBe(true);
    expect(lines.some((l) => l.includes(`${base} called dlmopen(LM_ID_BASE, "${DEPENDENT}"`))).toBe(true);
    expect(lines.some((l) => l.includes(`${base} called dlopen("libpl_rp_module.so", RTLD_NOW|RTLD_GLOBAL)`))).toBe(true);
    // Every call is the library's, said once: dlswap's own steps on its behalf (origin.c looking a
    // bare name up along the library's RUNPATH) are not calls to report.
    expect(lines.filter((l) => !l.includes(`${base} called `))).toEqual([]);
    expect(lines).toHaveLength(4);
  });
});

// Real libraries that do it: oneTBB loads its allocator (libtbbmalloc) with RTLD_GLOBAL on first
// use; GModule opens modules with RTLD_GLOBAL unless told G_MODULE_BIND_LOCAL.
const TBB_ALLOCATE = 'void *_ZN3tbb6detail2r115allocate_memoryEm(size_t n)'; // tbb::detail::r1::allocate_memory
const TBB_FREE = 'void _ZN3tbb6detail2r117deallocate_memoryEPv(void *p)';
const TBB_USES_MALLOC = 'bool _ZN3tbb6detail2r117is_tbbmalloc_usedEv(void)';

describe.each(NAMESPACE_MODES)('real plugin loaders, %s', (mode) => {
  it('oneTBB: the first allocation loads libtbbmalloc with RTLD_GLOBAL, plain and over 3 reloads', async () => {
    // In a child: libtbbmalloc stays loaded for good once TBB has it (TBB never unloads it).
    const r = runChild(
      `(async () => {
         const plain = dlswap.open('libtbb.so.12', { isolation: ${JSON.stringify(mode)} });
         const p = plain.func(${JSON.stringify(TBB_ALLOCATE)})(100n);
         const used = plain.func(${JSON.stringify(TBB_USES_MALLOC)})();
         plain.func(${JSON.stringify(TBB_FREE)})(p);
         await plain.close();
         const hot = await dlswap.HotLibrary.open('libtbb.so.12', { isolation: ${JSON.stringify(mode)},
           functions: { alloc: ${JSON.stringify(TBB_ALLOCATE)}, free: ${JSON.stringify(TBB_FREE)}, used: ${JSON.stringify(TBB_USES_MALLOC)} } });
         const generations = [];
         for (let i = 0; i < 4; i++) {
           const q = hot.fn.alloc(4096n);
           generations.push(q !== 0n && hot.fn.used());
           hot.fn.free(q);
           if (i < 3) await hot.reload();
         }
         await hot.close();
         console.log(JSON.stringify({ plain: p !== 0n && used, generations }));
       })();`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ plain: true, generations: [true, true, true, true] });
  });

  it('GModule: g_module_open(file, 0) is RTLD_GLOBAL; g_module_open(NULL) then finds the module, and a later module binds to it', () => {
    const r = runChild(
      `const gm = dlswap.open('libgmodule-2.0.so.0', { isolation: ${JSON.stringify(mode)} });
       const gopen = gm.func('void *g_module_open(const char *file, int flags)');
       const gsym = gm.func('int g_module_symbol(void *module, const char *name, void **symbol)');
       const mod = gopen(${JSON.stringify(MODULE)}, 0);
       const a = new BigUint64Array(1), b = new BigUint64Array(1), c = new BigUint64Array(1);
       const found = gsym(mod, 'pl_module_answer', a);
       const self = gopen(null, 0);
       const viaSelf = gsym(self, 'pl_module_answer', b);
       const dep = gopen(${JSON.stringify(DEPENDENT)}, 2 /* G_MODULE_BIND_LOCAL */);
       const depFound = dep !== 0n ? gsym(dep, 'pl_dependent_answer', c) : -1;
       console.log(JSON.stringify({ found, viaSelf, same: a[0] === b[0] && a[0] !== 0n, depFound }));`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ found: 1, viaSelf: 1, same: true, depFound: 1 });
  });
});
