#!/usr/bin/env node
// Builds the prebuilt binaries that the npm package ships, laid out the way node-gyp-build finds them:
//
//   prebuilds/linux-<arch>/node.napi.glibc.node   the addon (any Node-API >= 8 node, glibc)
//   prebuilds/linux-<arch>/libdlswap_runtime.so   the namespace runtime, which must sit beside it
//   prebuilds/linux-<arch>/plugins/               the demo's and the http-server example's plugins
//   prebuilds/linux-<arch>/dlswap.json            what was built: glibc floor, sizes, sha256
//
//   node scripts/prebuilds.mjs                    the host's architecture, from a fresh build tree
//   node scripts/prebuilds.mjs --arch arm64       cross-built with Debian's aarch64 toolchain
//   node scripts/prebuilds.mjs --arch all         x64 and arm64
//   node scripts/prebuilds.mjs --from-build       the host's, from the addon `npm ci` just built
//                                                 (build/Release): what the package test packs
//
// Prebuilds are build outputs (gitignored); `npm pack` refuses to run without the host's
// (scripts/prepack.mjs). Binaries are stripped; libstdc++ and libgcc are linked in (CMakeLists.txt),
// so what they need from the system is glibc alone, and the highest GLIBC_x.y symbol version they
// reference (objdump -T) is recorded as the floor that lib/platform.ts checks at load.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch as hostArch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PACKAGED_PLUGINS, pluginCompileArgs } from '../dist/cli/build.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const TARGETS = {
  x64: { triple: 'x86_64-linux-gnu', toolchain: null },
  arm64: { triple: 'aarch64-linux-gnu', toolchain: 'cmake/aarch64-linux-gnu.cmake' },
};

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: hostArch() },
    'from-build': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: node scripts/prebuilds.mjs [--arch x64|arm64|all] [--from-build]\n');
  process.exit(0);
}
const arches = values.arch === 'all' ? Object.keys(TARGETS) : [values.arch];
for (const a of arches) {
  if (!(a in TARGETS)) fail(`unknown --arch '${a}' (x64, arm64 or all)`);
}
if (values['from-build'] && (arches.length !== 1 || arches[0] !== hostArch())) fail('--from-build packs the host build only');

function fail(message) {
  process.stderr.write(`prebuilds: ${message}\n`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error || r.status !== 0) {
    process.stderr.write(`$ ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
    fail(r.error ? `${cmd}: ${r.error.message}` : `${cmd} exited with ${r.status ?? r.signal}`);
  }
  return r.stdout;
}

/** The host's tool, or the cross toolchain's `<triple>-tool` when building for another architecture. */
function tool(name, arch) {
  return arch === hostArch() ? name : `${TARGETS[arch].triple}-${name}`;
}

function buildAddon(arch) {
  if (values['from-build']) return join(root, 'build', 'Release');
  const out = join('build-prebuilds', arch);
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const args = [cmakeJs, 'build', '--out', out, '--log-level', 'warn'];
  const { toolchain } = TARGETS[arch];
  if (arch !== hostArch()) {
    if (!toolchain) fail(`no cross toolchain file for ${arch} on a ${hostArch()} host`);
    args.push(`--CDCMAKE_TOOLCHAIN_FILE=${join(root, toolchain)}`);
  }
  process.stdout.write(`prebuilds: building the addon for linux-${arch}\n`);
  run(process.execPath, args, { stdio: 'inherit' });
  return join(root, out, 'Release');
}

// The demo's plugin (both versions) and the http-server example's handler, as `dlswap build`
// builds them (lib/cli/build.ts owns the list and the compiler command; run tsc first).
function buildPlugins(arch, dir) {
  mkdirSync(dir, { recursive: true });
  for (const p of PACKAGED_PLUGINS) run(tool('gcc', arch), pluginCompileArgs(p, dir));
}

/** Highest GLIBC_x.y version any of `files` requires. */
function glibcFloor(arch, files) {
  let best = [2, 2, 5];
  for (const f of files) {
    const text = run(tool('objdump', arch), ['-T', f]);
    for (const m of text.matchAll(/\(GLIBC_(\d+)\.(\d+)(?:\.(\d+))?\)/g)) {
      const v = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
      if (v[0] > best[0] || (v[0] === best[0] && (v[1] > best[1] || (v[1] === best[1] && v[2] > best[2])))) best = v;
    }
  }
  return best[2] ? best.join('.') : `${best[0]}.${best[1]}`;
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const arch of arches) {
  const built = buildAddon(arch);
  for (const f of ['dlswap.node', 'libdlswap_runtime.so']) {
    if (!existsSync(join(built, f))) fail(`${join(built, f)} is missing: build the addon first (npm ci, or npm run build:native)`);
  }
  const dest = join(root, 'prebuilds', `linux-${arch}`);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(join(dest, 'plugins'), { recursive: true });
  const files = {
    'node.napi.glibc.node': join(built, 'dlswap.node'),
    'libdlswap_runtime.so': join(built, 'libdlswap_runtime.so'),
  };
  const pluginDir = join(root, 'build-prebuilds', arch, 'plugins');
  buildPlugins(arch, pluginDir);
  for (const p of PACKAGED_PLUGINS) files[`plugins/${p.out}`] = join(pluginDir, p.out);
  const manifest = { name: pkg.name, version: pkg.version, platform: 'linux', arch, libc: 'glibc', napi: 8, glibc: '', files: {} };
  for (const [name, from] of Object.entries(files)) {
    const to = join(dest, name);
    copyFileSync(from, to);
    run(tool('strip', arch), ['--strip-unneeded', to]);
    manifest.files[name] = { size: statSync(to).size, sha256: sha256(to) };
  }
  manifest.glibc = glibcFloor(
    arch,
    Object.keys(files).map((n) => join(dest, n)),
  );
  writeFileSync(join(dest, 'dlswap.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const total = Object.values(manifest.files).reduce((n, f) => n + f.size, 0);
  process.stdout.write(`prebuilds: linux-${arch}: ${Object.keys(files).length} files, ${(total / 1024).toFixed(0)} KiB, needs glibc >= ${manifest.glibc}\n`);
}
