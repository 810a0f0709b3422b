#!/usr/bin/env node
// The package's install script (npm's `install` hook, and `npm rebuild dlswap`).
//
// In a checkout of the repository (lib/*.ts present): always builds the addon from source, as
// `npm ci` must (scripts/build-native.mjs; cmake-js and node-addon-api are devDependencies).
//
// In an installed package: uses the prebuild for this machine if one loads (tried in a child
// process, so a binary that crashes or is refused cannot take the install down), and builds from
// source only when none fits, or when asked to (`npm rebuild dlswap --build-from-source`, or
// DLSWAP_BUILD_FROM_SOURCE=1). A build from source needs a toolchain; without one it says which
// packages to install and how to retry, and fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onPath } from './on_path.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const checkout = existsSync(join(root, 'lib', 'index.ts'));
const tag = `linux-${process.arch}`;

const say = (line) => process.stderr.write(`dlswap: ${line}\n`);

// Versions of the build tools a source build fetches when they are not installed (they are
// devDependencies, never dependencies: an install that uses a prebuild does not download them).
const BUILD_TOOLS = ['cmake-js', 'node-addon-api'].map((name) => `${name}@${pkg.devDependencies[name]}`);

const TOOLCHAIN = `Building dlswap from source needs cmake (>= 3.15), a C++17 compiler, make or ninja, and the libffi headers:
  Debian/Ubuntu:  sudo apt-get install cmake g++ make libffi-dev
  Fedora/RHEL:    sudo dnf install cmake gcc-c++ make libffi-devel
then retry with:  npm rebuild dlswap`;

/** What is missing for a build from source, by what a user would install. */
function missingToolchain() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake');
  if (!['c++', 'g++', 'clang++'].some(onPath)) missing.push('a C++ compiler (g++)');
  if (!['cc', 'gcc', 'clang'].some(onPath)) missing.push('a C compiler (gcc)');
  if (!onPath('make') && !onPath('ninja')) missing.push('make (or ninja)');
  const ffi = ['/usr/include', '/usr/local/include', `/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`];
  if (!ffi.some((d) => existsSync(join(d, 'ffi.h')))) missing.push('the libffi headers (libffi-dev / libffi-devel)');
  return missing;
}

/** Whether the addon binary `file` loads in a fresh node; the reason it does not otherwise. */
function loads(file) {
  const probe = `
    const { addonLoadError } = require(${JSON.stringify(join(root, 'dist', 'platform.js'))});
    const file = ${JSON.stringify(file)};
    try { require(file); } catch (e) { process.stderr.write(addonLoadError(e, file).message); process.exit(3); }`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  if (r.status === 0) return { ok: true };
  return { ok: false, why: (r.stderr || `the probe exited with ${r.status ?? r.signal}`).trim() };
}

/** Whether the prebuild for this machine loads; the reason it does not otherwise. */
function prebuildLoads() {
  const file = join(root, 'prebuilds', tag, 'node.napi.glibc.node');
  if (!existsSync(file)) return { ok: false, why: `the package has no prebuilt binary for ${tag}` };
  return loads(file);
}

/** Finds cmake-js and node-addon-api: installed beside the package, or fetched into build/tools. */
function buildTools() {
  try {
    require.resolve('cmake-js/package.json');
    require.resolve('node-addon-api');
    return { env: {} };
  } catch {
    // not installed: fetch them for this build only
  }
  const prefix = join(root, 'build', 'tools');
  mkdirSync(prefix, { recursive: true });
  say(`fetching the build tools (${BUILD_TOOLS.join(', ')})`);
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []];
  const r = spawnSync(cmd, [...args, 'install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', prefix, ...BUILD_TOOLS], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) {
    say(`could not fetch ${BUILD_TOOLS.join(', ')} from the npm registry`);
    process.exit(1);
  }
  // CMakeLists.txt asks node for node-addon-api's include directory: NODE_PATH lets it find the copy.
  return { env: { NODE_PATH: join(prefix, 'node_modules') }, cmakeJs: join(prefix, 'node_modules', 'cmake-js', 'bin', 'cmake-js') };
}

function buildFromSource(why) {
  if (why) say(`${why}; building from source`);
  const missing = checkout ? [] : missingToolchain();
  if (missing.length) {
    say(`cannot build from source: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing.`);
    process.stderr.write(`\n${TOOLCHAIN}\n\n`);
    process.exit(1);
  }
  const tools = checkout ? { env: {} } : buildTools();
  const cmakeJs = tools.cmakeJs ?? join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const r = spawnSync(process.execPath, [cmakeJs, 'build', '--out', 'build', '--log-level', 'warn'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...tools.env },
  });
  if (r.status !== 0) {
    say('the build from source failed (its output is above).');
    process.stderr.write(`\n${TOOLCHAIN}\n\n`);
    process.exit(r.status ?? 1);
  }
  if (!checkout) {
    buildPlugins();
    // The fetched build tools served this build only.
    rmSync(join(root, 'build', 'tools'), { recursive: true, force: true });
  }
}

// The demo's plugin and the http-server example's handler, beside the addon as in a prebuild.
function buildPlugins() {
  const dir = join(root, 'build', 'Release', 'plugins');
  mkdirSync(dir, { recursive: true });
  const cc = ['cc', 'gcc', 'clang'].find(onPath);
  const plugins = [
    ['libplugin_v1.so', 'fixtures-c/plugin/plugin.c', ['-DPLUGIN_VERSION=1']],
    ['libplugin_v2.so', 'fixtures-c/plugin/plugin.c', ['-DPLUGIN_VERSION=2']],
    ['libhandler.so', 'examples/http-server/handler.c', []],
  ];
  for (const [out, src, defs] of plugins) {
    const r = spawnSync(cc, ['-std=c11', '-O2', '-shared', '-fPIC', '-Iinclude', ...defs, '-o', join(dir, out), src, '-lpthread'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) say(`could not build ${out} (the demo or the http-server example will say so)`);
  }
}

const fromSource = /^(1|true)$/i.test(process.env.DLSWAP_BUILD_FROM_SOURCE ?? '') || /^(1|true)$/i.test(process.env.npm_config_build_from_source ?? '');
if (checkout) {
  buildFromSource(null);
} else if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
  say(`dlswap runs on x86-64 and aarch64 Linux with glibc only, not ${process.platform}-${process.arch}.`);
  process.exit(1);
} else if (fromSource) {
  buildFromSource('asked to build from source');
} else {
  // node-gyp-build prefers build/Release to the prebuild: a build from source that no longer loads
  // (node_modules copied from another machine) would hide a prebuild that does.
  const built = join(root, 'build', 'Release', 'dlswap.node');
  const source = existsSync(built) ? loads(built) : null;
  if (source && !source.ok) {
    say(`removing a build from source that does not load (${source.why.split('. ')[0]})`);
    rmSync(join(root, 'build', 'Release'), { recursive: true, force: true });
  }
  if (!source?.ok) {
    const prebuild = prebuildLoads();
    if (!prebuild.ok) buildFromSource(prebuild.why);
  }
}
