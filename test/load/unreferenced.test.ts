// What runs where when nobody closes (issue 21 item 16; docs/ARCHITECTURE.md, Threads): a Library
// that is collected without close() is unloaded on the loader thread, and a plugin's owed
// dlswap_fini at a worker's teardown runs there too, never on a JS thread. The fixture notes which
// thread ran its destructor, its fini and a plain call (plugin_report_to). And what nobody refers to
// any more is collected: a HotLibrary's retired generations.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixture, root, runChild } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const P2 = fixture('libplugin_v2.so');
const dist = path.join(root, 'dist', 'index.js');

let dir = '';
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-unreferenced-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The report lines, as { what, tid, pid }. */
function reportOf(file: string): { what: string; tid: number; pid: number }[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [what, tid, pid] = l.split(' ');
      return { what, tid: Number(tid), pid: Number(pid) };
    });
}

describe.each(['namespace', 'local'] as const)('%s', (mode) => {
  it('a Library collected without close() is unloaded on the loader thread, not the JS thread', () => {
    const report = path.join(dir, 'report');
    const r = runChild(
      `require('node:v8').setFlagsFromString('--expose-gc');
       const gc = require('node:vm').runInNewContext('gc');
       (() => {
         const lib = dlswap.open(${JSON.stringify(P1)}, { isolation: ${JSON.stringify(mode)} });
         lib.func('int plugin_report_to(const char *path)')(${JSON.stringify(report)});
         lib.func('int plugin_report_here(void)')();
       })();
       (async () => {
         const fs = require('node:fs');
         for (let i = 0; i < 100 && !fs.readFileSync(${JSON.stringify(report)}, 'utf8').includes('dtor'); i++) {
           gc();
           await new Promise((r) => setTimeout(r, 20));
         }
         console.log(JSON.stringify({ pid: process.pid }));
       })();`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { pid } = JSON.parse(r.stdout);
    const lines = reportOf(report);
    // The sync call ran on the JS thread (the process's first thread); the destructor, at the
    // dlclose of the collected image, on another one.
    expect(lines.map((l) => l.what)).toEqual(['call', 'dtor']);
    expect(lines[0]).toEqual({ what: 'call', tid: pid, pid });
    expect(lines[1].tid).not.toBe(pid);
  });

  it("a plugin's owed dlswap_fini at a worker's teardown runs on the loader thread, then the image is closed there", () => {
    // The worker leaves its HotLibrary open and ends: its environment's teardown owes fini.
    const report = path.join(dir, 'report');
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
       const w = new Worker(\`
         const { HotLibrary } = require(${JSON.stringify(dist)});
         HotLibrary.open(${JSON.stringify(P1)}, { isolation: ${JSON.stringify(mode)},
             functions: { to: 'int plugin_report_to(const char *path)', here: 'int plugin_report_here(void)' } })
           .then((hot) => { hot.fn.to(${JSON.stringify(report)}); hot.fn.here(); process.exit(0); });\`, { eval: true });
       w.on('exit', async () => {
         const fs = require('node:fs');
         for (let i = 0; i < 200 && !/dtor/.test(fs.readFileSync(${JSON.stringify(report)}, 'utf8')); i++) await new Promise((r) => setTimeout(r, 20));
         console.log(JSON.stringify({ pid: process.pid }));
       });`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { pid } = JSON.parse(r.stdout);
    const lines = reportOf(report);
    expect(lines.map((l) => l.what)).toEqual(['call', 'fini', 'dtor']);
    const [call, fini, dtor] = lines;
    // The worker's JS thread made the call; fini and the close ran on a thread that is neither it
    // nor the main thread.
    expect(call.tid).not.toBe(pid);
    expect(fini.tid).not.toBe(call.tid);
    expect(fini.tid).not.toBe(pid);
    expect(dtor.tid).not.toBe(call.tid);
    expect(dtor.tid).not.toBe(pid);
  });

  it('a retired generation is collected: the generations after it keep nothing of it', () => {
    // Each generation's function table (a lease's `fn`) is held weakly; after its retirement only a
    // leak (a closure of a later generation over it, a registry) could keep it. deref() keeps its
    // target until the end of the job, so each collection runs in a job of its own.
    const r = runChild(
      `require('node:v8').setFlagsFromString('--expose-gc');
       const gc = require('node:vm').runInNewContext('gc');
       function tableOf(hot) {
         const lease = hot.pin();
         lease.release();
         return new WeakRef(lease.fn);
       }
       (async () => {
         const hot = await dlswap.HotLibrary.open(${JSON.stringify(P1)}, { isolation: ${JSON.stringify(mode)},
             functions: { version: 'int plugin_version(void)' } });
         const tables = [];
         for (let i = 0; i < 5; i++) {
           tables.push(tableOf(hot));
           await hot.reload(i % 2 ? ${JSON.stringify(P1)} : ${JSON.stringify(P2)}, { wait: 'closed' });
         }
         for (let i = 0; i < 50 && tables.some((t) => t.deref()); i++) {
           await new Promise((r) => setTimeout(r, 10));
           gc();
         }
         console.log(JSON.stringify({ collected: tables.map((t) => t.deref() === undefined), current: hot.fn.version() }));
         await hot.close();
       })();`,
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ collected: [true, true, true, true, true], current: 2 });
  });
});
