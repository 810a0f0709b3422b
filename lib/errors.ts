/**
 * Every error dlswap raises is an `Error` with a stable `code`. Branch on the code, not the message:
 * messages say what to do and may be reworded.
 */
import type { ReloadReport } from './hot/hot_types';
import type { FaultInfo } from './containment';

export type DlswapErrorCode =
  | 'ERR_DLSWAP_ARG'
  | 'ERR_DLSWAP_NOT_FOUND'
  | 'ERR_DLSWAP_NOT_A_FILE'
  | 'ERR_DLSWAP_ACCESS'
  | 'ERR_DLSWAP_EMPTY_FILE'
  | 'ERR_DLSWAP_NOT_ELF'
  | 'ERR_DLSWAP_BAD_ELF'
  | 'ERR_DLSWAP_WRONG_ARCH'
  | 'ERR_DLSWAP_DEPENDENCY_NOT_FOUND'
  | 'ERR_DLSWAP_DEPENDENCY'
  | 'ERR_DLSWAP_DEPENDENCY_MISMATCH'
  | 'ERR_DLSWAP_UNRESOLVED_SYMBOL'
  | 'ERR_DLSWAP_LOAD_FAILED'
  | 'ERR_DLSWAP_NAMESPACE_EXHAUSTED'
  | 'ERR_DLSWAP_MODE_UNSUPPORTED'
  | 'ERR_DLSWAP_UNSAFE_MODE'
  | 'ERR_DLSWAP_SYMBOL_NOT_FOUND'
  | 'ERR_DLSWAP_CLOSED'
  | 'ERR_DLSWAP_BUSY'
  | 'ERR_DLSWAP_SIGNATURE'
  | 'ERR_DLSWAP_TEMP_AREA'
  | 'ERR_DLSWAP_INTEGRITY'
  | 'ERR_DLSWAP_ABI_VERSION'
  | 'ERR_DLSWAP_INIT_FAILED'
  | 'ERR_DLSWAP_RELOAD'
  | 'ERR_DLSWAP_DRAIN_TIMEOUT'
  | 'ERR_DLSWAP_TIMEOUT'
  | 'ERR_DLSWAP_STATE_TRANSFER'
  | 'ERR_DLSWAP_OUT_OF_BOUNDS'
  | 'ERR_DLSWAP_CALLBACK'
  | 'ERR_DLSWAP_NO_MEMORY'
  | 'ERR_DLSWAP_INTERNAL'
  | 'ERR_DLSWAP_ABORTED'
  | 'ERR_DLSWAP_NO_BINARY'
  | 'ERR_DLSWAP_UNSUPPORTED_PLATFORM'
  | 'ERR_DLSWAP_TEARDOWN_FAILED'
  | 'ERR_DLSWAP_STATIC_TLS'
  | 'ERR_DLSWAP_EXIT_DURING_LOAD'
  /** A type, value or length beyond a documented limit (docs/types.md#limits). */
  | 'ERR_DLSWAP_TOO_LARGE'
  /** Memory that lib.free already freed: freed again, or read or written (docs/types.md#memory). */
  | 'ERR_DLSWAP_FREED'
  | 'ERR_DLSWAP_UNSAFE_DIRECTORY'
  | 'ERR_DLSWAP_LOADER_HUNG'
  | 'ERR_DLSWAP_FAULT'
  | 'ERR_DLSWAP_FAULTED'
  | 'ERR_DLSWAP_BUILD_FAILED'
  /**
   * A handle (docs/hot-reload.md#handles-and-generations) given where it cannot go: to a function
   * of a generation (or library) that did not make it, or after it was released, or once its
   * generation was closed or quarantined.
   */
  | 'ERR_DLSWAP_STALE_HANDLE';

/**
 * The one error class of dlswap. `e instanceof DlswapError` is true for every error dlswap raises,
 * including those made natively by the addon and the argument errors that are, as Node's own
 * ERR_INVALID_ARG_TYPE, TypeErrors or RangeErrors (`code` 'ERR_DLSWAP_ARG'): `instanceof` checks
 * for an ERR_DLSWAP_* code, as isDlswapError() does, so it also holds across two copies of the
 * package in one process. Subclasses keep the ordinary prototype check.
 */
export class DlswapError extends Error {
  readonly code: DlswapErrorCode;
  /**
   * ERR_DLSWAP_RELOAD: the code of the error that made the reload fail (its `cause`), e.g.
   * ERR_DLSWAP_INIT_FAILED. Always an ERR_DLSWAP_* code (docs/reliability.md).
   */
  declare causeCode?: DlswapErrorCode;
  /** ERR_DLSWAP_RELOAD: the failed reload's report (`report.failedPhase`, `report.to`, `report.durations`...). */
  declare report?: ReloadReport;
  /** ERR_DLSWAP_FAULT, ERR_DLSWAP_FAULTED: the fault (the first one, for a quarantined library): docs/faults.md. */
  declare fault?: FaultInfo;
  constructor(code: DlswapErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DlswapError';
    this.code = code;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asked about, a subclass included
    if (this !== DlswapError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isDlswapError(value);
  }
}

export function isDlswapError(e: unknown, code?: DlswapErrorCode): e is DlswapError {
  try {
    if (!(e instanceof Error)) return false;
    const c = (e as Error & { code?: unknown }).code;
    return typeof c === 'string' && c.startsWith('ERR_DLSWAP_') && (code === undefined || c === code);
  } catch {
    return false; // a thrown Proxy or a throwing `code` getter: not one of ours
  }
}

/**
 * `e` if it already carries an ERR_DLSWAP_* code, else a DlswapError with `code` whose message starts
 * with `context` and whose cause is `e`. Every error dlswap reports, and every cause it names, has a
 * dlswap code: a Node.js error (ERR_OUT_OF_RANGE, ENOTDIR...) never surfaces as a code of its own.
 */
export function asDlswapError(e: unknown, code: DlswapErrorCode, context: string): DlswapError {
  if (isDlswapError(e)) return e;
  return new DlswapError(code, `${context}: ${describeThrown(e)}`, { cause: e });
}

/** What was thrown, as text, without letting a throwing toString (or message getter) escape. */
function describeThrown(e: unknown): string {
  try {
    return e instanceof Error ? String(e.message) : String(e);
  } catch {
    return 'a value that cannot be turned into text';
  }
}
