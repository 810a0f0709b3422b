#!/usr/bin/env node
// Builds the fixture libraries (fixtures-c/) into build/fixtures/ for tests, benchmarks and the demo.
//
//   node scripts/build-fixtures.mjs              configure if needed, then build (incremental)
//   node scripts/build-fixtures.mjs --if-missing do nothing if a previous build completed and no file
//                                                under fixtures-c/ changed since (pretest)
//   node scripts/build-fixtures.mjs --verbose    show the build output even when it succeeds
//
// build/fixtures/.complete is written only after a successful build and lists the built libraries,
// so an interrupted or failed build is never mistaken for a complete one.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
// The toolchain checks are lib/cli/toolchain.ts's (run tsc first: `npm ci` and `npm test` do).
import { onPath } from '../dist/cli/toolchain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = 'fixtures-c';
const buildDir = join('build', 'fixtures');
const absBuildDir = join(root, buildDir);
const stamp = join(absBuildDir, '.complete');

const ifMissing = process.argv.includes('--if-missing');
const verbose = process.argv.includes('--verbose');

// Newest modification time of anything under dir (a fixture added or edited since the last build).
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

if (ifMissing && existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(join(root, sourceDir))) process.exit(0);

// The generator is fixed when a build tree is first configured; cmake refuses to reconfigure the
// same tree with another one, so a tree made with a different generator is started afresh.
function cachedGenerator() {
  try {
    const cache = readFileSync(join(absBuildDir, 'CMakeCache.txt'), 'utf8');
    return /^CMAKE_GENERATOR:INTERNAL=(.*)$/m.exec(cache)?.[1] ?? null;
  } catch {
    return null;
  }
}

// Output is captured and shown only on failure (or with --verbose): a passing build stays quiet
// inside `npm test`.
function run(args) {
  const r = spawnSync('cmake', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error || r.status !== 0) {
    process.stderr.write(`$ cmake ${args.join(' ')}\n${output}`);
    if (r.error) process.stderr.write(`${r.error.message}\n`);
    process.stderr.write(`build-fixtures: failed (${r.error ? r.error.code : `exit ${r.status ?? r.signal}`})\n`);
    process.exit(typeof r.status === 'number' && r.status !== 0 ? r.status : 1);
  }
  if (verbose) process.stdout.write(output);
}

function builtLibraries(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'CMakeFiles') found.push(...builtLibraries(path));
    } else if (entry.isFile() && entry.name.endsWith('.so')) {
      found.push(relative(absBuildDir, path));
    }
  }
  return found.sort();
}

const generator = onPath('ninja') ? 'Ninja' : null;
const previous = cachedGenerator();
if (previous !== null && generator !== null && previous !== generator) {
  rmSync(absBuildDir, { recursive: true, force: true });
}

rmSync(stamp, { force: true });
const configure = ['-S', sourceDir, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release'];
if (generator) configure.push('-G', generator);
run(configure);
run(['--build', buildDir, '--parallel', String(availableParallelism())]);

const libraries = builtLibraries(absBuildDir);
writeFileSync(stamp, `${libraries.join('\n')}\n`);
if (!verbose) process.stdout.write(`build-fixtures: ${libraries.length} libraries in ${buildDir}\n`);
