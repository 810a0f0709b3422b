/**
 * `dlswap build [--force]`: builds the addon from source, for a machine the prebuilds do not fit
 * (an older glibc, a damaged prebuild). The package has no install script (npm 11 blocks them by
 * default), so this is the one command a user runs, and the one every "no binary" error names.
 *
 * Phases, each announced on stderr as it starts (a build takes minutes on a small machine):
 *   1. toolchain: cmake, a C and C++ compiler, make or ninja, the libffi headers; what is missing is
 *      named with the packages that provide it, and nothing is built;
 *   2. build tools: cmake-js and node-addon-api, from the installation, or fetched from the npm
 *      registry into build/tools for this build only;
 *   3. the addon and the namespace runtime (cmake-js, its compiler output shown as it comes);
 *   4. the demo's and the http-server example's plugins, beside the addon as in a prebuild;
 *   5. a check that the new addon loads, in a child process.
 * A failure leaves the previous build/Release as it was only when cmake-js itself did not touch it;
 * the exit code is 1 and the last line says what to do.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUILD_COMMAND, checkPlatform, packageRoot } from '../platform';
import { commandArgs } from './format';
import { missingToolchain, onPath, toolchainMessage } from './toolchain';

const USAGE = `usage: dlswap build [--force]

Builds dlswap's addon from source into the package's build/Release, where it is found before the
prebuild. Needs cmake, a C++17 compiler, make or ninja, and the libffi headers; cmake-js and
node-addon-api are fetched from the npm registry when they are not installed.

  --force   build even when build/Release/dlswap.node exists and loads
`;

/** The plugins a package carries beside its addon: the demo's (both versions) and the http-server example's. */
export const PACKAGED_PLUGINS = [
  { out: 'libplugin_v1.so', src: 'fixtures-c/plugin/plugin.c', defs: ['-DPLUGIN_VERSION=1'] },
  { out: 'libplugin_v2.so', src: 'fixtures-c/plugin/plugin.c', defs: ['-DPLUGIN_VERSION=2'] },
  { out: 'libhandler.so', src: 'examples/http-server/handler.c', defs: [] as string[] },
] as const;

/** The compiler command that builds one packaged plugin into `dir` (run from the package root). */
export function pluginCompileArgs(p: (typeof PACKAGED_PLUGINS)[number], dir: string): string[] {
  return ['-std=c11', '-O2', '-shared', '-fPIC', '-Iinclude', ...p.defs, '-o', path.join(dir, p.out), p.src, '-lpthread'];
}

const say = (err: NodeJS.WritableStream, line: string) => err.write(`dlswap build: ${line}\n`);

/** Whether the addon binary `file` loads in a fresh node; the reason it does not otherwise. */
export function addonLoadsIn(file: string): { ok: true } | { ok: false; why: string } {
  const probe = `try { require(${JSON.stringify(file)}); } catch (e) { process.stderr.write(String(e && e.message)); process.exit(3); }`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 });
  if (r.status === 0) return { ok: true };
  return { ok: false, why: (r.stderr || `the probe exited with ${r.status ?? r.signal}`).trim() };
}

interface BuildTools {
  cmakeJs: string;
  env: NodeJS.ProcessEnv;
  fetched: string | null;
}

/** cmake-js and node-addon-api: installed beside the package, or fetched into build/tools. */
function buildTools(err: NodeJS.WritableStream): BuildTools | null {
  try {
    const cmakeJs = require.resolve('cmake-js/package.json', { paths: [packageRoot] });
    require.resolve('node-addon-api', { paths: [packageRoot] });
    return { cmakeJs: path.join(path.dirname(cmakeJs), 'bin', 'cmake-js'), env: {}, fetched: null };
  } catch {
    // not installed (a user's install has no devDependencies): fetched below
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const tools = ['cmake-js', 'node-addon-api'].map((name) => `${name}@${pkg.devDependencies[name]}`);
  const prefix = path.join(packageRoot, 'build', 'tools');
  fs.mkdirSync(prefix, { recursive: true });
  say(err, `2/5 fetching ${tools.join(', ')} from the npm registry into build/tools`);
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && /npm-cli\.js$/.test(npmCli) ? [process.execPath, [npmCli]] : ['npm', []];
  const r = spawnSync(
    cmd,
    [...args, 'install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', prefix, ...tools],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  if (r.status !== 0) {
    say(
      err,
      `could not fetch ${tools.join(', ')} (npm exited with ${r.status ?? r.signal ?? r.error?.message}); check the registry is reachable, then run: ${BUILD_COMMAND}`,
    );
    return null;
  }
  // CMakeLists.txt asks node for node-addon-api's include directory: NODE_PATH lets it find this copy.
  const modules = path.join(prefix, 'node_modules');
  return { cmakeJs: path.join(modules, 'cmake-js', 'bin', 'cmake-js'), env: { NODE_PATH: modules }, fetched: prefix };
}

function buildPlugins(err: NodeJS.WritableStream): boolean {
  const dir = path.join(packageRoot, 'build', 'Release', 'plugins');
  fs.mkdirSync(dir, { recursive: true });
  const cc = ['cc', 'gcc', 'clang'].find(onPath)!;
  let ok = true;
  for (const p of PACKAGED_PLUGINS) {
    const r = spawnSync(cc, pluginCompileArgs(p, dir), { cwd: packageRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) {
      say(err, `could not build ${p.out} (the demo or the http-server example will say so)`);
      ok = false;
    }
  }
  return ok;
}

export function runBuild(argv: string[], out: NodeJS.WritableStream, _isTTY: boolean, err: NodeJS.WritableStream = process.stderr): number {
  const args = commandArgs('build', USAGE, argv, { force: { type: 'boolean' } }, 0, out, err);
  if (typeof args === 'number') return args;
  checkPlatform();
  const addon = path.join(packageRoot, 'build', 'Release', 'dlswap.node');
  if (!args.values.force && fs.existsSync(addon) && addonLoadsIn(addon).ok) {
    out.write(`${addon} is built and loads; --force builds it again\n`);
    return 0;
  }
  say(err, '1/5 checking the toolchain');
  const missing = missingToolchain();
  if (missing.length) {
    err.write(toolchainMessage(missing, BUILD_COMMAND));
    return 1;
  }
  const tools = buildTools(err);
  if (!tools) return 1;
  if (!tools.fetched) say(err, '2/5 using the installed cmake-js and node-addon-api');
  say(err, '3/5 compiling the addon and the namespace runtime (cmake-js; this takes a few minutes)');
  const built = spawnSync(process.execPath, [tools.cmakeJs, 'build', '--out', 'build'], {
    cwd: packageRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...tools.env },
  });
  if (tools.fetched) fs.rmSync(tools.fetched, { recursive: true, force: true });
  if (built.status !== 0) {
    say(err, `the build failed (cmake-js exited with ${built.status ?? built.signal}; its output is above). Fix what it names, then run: ${BUILD_COMMAND}`);
    return 1;
  }
  say(err, '4/5 building the demo and example plugins');
  buildPlugins(err);
  say(err, '5/5 checking that the addon loads');
  const loads = addonLoadsIn(addon);
  if (!loads.ok) {
    say(err, `the addon was built but does not load: ${loads.why}`);
    return 1;
  }
  out.write(`built ${addon}\n`);
  return 0;
}
