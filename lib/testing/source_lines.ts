/**
 * File and line for the frames of a fault report, from the library's debug information, through
 * binutils' `addr2line` when it is installed (dlswap does not read DWARF itself: docs/faults.md).
 * Used by the test harness, where a fault is a test's failure and its line is what a reader wants.
 */
import { spawnSync } from 'node:child_process';
import { isDlswapError } from '../errors';
import type { FaultError, FaultFrame } from '../containment';

/** A frame with its source location, when addr2line found one. */
export type SourceFrame = FaultFrame & { function?: string; file?: string; line?: number };

let addr2line: boolean | undefined;

/** Where `frame` (a frame of `library`, the file the library was opened from) is in the source. */
function locate(library: string, frame: FaultFrame, returnAddress: boolean): { function: string; file: string; line: number } | null {
  if (addr2line === false) return null;
  // A return address points after its call: the line is the call's.
  const at = frame.objectAddress - (returnAddress ? 1 : 0);
  const r = spawnSync('addr2line', ['-f', '-C', '-e', library, `0x${at.toString(16)}`], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    addr2line = false; // not installed: say nothing more, once
    return null;
  }
  addr2line = true;
  const [fn, where] = r.stdout.split('\n');
  const m = /^(.*):(\d+)(?: \(discriminator \d+\))?$/.exec(where ?? '');
  if (!m || m[1] === '??' || m[2] === '0') return null;
  return { function: fn, file: m[1], line: Number(m[2]) };
}

/**
 * Adds `file` and `line` to the frames of `e` (an ERR_DLSWAP_FAULT or ERR_DLSWAP_FAULTED) that are
 * in `library`, and a "C stack" section to its message. Anything else is returned as it is.
 */
export function withSourceLines<E>(e: E, library: string): E {
  if (!isDlswapError(e, 'ERR_DLSWAP_FAULT') && !isDlswapError(e, 'ERR_DLSWAP_FAULTED')) return e;
  const fault = (e as unknown as FaultError).fault;
  if (!fault || (fault as { sourced?: boolean }).sourced) return e;
  const lines: string[] = [];
  fault.frames.forEach((frame, i) => {
    const f = frame as SourceFrame;
    const mine = f.inLibrary && f.object === library;
    const where = mine ? locate(library, f, i > 0) : null;
    if (where) Object.assign(f, where);
    const name = where?.function ?? f.symbol ?? '??';
    lines.push(`    ${name} (${where ? `${where.file}:${where.line}` : `${f.object || '?'}${f.symbol ? `+0x${f.offset.toString(16)}` : ''}`})`);
  });
  Object.defineProperty(fault, 'sourced', { value: true });
  if (lines.length > 0) (e as unknown as Error).message += `\n  C stack (innermost first):\n${lines.join('\n')}`;
  return e;
}
