#!/usr/bin/env node
// Builds the addon and the namespace anchor with cmake-js, offline: package.json's
// binary.napi_versions makes cmake-js take Node-API headers from node-api-headers instead of
// downloading node's headers.
//
//   node scripts/build-native.mjs            build unless build/Release/dlswap.node exists (npm install)
//   node scripts/build-native.mjs --force    always rebuild
//   DLSWAP_SANITIZE=address ...              ASan build into build-asan/
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const sanitize = process.env.DLSWAP_SANITIZE ?? '';
const out = sanitize ? `build-${sanitize === 'address' ? 'asan' : sanitize}` : 'build';

if (!force && !sanitize && existsSync(join(root, out, 'Release', 'dlswap.node'))) {
  process.exit(0);
}
const require = createRequire(import.meta.url);
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
// 'build', not 'compile': compile wipes the whole build tree (fixtures included) after a failure.
const args = [cmakeJs, 'build', '--out', out, '--log-level', 'warn'];
if (sanitize) args.push(`--CDDLSWAP_SANITIZE=${sanitize}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
