// Process-wide state a load job needs is read on the JS thread and handed to the job (issue 21 item
// 1; lib/load/process_state.ts): the loader thread never reads node's environment, which a JS
// thread's setenv may be reallocating (a SIGSEGV before), nor the current directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { environmentEntries } from '../../lib/load/process_state';
import { fixture, root, runChild, underAsan } from '../helpers';

const V1 = fixture('libbasic_v1.so');
const V2 = fixture('libbasic_v2.so');
const dist = path.join(root, 'dist', 'index.js');

describe('setenv on JS threads while loads run', () => {
  // A worker sharing the real environment (SHARE_ENV) adds and removes variables without pause, so
  // that glibc keeps reallocating and freeing the environ array, while the main thread loads and
  // reloads. Counts, not time, bound each loop. fresh-namespace is limited in namespaces per process
  // (docs/isolation.md), hence its short series.
  const plan: Record<string, number> = { namespace: 300, 'fresh-namespace': 8, local: 150, deepbind: 150 };
  const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

  it.each(modes)('%s: openAsync, close and HotLibrary reloads survive a worker churning process.env', (mode) => {
    const n = plan[mode];
    const r = runChild(
      `const { Worker, SHARE_ENV } = require('node:worker_threads');
       const churn = new Worker(\`
         const { parentPort } = require('node:worker_threads');
         let k = 0, stop = false;
         parentPort.on('message', () => (stop = true));
         (function loop() {
           for (let i = 0; i < 200; i++) {
             process.env['DLSWAP_CHURN_' + k] = 'x'.repeat(k % 97);
             if (k >= 400) delete process.env['DLSWAP_CHURN_' + (k - 400)];
             k++;
           }
           if (!stop) setImmediate(loop); else parentPort.close();
         })();\`, { eval: true, env: SHARE_ENV });
       (async () => {
         const mode = ${JSON.stringify(mode)};
         let opened = 0, reloads = 0;
         for (let i = 0; i < ${n}; i++) {
           const lib = await dlswap.openAsync(i % 2 ? ${JSON.stringify(V2)} : ${JSON.stringify(V1)}, { isolation: mode });
           if (lib.func('int version(void)')() === (i % 2 ? 2 : 1)) opened++;
           await lib.close();
         }
         if (mode !== 'fresh-namespace') {
           const hot = await dlswap.HotLibrary.open(${JSON.stringify(V1)}, { isolation: mode, functions: { version: 'int version(void)' } });
           for (let i = 1; i <= ${n}; i++) {
             await hot.reload(i % 2 ? ${JSON.stringify(V2)} : ${JSON.stringify(V1)});
             if (hot.fn.version() === (i % 2 ? 2 : 1)) reloads++;
           }
           await hot.close();
         }
         churn.postMessage('stop');
         console.log(JSON.stringify({ opened, reloads }));
       })().catch((e) => { console.error(e); process.exit(2); });`,
      { timeout: 300_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ opened: n, reloads: mode === 'fresh-namespace' ? 0 : n });
  });
});

describe('the environment a namespace library reads', () => {
  it.each(['namespace', 'fresh-namespace'])("%s: a worker's loads give the library that worker's process.env", (mode) => {
    // A worker's process.env is its own copy (unless it shares the real one): what its JS sees is
    // what the libraries it loads see, and the main thread's loads keep the main environment.
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
       process.env.DLSWAP_WHOSE = 'main';
       const w = new Worker(\`
         const dlswap = require(${JSON.stringify(dist)});
         process.env.DLSWAP_WHOSE = 'worker';
         const lib = dlswap.open(${JSON.stringify(V1)}, { isolation: ${JSON.stringify(mode)} });
         require('node:worker_threads').parentPort.postMessage(lib.func('const char *getenv(const char *name)')('DLSWAP_WHOSE'));
         lib.close();\`, { eval: true });
       w.on('message', (inWorker) => {
         w.terminate().then(() => {
           const lib = dlswap.open(${JSON.stringify(V2)}, { isolation: ${JSON.stringify(mode)} });
           console.log(JSON.stringify({ inWorker, inMain: lib.func('const char *getenv(const char *name)')('DLSWAP_WHOSE') }));
         });
       });
       w.on('error', (e) => { console.error(e); process.exit(2); });`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ inWorker: 'worker', inMain: 'main' });
  });
});

describe('the environment handed over unchanged', () => {
  it('environmentEntries gives the same frozen array while process.env reads the same, a new one after any change', () => {
    const name = `DLSWAP_ENTRIES_${process.pid}`;
    delete process.env[name];
    const first = environmentEntries();
    expect(Object.isFrozen(first)).toBe(true);
    expect(environmentEntries()).toBe(first);
    try {
      process.env[name] = 'a';
      const added = environmentEntries();
      expect(added).not.toBe(first);
      expect(added).toContain(`${name}=a`);
      expect(environmentEntries()).toBe(added);
      process.env[name] = 'b';
      const changed = environmentEntries();
      expect(changed).not.toBe(added);
      expect(changed).toContain(`${name}=b`);
      delete process.env[name];
      const removed = environmentEntries();
      expect(removed).not.toBe(changed);
      expect(removed).toEqual(first);
    } finally {
      delete process.env[name];
    }
  });

  it.each(['namespace', 'fresh-namespace'])('%s: each load sees process.env as it is, across changes, repeats, and a worker loading in between', (mode) => {
    // The loader keeps the last environment it parsed per JS environment (native/loader/jobs_js.cc):
    // a load after another thread's loads, with this thread's environment unchanged, must still get
    // this thread's environment, and a change must reach the very next load.
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
         const mode = ${JSON.stringify(mode)};
         const seen = [];
         const look = async (file) => {
           const lib = await dlswap.openAsync(file, { isolation: mode });
           seen.push(lib.func('const char *getenv(const char *name)')('DLSWAP_SEEN'));
           await lib.close();
         };
         (async () => {
           process.env.DLSWAP_SEEN = 'a';
           await look(${JSON.stringify(V1)});
           await look(${JSON.stringify(V2)});
           process.env.DLSWAP_SEEN = 'b';
           await look(${JSON.stringify(V1)});
           delete process.env.DLSWAP_SEEN;
           await look(${JSON.stringify(V2)});
           process.env.DLSWAP_SEEN = 'main';
           await look(${JSON.stringify(V1)});
           const w = new Worker(\`
             const dlswap = require(${JSON.stringify(dist)});
             process.env.DLSWAP_SEEN = 'worker';
             (async () => {
               const lib = await dlswap.openAsync(${JSON.stringify(V2)}, { isolation: ${JSON.stringify(mode)} });
               const got = lib.func('const char *getenv(const char *name)')('DLSWAP_SEEN');
               await lib.close();
               require('node:worker_threads').parentPort.postMessage(got);
             })();\`, { eval: true });
           const inWorker = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
           await w.terminate();
           seen.push(inWorker);
           await look(${JSON.stringify(V1)});
           console.log(JSON.stringify(seen));
         })().catch((e) => { console.error(e); process.exit(2); });`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(['a', 'a', 'b', null, 'main', 'worker', 'main']);
  });
});

describe('the current directory', () => {
  it('openAsync of a relative path loads the file relative to where the JS thread was when it asked, whatever chdir follows', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-cwd-'));
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-cwd-other-'));
    fs.copyFileSync(V1, path.join(dir, 'librel.so'));
    try {
      // In a child: process.chdir() is refused in vitest's workers, and changes the whole process.
      const r = runChild(
        `process.chdir(${JSON.stringify(dir)});
         (async () => {
           const loads = [];
           for (let i = 0; i < 20; i++) {
             process.chdir(${JSON.stringify(dir)});
             loads.push(dlswap.openAsync('./librel.so', { isolation: i % 2 ? 'namespace' : 'local' }));
             // The job runs on the loader thread later; the directory changes right away, to one
             // without the file.
             process.chdir(${JSON.stringify(elsewhere)});
           }
           const libs = await Promise.all(loads);
           const versions = libs.map((l) => l.func('int version(void)')());
           for (const l of libs) await l.close();
           process.chdir(${JSON.stringify(dir)});
           console.log(JSON.stringify({ versions: [...new Set(versions)], count: versions.length }));
         })().catch((e) => { console.error(e.code, e.message); process.exit(2); });`,
      );
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ versions: [1], count: 20 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
