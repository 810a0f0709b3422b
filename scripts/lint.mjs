#!/usr/bin/env node
// The lint and format checks (`npm run lint`, run by `npm test` before anything else) and the
// formatter (`npm run format`).
//
//   node scripts/lint.mjs           check: Biome (lint + format of TS/JS/JSON), clang-format (C/C++)
//   node scripts/lint.mjs --write   format every file in place (lint findings are left to you)
//
// TS/JS/JSON: Biome (biome.json), one tool for the linter and the formatter. C/C++: clang-format
// (.clang-format) for the layout; the compiler is the C++ linter (-Wall -Wextra -Werror in a
// checkout's build, scripts/build-native.mjs).
//
// clang-format's output changes between major versions, so the check uses the one CI installs
// (Debian bookworm's clang-format, major CLANG_FORMAT_MAJOR). Without it the C/C++ check is skipped
// with a note, except in CI (CI=true), where it fails.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLANG_FORMAT_MAJOR = 14;
// Folders that hold no source of ours: dependencies, build outputs, generated files (.gitignore).
const SKIP_DIRS = new Set(['.git', 'node_modules', 'dist', 'prebuilds', 'esm']);
const C_SOURCE = /\.(c|cc|cpp|h|hpp)$/;

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const write = process.argv.includes('--write');

/** Every C/C++ source of the checkout, relative to its root, sorted. */
function cSources(dir = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('build')) out.push(...cSources(rel));
    } else if (e.isFile() && C_SOURCE.test(e.name)) {
      out.push(rel);
    }
  }
  return out.sort();
}

/** The clang-format of major CLANG_FORMAT_MAJOR, or a sentence saying why there is none. */
function clangFormat() {
  for (const cmd of [`clang-format-${CLANG_FORMAT_MAJOR}`, 'clang-format']) {
    const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
    if (r.error || r.status !== 0) continue;
    const major = Number(/version (\d+)\./.exec(r.stdout)?.[1]);
    if (major === CLANG_FORMAT_MAJOR) return { cmd };
    return { missing: `${cmd} is version ${major}, the check needs ${CLANG_FORMAT_MAJOR} (its output differs between versions)` };
  }
  return { missing: `clang-format ${CLANG_FORMAT_MAJOR} not found (Debian: apt-get install clang-format)` };
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error) console.error(`lint: ${cmd}: ${r.error.message}`);
  return r.status === 0;
}

const biome = path.join(path.dirname(require.resolve('@biomejs/biome/package.json')), 'bin', 'biome');
// `ci` checks lint and format without writing; warnings fail too, so that none pile up.
const biomeOk = write ? run(process.execPath, [biome, 'format', '--write', '.']) : run(process.execPath, [biome, 'ci', '--error-on-warnings', '.']);

let clangOk = true;
const cf = clangFormat();
const files = cSources();
if (cf.cmd) {
  // Batches keep each command line short.
  for (let i = 0; i < files.length; i += 100) {
    const batch = files.slice(i, i + 100);
    clangOk = run(cf.cmd, write ? ['-i', ...batch] : ['--dry-run', '--Werror', ...batch]) && clangOk;
  }
  if (!clangOk && !write) console.error('lint: C/C++ files above are not formatted: npm run format');
} else if (process.env.CI) {
  console.error(`lint: ${cf.missing}`);
  clangOk = false;
} else {
  console.warn(`lint: C/C++ format ${write ? 'not applied' : 'not checked'}: ${cf.missing}`);
}

if (!biomeOk && !write) console.error('lint: Biome found the problems above (format: npm run format; lint: fix them, see CONTRIBUTING.md)');
console.log(
  `lint: ${write ? 'format' : 'check'} of TS/JS/JSON ${biomeOk ? 'ok' : 'FAILED'}, of ${files.length} C/C++ files ${cf.cmd ? (clangOk ? 'ok' : 'FAILED') : 'skipped'}`,
);
process.exit(biomeOk && clangOk ? 0 : 1);
