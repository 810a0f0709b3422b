// No wait for the JS thread lasts for ever (native/callback/cross_thread.cc): a call from another
// thread gets its fallback when the process or a worker exits (process.exit, from inside the
// callback or while it waits, and exit() from C), when its deadline passes, and at once when the JS
// thread is joining the calling thread. Each scenario runs in a child process
// (test/call/callback_waits.cjs); the timeouts below are hang guards only, many times what each takes.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastJsonLine, limiter, runNode } from '../child';

const script = path.join(__dirname, 'callback_waits.cjs');
const HANG_GUARD_MS = 60_000;
const two = limiter(2);
const run = (scenario: string) => two(() => runNode(script, [scenario], { timeoutMs: HANG_GUARD_MS }));

describe('exit while a call from another thread waits for the JS thread', () => {
  it.concurrent.each([
    'exit-inside-temporary',
    'exit-while-temporary-waits',
    'exit-inside-registered',
    'exit-while-registered-waits',
    'exit-inside-struct-callback',
    'exit-while-library-thread-waits',
    'exit-while-joined-thread-waits',
  ])('%s: process.exit(7) exits with 7', async (scenario) => {
    const r = await run(scenario);
    expect(r.timedOut, `hung: ${r.stderr}`).toBe(false);
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(7);
  });

  // The released pool thread ends its work item in node's code while exit() goes on: a race with
  // node's static destructors that one run lost about 1 time in 5 before the pool was joined at exit
  // (native/common/pool_exit.h). Several runs, so that it cannot pass by luck.
  const EXIT_FROM_C_RUNS = 8;
  it(`exit() called by C on the JS thread while a pool thread waits: exits with its code, ${EXIT_FROM_C_RUNS} runs (an atexit handler releases the wait)`, async () => {
    const runs = await Promise.all(Array.from({ length: EXIT_FROM_C_RUNS }, () => run('exit-from-c')));
    for (const r of runs) {
      expect(r.timedOut, `hung: ${r.stderr}`).toBe(false);
      expect(r.signal, r.stderr).toBeNull();
      expect(r.code, r.stderr).toBe(9);
    }
  });

  it("exit() called by C while an .async call returns: its pool thread finishes before node's statics go", async () => {
    const r = await run('exit-from-c-while-call-returns');
    expect(r.timedOut, `hung: ${r.stderr}`).toBe(false);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(9);
  });

  it('a worker that exits from inside a callback: the worker ends with its code, the process goes on', async () => {
    const r = await run('exit-worker-inside-callback');
    expect(r.timedOut, `hung: ${r.stderr}`).toBe(false);
    expect(lastJsonLine(r.stdout, 'worker')).toEqual({ worker: 3 });
    expect(r.code, r.stderr).toBe(7);
  });
});

describe('a deadline, and deadlocks found at once', () => {
  it('past timeoutMs C gets the fallback, the event is counted and logged, and later calls are served', async () => {
    const r = await run('deadline');
    expect(r.code, r.stderr).toBe(0);
    const out = lastJsonLine<{ v: number; again: number; timedOut: number; stats: { timedOut: number; deadlocked: number } }>(r.stdout, 'v');
    expect(out).toMatchObject({ v: -1, again: 42, timedOut: 1, stats: { timedOut: 1, deadlocked: 0 } });
    expect(r.stderr).toMatch(/the JS thread did not run it within 100 ms \(busy, or blocked\): C got the fallback value \(timed out 1 time\)/);
  });

  it('a function stuck past timeoutMs: C gets the fallback while it runs, its late result is dropped', async () => {
    const r = await run('deadline-while-running');
    expect(r.timedOut, `hung: ${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJsonLine(r.stdout, 'v')).toEqual({ v: -1, timedOut: 1 });
  });

  it('a registered callback called from a thread that a synchronous call joins: the fallback at once, reported as a deadlock', async () => {
    const r = await run('deadlock');
    expect(r.timedOut, `hung: ${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    // Synchronously: the deadlock is seen and C gets -5; through .async the same call is served.
    expect(lastJsonLine(r.stdout, 'v')).toMatchObject({ v: -5, async: 42, deadlocked: 1, stats: { deadlocked: 1, timedOut: 0 } });
    expect(r.stderr).toMatch(
      /while the JS thread was joining that very thread .* C got the fallback value at once \(deadlock 1\)\. Make that call with \.async\./,
    );
  });
});
