#!/usr/bin/env node
// Builds the addon and the namespace anchor with cmake-js, offline: package.json's
// binary.napi_versions makes cmake-js take Node-API headers from node-api-headers instead of
// downloading node's headers.
//
//   node scripts/build-native.mjs            build unless build/Release/dlswap.node exists (npm install)
//   node scripts/build-native.mjs --force    always rebuild
//   DLSWAP_SANITIZE=address ...              ASan build into build-asan/
//
// A checkout's plain build treats warnings as errors (DLSWAP_WERROR): the compiler is the C++
// linter (CONTRIBUTING.md). The ASan build does not: its instrumentation can warn where the code
// is fine.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
const defs = sanitize ? { DLSWAP_SANITIZE: sanitize } : { DLSWAP_WERROR: 'ON' };
const flags = [...Object.entries(defs).map(([k, v]) => `--CD${k}=${v}`), '--out', out, '--log-level', 'warn'];
// 'build' configures a new build tree only: one configured before with other values (a checkout
// built before DLSWAP_WERROR existed) is configured again first.
const cache = join(root, out, 'CMakeCache.txt');
const cached = existsSync(cache) ? readFileSync(cache, 'utf8') : null;
if (cached !== null && Object.entries(defs).some(([k, v]) => !new RegExp(`^${k}:\\w+=${v}$`, 'm').test(cached))) {
  const c = spawnSync(process.execPath, [cmakeJs, 'configure', ...flags], { cwd: root, stdio: 'inherit' });
  if (c.status !== 0) process.exit(c.status ?? 1);
}
// 'build', not 'compile': compile wipes the whole build tree (fixtures included) after a failure.
const r = spawnSync(process.execPath, [cmakeJs, 'build', ...flags], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
