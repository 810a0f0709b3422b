// The npm package as a user gets it: the tarball `npm pack` makes, installed into an empty project
// on a PATH without any compiler or build tool, used from CommonJS, ESM and strict TypeScript
// against a system library found by its bare soname, and the CLI (--version, doctor, demo). The
// prebuild packed is the one made from the addon this checkout just built (scripts/prebuilds.mjs
// --from-build): never a committed binary.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../helpers';

const tag = `linux-${process.arch}`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-package-'));
const app = path.join(work, 'app');
const bin = path.join(work, 'bin');
// What a machine without a toolchain lacks.
const TOOLS = /^(cc|c\+\+|gcc|g\+\+|cpp|clang|clang\+\+|cmake|make|gmake|ninja|ld|ld\.bfd|ld\.gold|as)(-[0-9.]+)?$|-linux-gnu-|^c[0-9]+$/;

/** A directory of links to every command on PATH except the compilers and build tools. */
function toolchainFreePath(): string {
  fs.mkdirSync(bin);
  const seen = new Set<string>();
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (seen.has(e) || TOOLS.test(e)) continue;
      seen.add(e);
      try {
        fs.symlinkSync(path.join(dir, e), path.join(bin, e));
      } catch {
        // a name that cannot be linked: not a command anyway
      }
    }
  }
  return bin;
}

/** The environment of a user's shell: no npm lifecycle variables of this test run, no compiler. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE_OPTIONS' || k === 'NODE_ENV' || k.startsWith('VITEST')) continue;
    env[k] = v;
  }
  return { ...env, PATH: bin, NO_COLOR: '1', ...extra };
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: options.cwd ?? app,
    env: options.env ?? userEnv(),
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error || r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
function npm(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  // npm's own script, run by this node: found whatever PATH the user has.
  return fs.existsSync(npmCli) ? run(process.execPath, [npmCli, ...args], options) : run('npm', args, options);
}

let tarball = '';
let files: { path: string; size: number }[] = [];
let packed: { size: number; unpackedSize: number; entryCount: number } = { size: 0, unpackedSize: 0, entryCount: 0 };

beforeAll(() => {
  toolchainFreePath();
  ok(
    run(process.execPath, [path.join(root, 'scripts', 'prebuilds.mjs'), '--from-build'], { cwd: root, env: process.env }),
    'scripts/prebuilds.mjs --from-build',
  );
  // What `npm pack` runs first, prepack, without its tsc: this test run's pretest already compiled,
  // and a compile must not rewrite dist/ under the other test files.
  ok(run(process.execPath, [path.join(root, 'scripts', 'prepack.mjs'), '--no-compile'], { cwd: root, env: process.env }), 'scripts/prepack.mjs');
  const pack = ok(
    npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, env: { ...userEnv(), PATH: process.env.PATH } }),
    'npm pack',
  );
  const report = JSON.parse(pack.slice(pack.indexOf('['))) as {
    filename: string;
    files: { path: string; size: number }[];
    size: number;
    unpackedSize: number;
    entryCount: number;
  }[];
  tarball = path.join(work, report[0].filename);
  files = report[0].files;
  packed = report[0];
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
}, 300_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

// Every file the tarball may hold, as patterns over its paths; each pattern must match at least one.
const PACKED = [
  /^(LICENSE|README\.md|CHANGELOG\.md|SECURITY\.md|package\.json|CMakeLists\.txt)$/,
  /^dist\/.+\.(js|js\.map|d\.ts)$/,
  /^esm\/(index|testing)\.(mjs|d\.mts)$/,
  /^bin\/dlswap\.js$/,
  new RegExp(`^prebuilds/${tag}/(node\\.napi\\.glibc\\.node|libdlswap_runtime\\.so|dlswap\\.json|plugins/lib(plugin_v1|plugin_v2|handler)\\.so)$`),
  /^include\/dlswap\.h$/,
  /^native\/.+\.(cc|h|c|S|map)$/,
  /^cmake\/.+\.cmake$/,
  /^fixtures-c\/plugin\/plugin\.c$/,
  /^examples\/http-server\/(README\.md|Makefile|handler\.c|server\.mjs)$/,
  /^examples\/c-testing\/(README\.md|Makefile|vitest\.config\.mjs|src\/stack\.[ch]|test\/(build\.setup|stack\.test)\.ts)$/,
  /^docs\/.+\.md$/,
];

describe('the tarball', () => {
  it('holds exactly the files a user needs: no install script, build tree, tests or development scripts', () => {
    const names = files.map((f) => f.path);
    expect(names.filter((n) => !PACKED.some((p) => p.test(n)))).toEqual([]);
    expect(PACKED.filter((p) => !names.some((n) => p.test(n)))).toEqual([]);
    for (const f of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'SECURITY.md',
      'package.json',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/typescript-too-old.d.ts',
      'esm/index.mjs',
      'esm/index.d.mts',
      'esm/testing.mjs',
      'dist/testing/index.js',
      'bin/dlswap.js',
      'dist/cli/build.js',
      'docs/hot-reload.md',
      'include/dlswap.h',
    ]) {
      expect(names, f).toContain(f);
    }
    for (const f of [
      'node.napi.glibc.node',
      'libdlswap_runtime.so',
      'dlswap.json',
      'plugins/libplugin_v1.so',
      'plugins/libplugin_v2.so',
      'plugins/libhandler.so',
    ]) {
      expect(names, f).toContain(`prebuilds/${tag}/${f}`);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(pkg.scripts[hook], hook).toBeUndefined();
    // Source maps carry their sources (lib/*.ts is not shipped).
    const map = JSON.parse(spawnSync('tar', ['-xzOf', tarball, 'package/dist/index.js.map'], { encoding: 'utf8' }).stdout) as { sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toContain('export');
    console.log(`tarball: ${(packed.size / 1024).toFixed(0)} KiB, ${packed.entryCount} files, ${(packed.unpackedSize / 1024 / 1024).toFixed(1)} MiB unpacked`);
  });

  it('has the metadata of an npm package', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository.url).toMatch(/^git\+https:/);
    expect(pkg.homepage).toBeTruthy();
    expect(pkg.bugs.url).toBeTruthy();
    expect(pkg.keywords.length).toBeGreaterThan(3);
    expect(pkg.cpu).toEqual(['x64', 'arm64']);
    expect(pkg.libc).toEqual(['glibc']);
    expect(Object.keys(pkg.dependencies)).toEqual(['node-gyp-build']);
  });

  it('esm/index.mjs re-exports exactly what the CommonJS build exports', () => {
    ok(run(process.execPath, [path.join(root, 'scripts', 'gen-esm.mjs'), '--check'], { cwd: root, env: process.env }), 'gen-esm --check');
  });
});

describe('installed into an empty project, on a machine without a compiler', () => {
  beforeAll(() => {
    expect(run('sh', ['-c', 'command -v cc gcc g++ c++ cmake make ninja || true']).stdout.trim()).toBe('');
    // The registry is asked for node-gyp-build only (npm ci put it in the cache). npm 11 refuses,
    // under --strict-allow-scripts, a dependency whose install scripts were not approved: dlswap has none.
    const r = npm(['install', tarball, '--strict-allow-scripts', '--no-audit', '--no-fund', '--prefer-offline']);
    ok(r, 'npm install --strict-allow-scripts of the tarball');
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/install-scripts|allowScripts/);
  }, 180_000);

  it('installs the package and node-gyp-build, nothing else, and builds nothing', () => {
    const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((n) => !n.startsWith('.'));
    expect(installed.sort()).toEqual(['dlswap', 'node-gyp-build']);
    expect(fs.existsSync(path.join(app, 'node_modules', 'dlswap', 'build'))).toBe(false);
    const du = run('du', ['-sk', path.join(app, 'node_modules')]).stdout.split('\t')[0];
    console.log(`consumer install: ${installed.length} packages, ${(Number(du) / 1024).toFixed(1)} MiB`);
  });

  it('a CommonJS consumer opens libz by its soname and calls it', () => {
    fs.writeFileSync(
      path.join(app, 'cjs.cjs'),
      `const assert = require('node:assert');
const { open, readElf, DlswapError } = require('dlswap');
const z = open('libz.so.1');
assert.match(z.info.realPath, /libz\\.so\\.1/);
const crc32 = z.func('unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned int len)');
assert.strictEqual(crc32(0, Buffer.from('hello'), 5), 0x3610a686n);
const version = z.func('const char *zlibVersion(void)')();
assert.throws(() => open('libdlswap-no-such-library.so.9'), (e) => e instanceof DlswapError && e.code === 'ERR_DLSWAP_NOT_FOUND');
assert.throws(() => readElf('/etc/passwd'), (e) => e instanceof DlswapError && e.code === 'ERR_DLSWAP_NOT_ELF');
z.close().then((r) => console.log(JSON.stringify({ version, realPath: z.info.realPath, unloaded: r.unloaded })));
`,
    );
    const out = JSON.parse(ok(run(process.execPath, ['cjs.cjs']), 'cjs consumer'));
    expect(out.version).toMatch(/^1\./);
    expect(out.unloaded).toBe(true);
  });

  it('an ESM consumer hot-reloads the packaged plugin', () => {
    fs.writeFileSync(
      path.join(app, 'esm.mjs'),
      `import assert from 'node:assert';
import { createRequire } from 'node:module';
import path from 'node:path';
import dlswap, { HotLibrary, open } from 'dlswap';
assert.strictEqual(dlswap.open, open);
const pkg = path.dirname(createRequire(import.meta.url).resolve('dlswap/package.json'));
const plugins = path.join(pkg, 'prebuilds', \`\${process.platform}-\${process.arch}\`, 'plugins');
const hot = await HotLibrary.open(path.join(plugins, 'libplugin_v1.so'), { functions: { version: 'int plugin_version(void)' } });
assert.strictEqual(hot.fn.version(), 1);
const report = await hot.reload(path.join(plugins, 'libplugin_v2.so'));
assert.strictEqual(hot.fn.version(), 2);
assert.strictEqual(report.unloaded, true);
await hot.close();
const z = open('libz.so.1');
console.log(JSON.stringify({ zlib: z.func('const char *zlibVersion(void)')(), generation: hot.current }));
await z.close();
`,
    );
    const out = JSON.parse(ok(run(process.execPath, ['esm.mjs']), 'esm consumer'));
    expect(out.generation).toBe(2);
  });

  it('a strict TypeScript consumer type-checks (and its mistakes do not) and runs', () => {
    fs.writeFileSync(
      path.join(app, 'consumer.ts'),
      `import { open, HotLibrary, DlswapError, type ReloadReport } from 'dlswap';
import path from 'node:path';

async function main(): Promise<void> {
  await using z = open('libz.so.1');
  const crc32 = z.func('unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned int len)');
  const crc: bigint = crc32(0, Buffer.from('hello'), 5);
  // Mistakes the compiler must refuse (never called: they would throw at run time too).
  const mistakes = () => {
    // @ts-expect-error: 'itn' is no C type
    z.func('itn add(int a)');
    // @ts-expect-error: not among the functions
    hot.fn.nope();
    // @ts-expect-error: misspelled event
    hot.on('relaod', () => {});
  };
  void mistakes;
  const plugins = path.join(process.cwd(), 'node_modules', 'dlswap', 'prebuilds', \`\${process.platform}-\${process.arch}\`, 'plugins');
  await using hot = await HotLibrary.open(path.join(plugins, 'libhandler.so'), {
    functions: { handle: 'int handle(const char *req, char *out, size_t cap)' },
  });
  hot.on('reload', (r: ReloadReport) => void r.to);
  const out = Buffer.alloc(256);
  const n: number = hot.fn.handle('GET /ts', out, 256);
  try {
    open('/nonexistent/libx.so');
  } catch (e) {
    if (!(e instanceof DlswapError) || e.code !== 'ERR_DLSWAP_NOT_FOUND') throw e;
  }
  console.log(JSON.stringify({ crc: crc.toString(16), reply: out.toString('utf8', 0, n) }));
}
void main();
`,
    );
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['ES2022', 'ESNext.Disposable'],
          types: ['node'],
          typeRoots: [path.join(root, 'node_modules', '@types')],
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
        },
        files: ['consumer.ts'],
      }),
    );
    ok(run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']), 'tsc');
    const out = JSON.parse(ok(run(process.execPath, [path.join('out', 'consumer.js')]), 'the TypeScript consumer'));
    expect(out.crc).toBe('3610a686');
    expect(out.reply).toMatch(/ts/);
  }, 120_000);

  it('npx dlswap --version and npx dlswap doctor', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(ok(npm(['exec', '--', 'dlswap', '--version']), 'dlswap --version').trim()).toBe(pkg.version);
    const doctor = ok(npm(['exec', '--', 'dlswap', 'doctor']), 'dlswap doctor');
    expect(doctor).toContain(path.join('prebuilds', tag, 'node.napi.glibc.node'));
    expect(doctor).not.toMatch(/\berror\b/);
  }, 120_000);

  it('npx dlswap demo runs from the installed package', () => {
    const r = JSON.parse(ok(npm(['exec', '--', 'dlswap', 'demo', '--quick', '--json']), 'dlswap demo')) as { ok: boolean; failedCalls: number };
    expect(r.ok).toBe(true);
    expect(r.failedCalls).toBe(0);
  }, 180_000);

  it('the http-server example runs from the installed package, on the handler it ships', async () => {
    const server = spawn(process.execPath, [path.join('node_modules', 'dlswap', 'examples', 'http-server', 'server.mjs')], {
      cwd: app,
      env: userEnv({ PORT: '0', HOST: '127.0.0.1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not start:\n${out}`)), 30_000);
        server.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+\/)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        server.stderr.on('data', (d: Buffer) => (out += d.toString()));
        server.on('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
      });
      expect(out).toMatch(/serving the prebuilt handler .*plugins\/libhandler\.so/);
      const res = await fetch(`${url}ada`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/ada/);
    } finally {
      server.kill('SIGTERM');
    }
  }, 60_000);

  it('a build from source that does not load is passed over for the prebuild, and NODE_DEBUG=dlswap says so', () => {
    const release = path.join(app, 'node_modules', 'dlswap', 'build', 'Release');
    fs.mkdirSync(release, { recursive: true });
    fs.writeFileSync(path.join(release, 'dlswap.node'), 'not a shared object');
    try {
      const r = run(process.execPath, ['-e', `require('dlswap').open('libz.so.1'); console.log('loaded')`], { env: userEnv({ NODE_DEBUG: 'dlswap' }) });
      expect(r.stdout.trim()).toBe('loaded');
      expect(r.stderr).toMatch(/build\/Release\/dlswap\.node does not load .*; using .*prebuilds/);
    } finally {
      fs.rmSync(path.join(app, 'node_modules', 'dlswap', 'build'), { recursive: true, force: true });
    }
  });

  it('npx dlswap build without a toolchain says what to install and what to run again, and builds nothing', () => {
    const r = npm(['exec', '--', 'dlswap', 'build', '--force']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cmake.*missing/);
    expect(r.stderr).toContain('sudo apt-get install cmake g++ make libffi-dev');
    expect(r.stderr).toContain('sudo dnf install cmake gcc-c++ make libffi-devel');
    expect(r.stderr).toContain('then run: npx dlswap build');
    expect(fs.existsSync(path.join(app, 'node_modules', 'dlswap', 'build', 'Release', 'dlswap.node'))).toBe(false);
  });

  it('a damaged prebuild is ERR_DLSWAP_NO_BINARY naming the fix, never a signal, in require and in doctor', () => {
    const file = path.join(app, 'node_modules', 'dlswap', 'prebuilds', tag, 'node.napi.glibc.node');
    const good = fs.readFileSync(file);
    try {
      // Truncated: mapped as it is, its missing pages would be a SIGBUS at the first touch.
      fs.writeFileSync(file, good.subarray(0, good.length >> 1));
      const r = run(process.execPath, ['-e', `try { require('dlswap') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`]);
      expect(r.signal).toBeNull();
      const e = JSON.parse(r.stdout) as { code: string; message: string };
      expect(e.code).toBe('ERR_DLSWAP_NO_BINARY');
      expect(e.message).toMatch(/damaged: .*node\.napi\.glibc\.node has \d+ bytes, and dlswap\.json says it was built with \d+/);
      expect(e.message).toContain('npx dlswap build');
      const doctorOf = () => {
        const r = npm(['exec', '--', 'dlswap', 'doctor', '--no-probe', '--json']);
        expect(r.signal).toBeNull();
        expect(r.status).toBe(1);
        return JSON.parse(r.stdout) as { addon: { loaded: boolean; error: string } };
      };
      const doctor = doctorOf();
      expect(doctor.addon.loaded).toBe(false);
      expect(doctor.addon.error).toMatch(/damaged: .*bytes/);
      // Same size, other bytes: the load is refused only after it failed, or by doctor's hash.
      const flipped = Buffer.from(good);
      flipped.fill(0, 64, 4096);
      fs.writeFileSync(file, flipped);
      // Its program headers are gone: the loader refuses it, and the hash then says why.
      const r2 = run(process.execPath, ['-e', `try { require('dlswap') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`]);
      expect(r2.signal).toBeNull();
      expect(JSON.parse(r2.stdout)).toMatchObject({ code: 'ERR_DLSWAP_NO_BINARY', message: expect.stringMatching(/damaged: .*has sha256/) });
      expect(doctorOf().addon.error).toMatch(/damaged: .*has sha256 [0-9a-f]{64}, and dlswap\.json says it was built with [0-9a-f]{64}/);
    } finally {
      fs.writeFileSync(file, good);
    }
    expect(run(process.execPath, ['-e', `require('dlswap'); console.log('loaded')`]).stdout.trim()).toBe('loaded');
  });

  it('TypeScript below 5.0 is told, at the first use of any export, to install TypeScript 5', { timeout: 180_000 }, () => {
    // The last TypeScript before 5.0, from the registry (the one download this file makes beyond node-gyp-build).
    const old = path.join(work, 'ts49');
    fs.mkdirSync(old);
    ok(
      npm(['install', '--prefix', old, 'typescript@4.9.5', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline']),
      'npm install typescript@4.9.5',
    );
    const tsc49 = path.join(old, 'node_modules', 'typescript', 'bin', 'tsc');
    fs.writeFileSync(path.join(app, 'old.ts'), `import { open } from 'dlswap';\nopen('libz.so.1');\n`);
    for (const resolution of ['node', 'node16']) {
      const r = run(process.execPath, [
        tsc49,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        resolution === 'node' ? 'commonjs' : 'node16',
        '--moduleResolution',
        resolution,
        '--types',
        'node',
        '--typeRoots',
        path.join(root, 'node_modules', '@types'),
        'old.ts',
      ]);
      expect(r.status, resolution).not.toBe(0);
      expect(r.stdout, resolution).toContain("Type 'DlswapNeedsTypeScript5OrNewer' has no call signatures");
      expect(
        r.stdout.split('\n').filter((l) => /error TS/.test(l)),
        resolution,
      ).toHaveLength(1);
    }
  });

  it('an ESM consumer gets ES-module declarations (esm/index.d.mts), a CommonJS one the CommonJS ones', () => {
    fs.writeFileSync(path.join(app, 'types.mts'), `import dlswap, { open } from 'dlswap';\nexport const same: boolean = dlswap.open === open;\n`);
    fs.writeFileSync(path.join(app, 'types.cts'), `import { open } from 'dlswap';\nexport const f: typeof open = open;\n`);
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = run(process.execPath, [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--types',
      'node',
      '--typeRoots',
      path.join(root, 'node_modules', '@types'),
      '--traceResolution',
      'types.mts',
      'types.cts',
    ]);
    expect(
      r.status,
      r.stdout
        .split('\n')
        .filter((l) => /error/.test(l))
        .join('\n'),
    ).toBe(0);
    expect(r.stdout).toMatch(/Module name 'dlswap' was successfully resolved to '[^']*esm\/index\.d\.mts'/);
    expect(r.stdout).toMatch(/Module name 'dlswap' was successfully resolved to '[^']*dist\/index\.d\.ts'/);
  });
});
