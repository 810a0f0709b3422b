// Exit with libraries whose threads end during exit (issue 21 item 2). exit() runs the addon's static
// destructors before _dl_fini runs the libraries' destructors; a destructor that joins its threads
// (OpenBLAS's pool) then makes them run dlswap's thread-exit hooks, which must find everything they
// touch alive. Every case runs in a child, whose exit status is the verdict.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ISOLATION_MODES, type Isolation } from '../../lib/load/isolation';
import { findLibrary } from '../../lib/load/search';
import { fixture, runChild, underAsan } from '../helpers';

const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));
// Quiet, a case takes well under a second; the guard is only there to turn a hang into a failure.
const GUARD = { timeout: 60_000 };

function expectCleanExit(r: ReturnType<typeof runChild>, what: string): void {
  expect({ what, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ what, status: 0, signal: null, stderr: '' });
}

describe.each(modes)('%s', (mode: Isolation) => {
  // exit_join: the destructor stops and joins the library's thread; exit_detach: it only tells the
  // thread to stop, which then ends on its own while exit() goes on. Both keep starting short-lived
  // threads that carry a pthread key value until the end.
  it.each(['join', 'detach'])('node exits 0 with a library whose destructor stops its threads (%s), open at exit', (variant) => {
    for (const end of ['the event loop ends', 'process.exit(0)']) {
      const r = runChild(
        `const lib = dlswap.open(${JSON.stringify(fixture(`libexit_${variant}.so`))}, { isolation: ${JSON.stringify(mode)} });
         const started = lib.func('long exit_threads_started(void)');
         const wait = () => (started() > 3 ? ${end === 'process.exit(0)' ? 'process.exit(0)' : 'undefined'} : setTimeout(wait, 5));
         wait();`,
        GUARD,
      );
      expectCleanExit(r, `${variant}, ${end}`);
    }
  });

  it('node exits 0 while a load of such a library is in flight', () => {
    // libexit_slow's constructor takes 300 ms: process.exit() lands in the middle of the load, with
    // the library's threads already running and the loader thread inside the dynamic loader.
    const r = runChild(
      `for (let i = 0; i < 3; i++) dlswap.openAsync(${JSON.stringify(fixture('libexit_slow.so'))}, { isolation: ${JSON.stringify(mode)} }).catch(() => {});
       setTimeout(() => process.exit(0), 100);`,
      GUARD,
    );
    expectCleanExit(r, 'exit during a load');
  });
});

it('fresh-namespace: node exits 0 whenever exit lands in a series of loads', () => {
  // Each load of fresh-namespace makes a namespace and refreshes its environment copy (the state
  // exit used to destroy under the loader thread). Exits at several points of the series.
  for (const ms of [0, 5, 20, 60]) {
    const r = runChild(
      `(async () => {
         for (let i = 0; i < 6; i++) {
           const lib = await dlswap.openAsync(${JSON.stringify(fixture('libbasic_v1.so'))}, { isolation: 'fresh-namespace' });
           await lib.close();
         }
       })();
       setTimeout(() => process.exit(0), ${ms});`,
      GUARD,
    );
    expectCleanExit(r, `exit after ${ms} ms`);
  }
});

describe('OpenBLAS (Debian libopenblas0-pthread), whose destructor joins its thread pool', () => {
  const blas = findLibrary('libopenblas.so.0').path;

  it('is installed (.ci/run installs it)', () => {
    expect(blas, 'libopenblas.so.0 (Debian package libopenblas0-pthread) must be installed').not.toBeNull();
  });

  it.each(modes)('%s: opened, used, left open: node exits 0', (mode) => {
    expect(blas).not.toBeNull();
    const r = runChild(
      `const lib = dlswap.open('libopenblas.so.0', { isolation: ${JSON.stringify(mode)} });
       const ddot = lib.func('double cblas_ddot(int n, const double *x, int incx, const double *y, int incy)');
       const x = new Float64Array(4096).fill(1), y = new Float64Array(4096).fill(2);
       console.log(ddot(4096, x, 1, y, 1), lib.func('int openblas_get_num_threads(void)')() > 0);`,
      { ...GUARD, env: { OPENBLAS_NUM_THREADS: '4' } },
    );
    expect(r.stdout.trim()).toBe('8192 true');
    expectCleanExit(r, `OpenBLAS in ${mode}`);
  });
});

it('the fixtures the cases above rely on were built', () => {
  for (const f of ['libexit_join.so', 'libexit_detach.so', 'libexit_slow.so']) expect(fs.existsSync(fixture(f)), f).toBe(true);
});
