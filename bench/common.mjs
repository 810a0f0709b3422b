// What every benchmark needs: its command-line options, the statistics it reports, and the
// fixtures and compiled TypeScript it loads (built on demand, offline).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const require = createRequire(import.meta.url);

export const args = process.argv.slice(2);
export const json = args.includes('--json');

/** The number after `name` on the command line, or `dflt`. */
export function option(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : dflt;
}

/** Prints unless the output is JSON. */
export function log(...a) {
  if (!json) console.log(...a);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Runs a build step in the package root; exits the benchmark if it fails. */
export function run(cmd, argv, what) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: json ? ['ignore', 'ignore', 'inherit'] : 'inherit' });
  if (r.status !== 0) {
    console.error(`bench: ${what} failed (${cmd} ${argv.join(' ')})`);
    process.exit(1);
  }
}

/** Builds the fixture libraries and dist/ if they are missing; returns dlswap's dist entry. */
export function loadDlswap() {
  if (!existsSync(join(root, 'build', 'fixtures', '.complete'))) {
    run(process.execPath, ['scripts/build-fixtures.mjs', '--if-missing'], 'building the fixtures');
  }
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], 'compiling the TypeScript');
  }
  return require(join(root, 'dist', 'index.js'));
}

export const fixture = (name) => join(root, 'build', 'fixtures', name);

/** Builds the hand-written raw Node-API binding of bench/raw if missing; returns its path. */
export function buildRawBinding() {
  const dir = join(root, 'build', 'bench-raw');
  const addon = join(dir, 'raw_binding.node');
  if (!existsSync(addon)) {
    const headers = require('node-api-headers').include_dir;
    run(
      'cmake',
      [
        '-S',
        join(root, 'bench', 'raw'),
        '-B',
        dir,
        '-G',
        'Ninja',
        `-DNODE_API_HEADERS_DIR=${headers}`,
        '-DCMAKE_BUILD_TYPE=Release',
        `-DCMAKE_LIBRARY_OUTPUT_DIRECTORY=${dir}`,
      ],
      'configuring bench/raw',
    );
    run('cmake', ['--build', dir], 'building bench/raw');
  }
  return addon;
}
