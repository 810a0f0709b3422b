#!/usr/bin/env node
'use strict';
/**
 * Native memory per reload (issue 21 item 11), in one isolation mode
 * (test/hot/reload_memory.test.ts runs it in a child process per mode):
 *
 *   node test/hot/reload_memory.cjs <mode> <warm-up reloads> <measured reloads>
 *
 * Reloads a HotLibrary between the plugin's two builds, a sync call after each. Over the measured
 * reloads, after a full GC, it samples the bytes node's C library allocator has handed out
 * (fixtures-c/heap_probe, opened in 'local' so that it reads node's own malloc) and V8's heap in
 * use. RSS is no measure here: V8 grows its young generation over the first thousands of reloads.
 * First a control: a 1 MiB lib.alloc block must show in the probe, or the probe sees nothing.
 * Prints one JSON line: { mode, control, samples: [[reload, mallocBytes, heapUsedBytes], ...] }.
 */
const path = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');

const root = path.resolve(__dirname, '..', '..');
const { HotLibrary, open } = require(path.join(root, 'dist', 'index.js'));
const fixture = (name) => path.join(root, 'build', 'fixtures', name);

const [mode, warmup, measured] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const SAMPLES = 10;
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

async function settle() {
  // Finalizers of collected native handles run after the collection: collect, let them run, again.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

(async () => {
  const probe = open(fixture('libheap_probe.so'), { isolation: 'local' });
  const inUse = probe.func('size_t heap_in_use(void)');
  const before = Number(inUse());
  const block = probe.alloc(1 << 20);
  const control = Number(inUse()) - before;
  probe.free(block);

  const hot = await HotLibrary.open(fixture('libplugin_v1.so'), { isolation: mode, functions: { version: 'int plugin_version(void)' } });
  const samples = [];
  for (let i = 1 - warmup; i <= measured; i++) {
    const v = i % 2 ? 2 : 1;
    await hot.reload(fixture(`libplugin_v${v}.so`));
    if (hot.fn.version() !== v) throw new Error(`reload ${i} serves version ${hot.fn.version()}, not ${v}`);
    if (i >= 0 && i % (measured / SAMPLES) === 0) {
      await settle();
      samples.push([i, Number(inUse()), process.memoryUsage().heapUsed]);
    }
  }
  await hot.close();
  await probe.close();
  process.stdout.write(`${JSON.stringify({ mode, control, samples })}\n`);
})().catch((e) => {
  process.stderr.write(`${e?.stack}\n`);
  process.exitCode = 1;
});
