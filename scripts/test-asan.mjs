#!/usr/bin/env node
// The test suite under AddressSanitizer (`npm run test:asan`).
//
//   node scripts/test-asan.mjs                 build the ASan addon, then run every test file
//   node scripts/test-asan.mjs test/x.test.ts  extra arguments go to vitest
//   node scripts/test-asan.mjs --subset        the files of SUBSET only: what `npm test` runs last
//                                              (its posttest), so CI runs it
//
// The addon is built with -fsanitize=address into build-asan/ and loaded from there
// (DLSWAP_ADDON_DIR). node itself is not instrumented, so libasan must be the first object in the
// process: it is preloaded (LD_PRELOAD), which also reaches every child node a test starts.
//
// What cannot run under ASan, by design: isolation 'deepbind'. RTLD_DEEPBIND makes a library bind
// to its own libc first, past ASan's interceptors (malloc from one allocator, free to the other),
// so dlswap refuses it with ERR_DLSWAP_MODE_UNSUPPORTED whenever LD_PRELOAD holds a sanitizer.
// Tests of that mode are skipped: those that skip themselves (`underAsan` in test/helpers.ts), and
// and those whose name says deepbind (EXCLUDED below).
//
// Leak detection is off (detect_leaks=0): node does not free its heap at exit, so LeakSanitizer
// reports thousands of node's and V8's own allocations and nothing that points at dlswap. Leaks are
// what the soak measures (bench/soak.mjs: RSS, mappings, fds over thousands of reloads).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

// Test names (vitest matches "file-level describe > ... > test" joined with spaces) left out, and why.
export const EXCLUDED = [['deepbind', "isolation 'deepbind' is refused under ASan (ERR_DLSWAP_MODE_UNSUPPORTED)"]];

// The subset `npm test` runs under ASan (posttest): files that drive the addon's memory handling in
// process, a few minutes in all on two cores. The whole suite under ASan takes far longer: run it
// when you change how native code handles memory (CONTRIBUTING.md).
const SUBSET = [
  ['test/call/calls.test.ts', 'arguments converted and calls made on every path (native/call/)'],
  ['test/call/calls_errors.test.ts', 'every refused argument: the error paths of the conversions'],
  ['test/call/calls_memory.test.ts', 'copies to and from addresses, C strings, alloc and free'],
  ['test/call/callbacks.test.ts', 'callback slots, their queues and their release (native/callback/)'],
  ['test/elf/elf_reader.test.ts', 'the ELF parser on real and damaged files (native/elf/)'],
  ['test/hot/reload_modes.test.ts', 'load, swap and retire in every isolation mode (native/loader/)'],
];

function run(cmd, args, what, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`test:asan: ${what} failed`);
    process.exit(r.status ?? 1);
  }
}

function libasan() {
  for (const cc of [process.env.CC, 'gcc', 'cc'].filter(Boolean)) {
    const r = spawnSync(cc, ['-print-file-name=libasan.so'], { encoding: 'utf8' });
    const p = r.status === 0 ? r.stdout.trim() : '';
    // An unknown file is echoed back as a bare name: only an absolute path was found.
    if (path.isAbsolute(p) && fs.existsSync(p)) return p;
  }
  console.error('test:asan: libasan.so not found (gcc -print-file-name=libasan.so). Install gcc, or set CC to a compiler that ships ASan.');
  process.exit(1);
}

run(process.execPath, ['scripts/build-native.mjs'], 'the ASan build (DLSWAP_SANITIZE=address)', { ...process.env, DLSWAP_SANITIZE: 'address' });
run(process.execPath, ['scripts/build-fixtures.mjs', '--if-missing'], 'building the fixtures');
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], 'compiling the TypeScript');

const addonDir = path.join(root, 'build-asan', 'Release');
const { readElf } = require(path.join(root, 'dist', 'elf', 'elf.js'));
if (!readElf(path.join(addonDir, 'dlswap.node')).needed.some((n) => n.startsWith('libasan.so'))) {
  console.error(`test:asan: ${path.relative(root, addonDir)}/dlswap.node is not an ASan build`);
  process.exit(1);
}

const asan = libasan();
const env = {
  ...process.env,
  DLSWAP_ADDON_DIR: addonDir,
  LD_PRELOAD: [asan, process.env.LD_PRELOAD].filter(Boolean).join(' '),
  // Anything else ASan finds ends the process with a report on stderr: the test fails.
  // allocator_may_return_null: an allocation too large to satisfy returns NULL, as glibc's does
  // (the tests of lib.alloc expect ERR_DLSWAP_NO_MEMORY there, not ASan's abort).
  ASAN_OPTIONS: ['detect_leaks=0', 'allocator_may_return_null=1', process.env.ASAN_OPTIONS].filter(Boolean).join(':'),
};
const filter = `^(?!.*(${EXCLUDED.map(([p]) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})).*$`;
console.log(`test:asan: ${asan} preloaded, addon from ${path.relative(root, addonDir)}; left out:`);
for (const [p, why] of EXCLUDED) console.log(`  "${p}": ${why}`);

const vitest = path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const args = process.argv.slice(2).flatMap((a) => (a === '--subset' ? SUBSET.map(([file]) => file) : [a]));
if (process.argv.includes('--subset')) console.log(`test:asan: the subset: ${SUBSET.map(([file]) => path.basename(file)).join(', ')}`);
const child = spawn(process.execPath, [vitest, 'run', '-t', filter, ...args], { cwd: root, env, stdio: ['inherit', 'inherit', 'pipe'] });
// stderr is scanned (and passed through) so that a report from ASan is named in the verdict even
// when it came from a child process whose test did not look at its stderr.
let stderr = '';
child.stderr.on('data', (d) => {
  process.stderr.write(d);
  stderr += d;
});
child.on('close', (code, signal) => {
  const reports = (stderr.match(/ERROR: AddressSanitizer/g) ?? []).length;
  if (reports > 0) console.error(`test:asan: ${reports} AddressSanitizer report(s) above`);
  console.log(`test:asan: ${code === 0 && reports === 0 ? 'PASS' : 'FAIL'}`);
  process.exit(code === 0 && reports === 0 ? 0 : (code ?? (signal ? 1 : 0)) || 1);
});
