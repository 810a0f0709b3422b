#!/usr/bin/env node
// Builds a checkout of the repository: npm's `dependencies` hook, which npm runs in the project
// root after `npm ci` or an `npm install` that changed node_modules, and never in a project that
// installed dlswap as a dependency. (The package has no install script: npm 11 blocks dependency
// install scripts, and an installed package loads its prebuild; `npx dlswap build` builds from
// source where none fits. `prepare` would count as an install script of a tarball or git install.)
//
// It compiles the TypeScript first, so that the CLI and the error messages exist even when the
// native build cannot run; then checks the toolchain and says, in one message, what to install and
// what to run again; then builds the addon (incremental), regenerates the entry points derived from
// the CommonJS build (scripts/gen-esm.mjs loads it, and with it the addon), and builds the fixture
// libraries.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function node(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
const { missingToolchain, toolchainMessage } = await import('../dist/cli/toolchain.js');
const missing = missingToolchain();
if (missing.length) {
  process.stderr.write(`\ndlswap: ${toolchainMessage(missing, 'npm ci')}\n`);
  process.exit(1);
}
node([join(root, 'scripts', 'build-native.mjs'), '--force']);
node([join(root, 'scripts', 'gen-esm.mjs')]);
node([join(root, 'scripts', 'build-fixtures.mjs')]);
