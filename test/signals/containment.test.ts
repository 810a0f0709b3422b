// Fault containment (docs/faults.md): each planted fault of fixtures-c/faults/faults.c, raised in a
// call through dlswap, ends that call with ERR_DLSWAP_FAULT and the process goes on; the library is
// quarantined. Every signal x {sync, .async, a call made inside a JS callback, a worker thread} x
// every isolation mode, each cell in a child process (a fault that escapes ends only that child).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runNode } from '../child';
import { fixture, root, underAsan } from '../helpers';

const DIST = path.join(root, 'dist', 'index.js');
const MATRIX = path.join(__dirname, 'fault_matrix.cjs');
const LIB = fixture('libfaults_v1.so');

// The kinds of faults.c (K_*) and the signal each raises.
const KINDS: [number, string, string][] = [
  [1, 'SIGSEGV', 'a write through a null pointer'],
  [2, 'SIGBUS', 'a write past the end of a mapped file'],
  // aarch64 has no trap for it (the quotient is 0): SIGFPE is x86-64's.
  ...(process.arch === 'x64' ? [[3, 'SIGFPE', 'an integer division by zero'] as [number, string, string]] : []),
  [4, 'SIGILL', 'an illegal instruction'],
  [5, 'SIGABRT', 'abort()'],
  [6, 'SIGSEGV', 'a stack overflow (runs on the alternate signal stack)'],
  [7, 'pthread_exit', 'pthread_exit() during the call'],
];
const MODES = ['local', 'deepbind', 'namespace', 'fresh-namespace'].filter((m) => !(underAsan && m === 'deepbind'));
const CONTEXTS = ['sync', 'async', 'callback', 'worker'] as const;
const ROLE: Record<(typeof CONTEXTS)[number], string> = { sync: 'main', async: 'pool', callback: 'main', worker: 'worker' };

interface Cell {
  kind: number;
  code: string;
  signal: string | null;
  role: string | null;
  where: string | null;
  after: string;
  quarantined: boolean;
  unloaded: boolean;
}

describe.each(MODES)('isolation %s', (mode) => {
  it.each(CONTEXTS)('every fault in a %s call ends the call with ERR_DLSWAP_FAULT; the process goes on', async (context) => {
    const r = await runNode(MATRIX, [DIST, LIB, mode, context, KINDS.map((k) => k[0]).join(',')], { timeoutMs: 120_000 });
    expect({ code: r.code, signal: r.signal, timedOut: r.timedOut, stderr: r.stderr }).toEqual({ code: 0, signal: null, timedOut: false, stderr: '' });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { results: Cell[]; healthy: number };
    expect(out.healthy).toBe(42);
    for (const [kind, signal, what] of KINDS) {
      const cell = out.results.find((c) => c.kind === kind)!;
      expect({ what, code: cell.code, signal: cell.signal, role: cell.role }).toEqual({ what, code: 'ERR_DLSWAP_FAULT', signal, role: ROLE[context] });
      // The frame named is the library's (faults.c's static functions, by their .symtab names).
      expect(cell.where, what).toMatch(/libfaults_v1\.so/);
      // Quarantined: the next call is refused, close() leaves it mapped and says why.
      expect({ what, after: cell.after, quarantined: cell.quarantined, unloaded: cell.unloaded }).toEqual({
        what,
        after: 'ERR_DLSWAP_FAULTED',
        quarantined: true,
        unloaded: false,
      });
    }
  });
});
