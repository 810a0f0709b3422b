// Process-wide registries in a system library every generation would share (issue 22, H5): a load
// gives each generation its own copy of the registry's library, and of every system library that
// needs it (lib/load/registries.ts, native/loader/registry_plan.h; docs/isolation.md, "Process-wide
// registries"). With the real libgflags and libglog (Debian: libgflags2.2, libgoogle-glog0v6, which
// .ci/run installs). Every case runs in a child: a second registration in a shared registry ends the
// process.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Isolation } from '../../lib/load/isolation';
import { fixture, runChild, underAsan } from '../helpers';
import { addon } from '../../lib/native';
import { registryRules } from '../../lib/load/registries';

const GFLAGS_V1 = fixture('libgflags_user_v1.so');
const GFLAGS_V2 = fixture('libgflags_user_v2.so');
const GLOG_V1 = fixture('libglog_user_v1.so');
const GLOG_V2 = fixture('libglog_user_v2.so');
const COPYING: Isolation[] = ['local', 'namespace'];

it('the fixtures are built (Debian: libgflags2.2, libgoogle-glog0v6 and libglib2.0-0, which .ci/run installs)', () => {
  for (const f of [GFLAGS_V1, GLOG_V1, fixture('libquark_user_v1.so')])
    expect(fs.existsSync(f), `${f} missing: install the packages and rebuild the fixtures`).toBe(true);
});

/** Mappings of libgflags or libglog in the child, whatever their file (the system's or a copy). */
const MAPPED = `() => require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => /lib(gflags|glog)/.test(l)).length`;

describe.each(COPYING)('%s: each generation gets its own copy of the registry', (mode) => {
  it('gflags: three reloads register the flag again, each in its own libgflags; every copy is unmapped at close', () => {
    const r = runChild(
      `(async () => {
         const mapped = ${MAPPED};
         const lib = dlswap.open(${JSON.stringify(GFLAGS_V1)}, { isolation: ${JSON.stringify(mode)} });
         const dep = lib.info.dependencies.find((d) => d.name === 'libgflags.so.2.2');
         await lib.close();
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(GFLAGS_V1)}, { isolation: ${JSON.stringify(mode)}, functions: { flag: 'int gflags_user_flag(void)' } });
         const errors = [];
         const flags = [];
         for (let i = 0; i < 3; i++) {
           await hot.reload(${JSON.stringify(GFLAGS_V2)}).catch((e) => errors.push(e.cause ? e.cause.code : e.code));
           flags.push(hot.fn.flag());
         }
         const during = mapped();
         await hot.close();
         const gens = hot.generations().map((g) => g.unloaded);
         console.log(JSON.stringify({ kind: dep.kind, registry: dep.registry, reason: dep.reason, errors, flags, during: during > 0, after: mapped(), gens }));
       })();`,
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ kind: 'private', registry: "gflags' flag registry", errors: [], flags: [1, 1, 1], during: true, after: 0 });
    expect(out.gens).toEqual([true, true, true, true]);
    expect(out.reason).toMatch(/^a system library that holds gflags' flag registry, in which the library registers \(_ZN6google14FlagRegisterer/);
    expect(r.stderr).not.toMatch(/linked both statically and dynamically/);
  });

  it("glog: libglog needs libgflags, so it is copied too, and its flags are in the generation's registry", () => {
    const r = runChild(
      `(async () => {
         const functions = { version: 'int glog_user_version(void)', own: 'int glog_user_own_flag(void)', glog: 'int glog_user_glog_flag(void)', severity: 'const char *glog_user_severity(int severity)' };
         const lib = dlswap.open(${JSON.stringify(GLOG_V1)}, { isolation: ${JSON.stringify(mode)} });
         const deps = Object.fromEntries(lib.info.dependencies.filter((d) => d.kind === 'private').map((d) => [d.name, { registry: d.registry, reason: d.reason }]));
         await lib.close();
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(GLOG_V1)}, { isolation: ${JSON.stringify(mode)}, functions });
         const seen = [];
         const look = () => seen.push([hot.fn.version(), hot.fn.own(), hot.fn.glog(), hot.fn.severity(2)]);
         look();
         for (const v of [${JSON.stringify(GLOG_V2)}, ${JSON.stringify(GLOG_V1)}, ${JSON.stringify(GLOG_V2)}]) { await hot.reload(v); look(); }
         await hot.close();
         console.log(JSON.stringify({ deps, seen }));
       })();`,
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.deps).sort()).toEqual(['libgflags.so.2.2', 'libglog.so.1']);
    expect(out.deps['libgflags.so.2.2'].registry).toBe("gflags' flag registry");
    expect(out.deps['libglog.so.1']).toEqual({
      registry: null,
      reason: expect.stringMatching(/^a system library that needs libgflags\.so\.2\.2, of which each generation gets its own copy/),
    });
    // [version, its own flag's default (= version) as its registry holds it, glog's minloglevel (0)
    // in that same registry, glog's name for severity 2].
    expect(out.seen).toEqual([
      [1, 1, 0, 'ERROR'],
      [2, 2, 0, 'ERROR'],
      [1, 1, 0, 'ERROR'],
      [2, 2, 0, 'ERROR'],
    ]);
  });
});

it('fresh-namespace: every dependency is loaded anew anyway, so nothing is copied for the registry', () => {
  const r = runChild(
    `(async () => {
       const hot = await dlswap.HotLibrary.open(${JSON.stringify(GLOG_V1)}, { isolation: 'fresh-namespace', functions: { own: 'int glog_user_own_flag(void)', glog: 'int glog_user_glog_flag(void)' } });
       await hot.reload(${JSON.stringify(GLOG_V2)});
       const lib = dlswap.open(${JSON.stringify(GLOG_V1)}, { isolation: 'fresh-namespace' });
       console.log(JSON.stringify({ own: hot.fn.own(), glog: hot.fn.glog(), kinds: lib.info.dependencies.filter((d) => /gflags|glog/.test(d.name)).map((d) => d.kind) }));
       await lib.close();
       await hot.close();
     })();`,
  );
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ own: 2, glog: 0, kinds: ['system', 'system'] });
});

it.skipIf(underAsan)('deepbind: refused up front, naming the copy, the registry and the mode that works (libgflags imports std::cerr)', () => {
  const r = runChild(
    `const before = dlswap.open(${JSON.stringify(fixture('libbasic_v1.so'))}, { isolation: 'local' });
     try { dlswap.open(${JSON.stringify(GFLAGS_V1)}, { isolation: 'deepbind' }); console.log(JSON.stringify({ opened: true })); }
     catch (e) {
       const mapped = require('fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => /lib(gflags|gflags_user)/.test(l)).length;
       console.log(JSON.stringify({ code: e.code, message: e.message, mapped }));
     }`,
  );
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.code).toBe('ERR_DLSWAP_UNSAFE_MODE');
  expect(out.message).toMatch(
    /its private dependency \S+libgflags\.so\.2\.2 \(a system library each generation gets its own copy of: it holds gflags' flag registry/,
  );
  expect(out.message).toMatch(/Use isolation 'namespace'/);
  expect(out.mapped).toBe(0);
});

describe.each(COPYING)('%s: a registry that keeps pointers into the registrant', (mode) => {
  it("GLib's quark table: every generation stays mapped, so an old generation's quark still names its string", () => {
    const r = runChild(
      `(async () => {
         const functions = { register: 'unsigned quark_user_register(void)', name: 'const char *quark_user_name(unsigned quark)' };
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(fixture('libquark_user_v1.so'))}, { isolation: ${JSON.stringify(mode)}, functions });
         const first = hot.fn.register();
         await hot.reload(${JSON.stringify(fixture('libquark_user_v2.so'))});
         const names = [hot.fn.name(first), hot.fn.name(hot.fn.register())];
         await hot.close();
         console.log(JSON.stringify({ names, gens: hot.generations().map((g) => [g.unloaded, g.pinnedReason]) }));
       })();`,
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.names).toEqual(['dlswap-quark-user-1', 'dlswap-quark-user-2']);
    for (const [unloaded, why] of out.gens) {
      expect(unloaded).toBe(false);
      expect(why).toMatch(/GLib's quark table \(g_quark_from_static_string, in libglib-2\.0\.so\.0\), which keeps pointers into its image/);
    }
  });
});

describe('the plan, in this process (where test:valgrind and test:asan look at it)', () => {
  it('a registry and what needs it are private; with shareDependencies, or no registries, they stay system', () => {
    const kinds = (share: string[], rules = registryRules()) =>
      Object.fromEntries(
        addon
          .planDependencies(GLOG_V1, share, false, rules)
          .dependencies.filter((d) => /gflags|glog/.test(d.name))
          .map((d) => [d.name, [d.kind, d.registry]]),
      );
    expect(kinds([])).toEqual({ 'libglog.so.1': ['private', null], 'libgflags.so.2.2': ['private', "gflags' flag registry"] });
    expect(kinds(['libgflags.so.2.2'])).toEqual({ 'libglog.so.1': ['system', null], 'libgflags.so.2.2': ['shared', null] });
    expect(kinds([], [])).toEqual({ 'libglog.so.1': ['system', null], 'libgflags.so.2.2': ['system', null] });
  });
});
