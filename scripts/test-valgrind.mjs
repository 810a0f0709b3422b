#!/usr/bin/env node
// The loader and call tests under valgrind memcheck (`npm run test:valgrind`).
//
//   node scripts/test-valgrind.mjs                    test/load/loader.test.ts and test/call/calls*.test.ts
//   node scripts/test-valgrind.mjs test/x.test.ts     other test files
//
// node under valgrind runs ~50 times slower, so this stays focused: one node process (vitest with
// its worker-thread pool, one file at a time) runs under memcheck; the child processes that some
// tests start run natively (--trace-children=no). Leak checking is off: node never frees its heap
// at exit (leaks are the soak's business, bench/soak.mjs). Any memcheck error fails the run.
//
// Three kinds of report are suppressed, all by design of code that is not dlswap's:
// - V8's conservative stack scan (cppgc's IteratePointersInStack) reads every stack word,
//   initialised or not, on purpose.
// - The libc that a dlmopen namespace loads for itself keeps glibc's AVX2 string functions:
//   valgrind replaces those of the process's libc with exact versions, not those of a second copy
//   loaded with dlmopen. They read whole aligned 32-byte vectors, past the terminating NUL but never
//   across a page, which memcheck reports as 32-byte reads past the block (and branches on the
//   bytes read there). What is lost: over-reads inside the namespace's own libc. The same calls in
//   isolation 'local' go through the process's libc, where memcheck checks them exactly, and ASan
//   checks the addon's side of every string and buffer (npm run test:asan).
// - The dynamic loader's own strncmp (not one valgrind replaces) compares a library's RPATH/RUNPATH
//   entries with "ORIGIN" a word at a time, past the end of its strdup'ed copy of "$ORIGIN" but not
//   past the word: any library whose RUNPATH is $ORIGIN (the seed001 and closure fixtures) shows it.
// And two kinds on purpose: the faults fixture's write through a null pointer (fixtures-c/faults,
// write_null), which the fault containment tests make and contain, and the conn fixture's read
// through one (fixtures-c/conn, conn_crash), with which test/hot/handles.test.ts quarantines a
// generation. Memcheck reports the invalid access before it delivers the SIGSEGV that dlswap's
// handler then contains; each suppression names that one function of its fixture, so any other
// invalid access still fails the run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const DEFAULT_FILES = [
  'test/load/loader.test.ts',
  'test/call/calls.test.ts',
  'test/call/calls_async.test.ts',
  'test/call/calls_errors.test.ts',
  'test/call/calls_memory.test.ts',
];
// Tests that cannot run in a worker thread, which is where the vitest 'threads' pool runs them.
export const EXCLUDED = [
  ['getenv inside the namespace survives process.env changes', "a worker thread's process.env is its own copy: the real environment never changes"],
  ['on an init failure', "sets DLSWAP_FIXTURE_INIT_FAIL in a worker thread's own process.env, which the fixture's getenv never sees"],
  ['DLSWAP_FIXTURE_STATE_', "sets the fixture's DLSWAP_FIXTURE_STATE_* in a worker thread's own process.env, which its getenv never sees"],
  [
    'the fixture writes its constructor down when it is loaded',
    "sets DLSWAP_FIXTURE_RECORD in a worker thread's own process.env, which the fixture's getenv never sees",
  ],
  [
    'local: a thread spinning in another library, with the image on its stack',
    'valgrind runs client threads with every signal blocked in the kernel and delivers signals itself, so /proc shows the spinning thread blocking the sampling signal, which dlswap reports as the reason instead of "running its code"',
  ],
];

const SUPPRESSIONS = `
{
   v8-conservative-stack-scan-cond
   Memcheck:Cond
   fun:*IteratePointersInStack*
}
{
   v8-conservative-stack-scan-value
   Memcheck:Value8
   fun:*IteratePointersInStack*
}
{
   namespace-libc-vector-string-overread
   Memcheck:Addr32
   obj:*/libc.so.6
}
{
   namespace-libc-vector-string-overread-branch-from-call
   Memcheck:Cond
   obj:*/libc.so.6
   fun:*FunctionCallbackWrapper*
}
{
   rtld-strncmp-word-overread-of-rpath-token
   Memcheck:Addr8
   fun:strncmp
   fun:is_dst
}
{
   namespace-libc-vector-string-overread-branch-in-libc
   Memcheck:Cond
   obj:*/libc.so.6
   obj:*/libc.so.6
}
{
   fault-containment-planted-null-write
   Memcheck:Addr4
   fun:write_null
}
{
   handles-quarantine-planted-null-read
   Memcheck:Addr4
   fun:conn_crash
}
`;

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`test:valgrind: ${what} failed`);
    process.exit(r.status ?? 1);
  }
}

if (spawnSync('valgrind', ['--version']).status !== 0) {
  console.error('test:valgrind: valgrind is not installed (apt-get install valgrind).');
  process.exit(1);
}
run(process.execPath, ['scripts/build-native.mjs'], 'building the addon');
run(process.execPath, ['scripts/build-fixtures.mjs', '--if-missing'], 'building the fixtures');
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], 'compiling the TypeScript');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-valgrind-'));
const supp = path.join(work, 'node.supp');
const log = path.join(work, 'memcheck.log');
fs.writeFileSync(supp, SUPPRESSIONS);

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-')).length ? [] : DEFAULT_FILES;
const filter = `^(?!.*(${EXCLUDED.map(([p]) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})).*$`;
const vitest = path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const VALGRIND_ERRORS = 99;
const t0 = Date.now();
console.log(`test:valgrind: ${[...files, ...args].join(' ')} under memcheck (minutes, not seconds); left out:`);
for (const [p, why] of EXCLUDED) console.log(`  "${p}": ${why}`);
const r = spawnSync(
  'valgrind',
  [
    '--tool=memcheck',
    `--error-exitcode=${VALGRIND_ERRORS}`,
    '--leak-check=no',
    '--trace-children=no',
    '--num-callers=30',
    `--suppressions=${supp}`,
    `--log-file=${log}`,
    process.execPath,
    vitest,
    'run',
    '--pool=threads',
    '--maxWorkers=1',
    '--testTimeout=600000',
    '--hookTimeout=600000',
    '-t',
    filter,
    ...files,
    ...args,
  ],
  { cwd: root, stdio: 'inherit' },
);
const text = fs.readFileSync(log, 'utf8');
const summary = /ERROR SUMMARY: (\d+) errors from (\d+) contexts \(suppressed: (\d+) from (\d+)\)/.exec(text);
const errors = summary ? Number(summary[1]) : NaN;
if (errors !== 0) {
  // valgrind's log without its notes about large address ranges (V8 reserves a lot of them).
  console.error(
    text
      .split('\n')
      .filter((l) => !/Warning: set address range perms/.test(l))
      .join('\n'),
  );
}
console.log(
  `test:valgrind: memcheck ${summary ? `${summary[1]} errors from ${summary[2]} contexts (${summary[3]} suppressed)` : 'did not finish'}; vitest ${r.status === 0 ? 'passed' : r.status === VALGRIND_ERRORS ? "exit status replaced by memcheck's" : 'failed'}; ${Math.round((Date.now() - t0) / 1000)} s`,
);
fs.rmSync(work, { recursive: true, force: true });
const pass = r.status === 0 && errors === 0;
console.log(`test:valgrind: ${pass ? 'PASS' : 'FAIL'}`);
process.exit(pass ? 0 : 1);
