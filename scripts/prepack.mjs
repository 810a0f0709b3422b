#!/usr/bin/env node
// npm pack / npm publish: refuses to pack a package that could not install without a compiler.
// (`prepare`, which npm runs next, compiles the TypeScript.) The prebuilds (scripts/prebuilds.mjs) must be there: the
// host's always, and every architecture named in DLSWAP_REQUIRE_PREBUILDS (a release sets it to
// "x64,arm64"). Never packs build/ (package.json `files` does not list it).
import { existsSync, readFileSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = new Set([arch(), ...(process.env.DLSWAP_REQUIRE_PREBUILDS ?? '').split(',').map((s) => s.trim()).filter(Boolean)]);

const present = [];
for (const a of ['x64', 'arm64']) {
  const manifest = join(root, 'prebuilds', `linux-${a}`, 'dlswap.json');
  if (existsSync(manifest)) present.push(`linux-${a} (glibc >= ${JSON.parse(readFileSync(manifest, 'utf8')).glibc})`);
  else if (required.has(a)) {
    process.stderr.write(`prepack: prebuilds/linux-${a} is missing: run \`node scripts/prebuilds.mjs --arch ${a}\` (or \`npm run build:prebuilds\` for all) before packing.\n`);
    process.exit(1);
  }
}
process.stderr.write(`prepack: prebuilds ${present.join(', ')}\n`);
