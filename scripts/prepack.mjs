#!/usr/bin/env node
// npm pack / npm publish (`prepack`): compiles the TypeScript and the entry points derived from it,
// then makes sure the package can install without a compiler: the prebuilds (scripts/prebuilds.mjs)
// must be there. The host's is made from this checkout's build (build/Release, which `npm ci` made)
// when it is missing, so that `npm pack` works in a checkout; a release sets
// DLSWAP_REQUIRE_PREBUILDS=x64,arm64 and builds them first (`npm run build:prebuilds`), and packing
// refuses if one is missing. Never packs build/ (package.json `files` does not list it).
//
//   node scripts/prepack.mjs --no-compile   only the prebuild check (the package test, which must
//                                           not rewrite dist/ under the test files running beside it)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = new Set(
  (process.env.DLSWAP_REQUIRE_PREBUILDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

function node(args) {
  // Everything goes to stderr: `npm pack --json` prints its report on stdout.
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!process.argv.includes('--no-compile')) {
  node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  node([join(root, 'scripts', 'gen-esm.mjs')]);
}
const host = arch();
if (!existsSync(join(root, 'prebuilds', `linux-${host}`, 'dlswap.json')) && !required.has(host)) {
  process.stderr.write(`prepack: no prebuild for linux-${host}: making it from this checkout's build (scripts/prebuilds.mjs --from-build)\n`);
  node([join(root, 'scripts', 'prebuilds.mjs'), '--from-build']);
}
const present = [];
for (const a of ['x64', 'arm64']) {
  const manifest = join(root, 'prebuilds', `linux-${a}`, 'dlswap.json');
  if (existsSync(manifest)) present.push(`linux-${a} (glibc >= ${JSON.parse(readFileSync(manifest, 'utf8')).glibc})`);
  else if (required.has(a) || a === host) {
    process.stderr.write(
      `prepack: prebuilds/linux-${a} is missing: run \`node scripts/prebuilds.mjs --arch ${a}\` (or \`npm run build:prebuilds\` for all) before packing.\n`,
    );
    process.exit(1);
  }
}
process.stderr.write(`prepack: prebuilds ${present.join(', ')}\n`);
