#!/usr/bin/env node
'use strict';
/**
 * The thin-loader architecture, end to end, in one isolation mode (test/hot/core_library.test.ts runs it
 * in a child process per mode, so that a crash fails that mode and nothing else):
 *
 *   node test/core_library/swap.cjs <mode>
 *
 * A HotLibrary serves the core library (fixtures-c/core: OpenSSL, std::cerr, exceptions, a mutex and
 * a thread of its own) from one path, `libcore.so` in a scratch directory, and swaps it
 * v1 -> v2 -> v1 -> v2 -> v1 while sync and async calls run continuously:
 *   - v2 is copied over the serving path (a new file renamed into place), then reload();
 *   - then reload(<path of libcore_v1.so>): a reload by path;
 *   - then reload(<serving path>), which still holds v2;
 *   - then v1 is copied over the serving path, then reload().
 * Every answer is checked against the generation that was current when the call was issued (the
 * version that generation was loaded from) and against node's sha256 of the request.
 *
 * Prints one JSON line { core, outcome, ... } and exits 0 when every answer was right (or, in
 * deepbind, when the library was refused as expected: the test asserts the code).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dlswap = require(path.join(root, 'dist', 'index.js'));

const mode = process.argv[2];
const SERVE_MS = 60;
const ASYNC_LOOPS = 3;
const OUT_CAP = 128;
const FUNCTIONS = {
  core_handle: 'int core_handle(const char *req, char *out, size_t cap)',
  core_version: 'int core_version(void)',
};

const result = { core: mode, outcome: 'ok', failures: [], failureCount: 0 };
let phase = 'start';
function enter(p) {
  phase = p;
  process.stderr.write(`[core ${mode}] ${p}\n`);
}
function fail(what, detail) {
  result.failureCount++;
  if (result.failures.length < 20) result.failures.push({ what, ...detail });
  process.stderr.write(`[core ${mode}] FAIL ${what}: ${JSON.stringify(detail)}\n`);
}
function finish() {
  if (result.failureCount > 0 && result.outcome === 'ok') result.outcome = 'wrong';
  result.phase = phase;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(result.outcome === 'ok' || result.outcome === 'refused' ? 0 : 1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const v1 = path.join(root, 'build', 'fixtures', 'libcore_v1.so');
const v2 = path.join(root, 'build', 'fixtures', 'libcore_v2.so');

/** Replaces `dest` by a copy of `src`: a new file renamed over it, never a write into a mapped file. */
function install(src, dest) {
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.copyFileSync(src, tmp);
  fs.renameSync(tmp, dest);
}

/** Names of this process's threads (/proc/self/task/<tid>/comm). */
function threadNames() {
  return fs.readdirSync('/proc/self/task').map((t) => {
    try {
      return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  });
}

const ANSWER = /^core-v(\d+) ([0-9a-f]{64}) kind=(text|num|big)$/;

async function main() {
  if (!fs.existsSync(v1) || !fs.existsSync(v2)) {
    result.outcome = 'missing';
    result.message =
      'build/fixtures/libcore_v1.so / libcore_v2.so are not built: install OpenSSL headers (Debian: libssl-dev), then run npm run build:fixtures';
    finish();
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-core-'));
  const serving = path.join(dir, 'libcore.so');
  install(v1, serving);

  enter('HotLibrary.open');
  let hot;
  try {
    hot = await dlswap.HotLibrary.open(serving, { isolation: mode, functions: FUNCTIONS });
  } catch (e) {
    result.outcome = 'refused';
    result.code = e.code;
    result.causeCode = e.causeCode;
    result.message = e.message;
    // A plain open must refuse the same way.
    try {
      await dlswap.open(serving, { isolation: mode }).close();
      result.plainOpen = 'opened';
    } catch (e2) {
      result.plainOpen = e2.code;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    finish();
    return;
  }

  // Which version each generation was loaded from: known to this script, not asked of the library.
  const versionOf = new Map([[1, 1]]);
  let loading = 1;
  hot.on('reload', (r) => versionOf.set(r.to, loading));
  const logs = [];
  hot.on('log', (e) => logs.push(e));
  hot.on('error', (e) => fail('HotLibrary error event', { message: e.message }));

  const answers = { sync: {}, async: {} };
  let straddled = 0;
  let n = 0;
  const nextRequest = () => {
    n++;
    // Mostly text (the library throws and catches parsing it), sometimes a number (no exception).
    return n % 50 === 0 ? String(n) : `req-${n}-${'x'.repeat(n % 97)}`;
  };
  const checkAnswer = (kind, gen, req, len, out) => {
    const want = versionOf.get(gen);
    const text = len > 0 ? out.toString('utf8', 0, len) : `(core_handle returned ${len})`;
    const m = ANSWER.exec(text);
    const hash = crypto.createHash('sha256').update(req).digest('hex');
    const wantKind = /^\d+$/.test(req) ? 'num' : 'text';
    if (!m || Number(m[1]) !== want || m[2] !== hash || m[3] !== wantKind) {
      fail(`${kind} answer`, { generation: gen, request: req, got: text, expected: `core-v${want} ${hash} kind=${wantKind}` });
      return;
    }
    answers[kind][want] = (answers[kind][want] ?? 0) + 1;
  };

  let stop = false;
  const syncLoop = (async () => {
    const out = Buffer.alloc(OUT_CAP);
    while (!stop) {
      for (let i = 0; i < 20; i++) {
        const gen = hot.current;
        const req = nextRequest();
        try {
          checkAnswer('sync', gen, req, hot.fn.core_handle(req, out, BigInt(OUT_CAP)), out);
        } catch (e) {
          fail('sync call', { generation: gen, message: e.message, code: e.code });
        }
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  const asyncLoop = async () => {
    while (!stop) {
      const gen = hot.current;
      const req = nextRequest();
      const out = Buffer.alloc(OUT_CAP);
      try {
        const len = await hot.fn.core_handle.async(req, out, BigInt(OUT_CAP));
        if (hot.current !== gen) straddled++;
        checkAnswer('async', gen, req, len, out);
      } catch (e) {
        fail('async call', { generation: gen, message: e.message, code: e.code });
      }
    }
  };
  const asyncLoops = Array.from({ length: ASYNC_LOOPS }, asyncLoop);

  const installAndReload = (file) => {
    install(file, serving);
    return hot.reload();
  };
  const swaps = [
    ['copy v2 over the serving path, reload()', 2, () => installAndReload(v2)],
    ['reload(libcore_v1.so)', 1, () => hot.reload(v1)],
    ['reload(serving path), which holds v2', 2, () => hot.reload(serving)],
    ['copy v1 over the serving path, reload()', 1, () => installAndReload(v1)],
  ];
  result.swaps = [];
  enter('load on generation 1');
  await sleep(SERVE_MS);
  for (const [what, version, swap] of swaps) {
    enter(what);
    loading = version;
    try {
      const r = await swap();
      result.swaps.push({ what, from: r.from, to: r.to, version, unloaded: r.unloaded, pinnedReason: r.pinnedReason });
      if (hot.fn.core_version() !== version) fail('core_version after the swap', { got: hot.fn.core_version(), expected: version });
    } catch (e) {
      fail(what, { message: e.message, code: e.code, causeCode: e.causeCode });
      break;
    }
    enter(`load on generation ${hot.current}`);
    await sleep(SERVE_MS);
  }
  stop = true;
  enter('stop load');
  await syncLoop;
  await Promise.all(asyncLoops);
  enter('close');
  await hot.close();

  result.answers = answers;
  result.straddled = straddled;
  result.generations = hot
    .generations()
    .map((g) => ({ id: g.id, state: g.state, version: g.version, calls: g.calls, unloaded: g.unloaded, pinnedReason: g.pinnedReason }));
  // Every generation said it was ready through the host's log, from its own init.
  result.readyLogs = logs.filter((e) => /^core v\d ready$/.test(e.message)).map((e) => [e.generation, e.message]);
  // dlswap_fini joined each generation's auditor before it was unloaded.
  await sleep(50);
  result.auditorThreadsLeft = threadNames().filter((t) => t === 'core-auditor').length;
  fs.rmSync(dir, { recursive: true, force: true });
  enter('done');
  finish();
}

const deadline = Number(process.env.DLSWAP_CELL_DEADLINE_MS || 60_000);
setTimeout(() => {
  result.outcome = 'timeout';
  fail('deadline', { message: `no result after ${deadline} ms, in phase '${phase}'` });
  finish();
}, deadline);
process.on('uncaughtException', (e) => {
  fail(`uncaught exception in phase '${phase}'`, { message: e.message });
  finish();
});
process.on('unhandledRejection', (e) => {
  fail(`unhandled rejection in phase '${phase}'`, { message: e?.message });
  finish();
});
main().catch((e) => {
  fail(`phase '${phase}'`, { message: e.message });
  finish();
});
