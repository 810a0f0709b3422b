#!/usr/bin/env node
// npm's `prepare` hook (after `npm ci` / `npm install` in a checkout, and before `npm pack`):
// compiles the TypeScript, regenerates the ESM entry from it, and, except when packing, builds the
// fixture libraries the tests, benchmarks and demo load.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');

function node(args) {
  // Everything goes to stderr: `npm pack --json` prints its report on stdout.
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
node([join(root, 'scripts', 'gen-esm.mjs')]);
if (!packing) node([join(root, 'scripts', 'build-fixtures.mjs')]);
