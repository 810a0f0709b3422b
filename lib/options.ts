/**
 * Validation of every options object the API takes (`open`, `HotLibrary.open`, `reload`, `func`,
 * `watch`), in one place, before anything is copied, loaded or started.
 *
 * Each entry point passes what it was given through one of the functions below and then uses only
 * what came back: a plain, frozen snapshot. So every getter runs exactly once, here (one that throws
 * becomes an ERR_DLSWAP_ARG naming the option); unknown keys are refused with the closest known
 * one suggested (`isolaton` -> `isolation`), never silently ignored; and a value of the wrong type
 * or out of range is refused with the option's name and what it accepts, rather than failing later
 * with a plain TypeError half-way through a load, or being quietly misread (`abi: { min: 'a' }`
 * used to disable the ABI check, `drainTimeoutMs: NaN` to fire after 1 ms).
 *
 * Only own enumerable keys are read; `undefined` means "not given" (the default applies).
 */
import { DlswapError } from './errors';
import { ISOLATION_MODES, type Isolation } from './load/isolation';
import { parsePrototype, signatureFromObject, type SignatureObject } from './signature/signature';
import type { TypeScope } from './signature/ctype_model';

/** setTimeout's largest delay; a larger one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

type Check<T> = (value: unknown, label: string) => T;

function argError(message: string, cause?: unknown): DlswapError {
  return new DlswapError('ERR_DLSWAP_ARG', message, cause === undefined ? undefined : { cause });
}

/** A short, safe description of a value for messages (never runs user code). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
    case 'number':
    case 'boolean':
      return String(v);
    case 'bigint':
      return `${v}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return Array.isArray(v) ? 'an array' : 'an object';
  }
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

function suggestion(key: string, known: string[], prefix: string): string {
  const lower = key.toLowerCase();
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.toLowerCase() === lower ? 0 : distance(lower.slice(0, 64), k.toLowerCase());
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(best.length / 4)) ? ` (did you mean '${prefix}${best}'?)` : '';
}

/**
 * Reads `options` once into a plain object, checking each key against `schema`. `where` names the
 * call for messages (`open(path, options)`), `prefix` the nesting (`watch.`).
 */
function snapshot<S extends Record<string, Check<unknown>>>(
  options: unknown,
  where: string,
  schema: S,
  prefix = '',
): { [K in keyof S]?: ReturnType<S[K]> } {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    const what = prefix ? `option '${prefix.slice(0, -1)}'` : 'options';
    throw argError(`${where}: ${what} must be an object, not ${describeValue(options)}`);
  }
  let keys: string[];
  try {
    keys = Object.keys(options);
  } catch (e) {
    throw argError(`${where}: the options object could not be read: ${(e as Error)?.message ?? String(e)}`, e);
  }
  const known = Object.keys(schema);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const name = `${prefix}${key}`;
    if (!Object.prototype.hasOwnProperty.call(schema, key)) {
      throw argError(`${where}: unknown option '${name}'${suggestion(key, known, prefix)}. Known options: ${known.map((k) => `${prefix}${k}`).join(', ')}.`);
    }
    let value: unknown;
    try {
      value = (options as Record<string, unknown>)[key];
    } catch (e) {
      throw argError(`${where}: reading option '${name}' threw: ${(e as Error)?.message ?? String(e)}`, e);
    }
    if (value === undefined) continue;
    out[key] = schema[key](value, `${where}: option '${name}'`);
  }
  return Object.freeze(out) as { [K in keyof S]?: ReturnType<S[K]> };
}

const bool: Check<boolean> = (v, label) => {
  if (typeof v !== 'boolean') throw argError(`${label} must be true or false, not ${describeValue(v)}`);
  return v;
};

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, label) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw argError(`${label} must be one of ${values.map((x) => `'${x}'`).join(', ')}, not ${describeValue(v)}`);
    }
    return v as T;
  };
}

/** A duration in milliseconds: a finite number in [0, MAX_TIMER_MS]. */
const ms: Check<number> = (v, label) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_TIMER_MS) {
    throw argError(`${label} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, not ${describeValue(v)}`);
  }
  return v;
};

const sha256: Check<string> = (v, label) => {
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) {
    throw argError(`${label} must be a sha256 digest: 64 hexadecimal digits, not ${describeValue(v)}`);
  }
  return v;
};

const isolation: Check<Isolation> = oneOf(ISOLATION_MODES);

const signal: Check<AbortSignal> = (v, label) => {
  if (!(v instanceof AbortSignal)) throw argError(`${label} must be an AbortSignal (from an AbortController, or AbortSignal.timeout(ms)), not ${describeValue(v)}`);
  return v;
};

// A type registry made by types() (lib/signature/ctypes.ts checks its class where it is used).
const registry: Check<object> = (v, label) => {
  if (v === null || typeof v !== 'object') throw argError(`${label} must be a registry made by types() (see docs/types.md), not ${describeValue(v)}`);
  return v;
};

const fn: Check<(...args: never[]) => unknown> = (v, label) => {
  if (typeof v !== 'function') throw argError(`${label} must be a function, not ${describeValue(v)}`);
  return v as (...args: never[]) => unknown;
};

const u32: Check<number> = (v, label) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw argError(`${label} must be an integer from 0 to 4294967295, not ${describeValue(v)}`);
  }
  return v;
};

const u64: Check<bigint> = (v, label) => {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw argError(`${label} must be a bigint from 0n to 2n ** 64n - 1n, not ${describeValue(v)}`);
  }
  return v;
};

/** A C symbol name: non-empty, and without NUL (C would see only the part before it). */
export function checkSymbolName(v: unknown, label: string): string {
  if (typeof v !== 'string' || v.length === 0) throw argError(`${label} must be a non-empty string, not ${describeValue(v)}`);
  if (v.includes('\0')) {
    throw argError(`${label} contains a NUL character at index ${v.indexOf('\0')}; C would see only ${JSON.stringify(v.slice(0, v.indexOf('\0')))}. Pass the symbol's name alone.`);
  }
  return v;
}

/** A library path argument: a non-empty string without NUL. */
export function checkPath(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0) throw argError(`${where}: path must be a non-empty string, not ${describeValue(v)}`);
  if (v.includes('\0')) throw argError(`${where}: path contains a NUL character; pass the file's path alone`);
  return v;
}

// ---- open(path, options) ----------------------------------------------------------------------

/** Names of dependencies (DT_NEEDED names, sonames or file names): non-empty strings without '/' or NUL. */
const dependencyNames: Check<string[]> = (v, label) => {
  if (!Array.isArray(v)) throw argError(`${label} must be an array of dependency names (like 'libhelper.so.1'), not ${describeValue(v)}`);
  return Object.freeze(
    v.map((n, i) => {
      if (typeof n !== 'string' || n.length === 0 || n.includes('\0') || n.includes('/')) {
        throw argError(`${label}[${i}] must be a dependency's name (a DT_NEEDED name, soname or file name, without '/'), not ${describeValue(n)}`);
      }
      return n;
    }),
  ) as string[];
};

const OPEN_SCHEMA = { isolation, force: bool, shareDependencies: dependencyNames, sha256, types: registry };
export type CheckedOpenOptions = ReturnType<typeof checkOpenOptions>;
export function checkOpenOptions(options: unknown, path?: unknown) {
  if (path !== undefined) checkPath(path, 'open(path, options)');
  return snapshot(options, 'open(path, options)', OPEN_SCHEMA);
}

// ---- lib.func(prototype, options) ----------------------------------------------------------------

const FUNC_SCHEMA = { symbol: checkSymbolName, errno: bool };
export function checkFuncOptions(options: unknown) {
  return snapshot(options, 'func(prototype, options)', FUNC_SCHEMA);
}

// ---- watch options -----------------------------------------------------------------------------

const WATCH_SCHEMA = {
  debounceMs: ms,
  stableMs: ms,
  settleTimeoutMs: ms,
  pollIntervalMs: ms,
  persistent: bool,
  initialSha256: sha256,
};
export function checkWatchOptions(options: unknown, where = 'LibraryWatcher(path, options)', prefix = '') {
  return snapshot(options, where, WATCH_SCHEMA, prefix);
}

// ---- HotLibrary.open(path, options) -------------------------------------------------------------

function functionsCheck(where: string): Check<Record<string, string | SignatureObject>> {
  return (v, label) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw argError(`${label} must be an object of C prototypes by name, not ${describeValue(v)}`);
    const out: Record<string, string | SignatureObject> = {};
    let keys: string[];
    try {
      keys = Object.keys(v);
    } catch (e) {
      throw argError(`${label} could not be read: ${(e as Error)?.message ?? String(e)}`, e);
    }
    for (const name of keys) {
      let proto: unknown;
      try {
        proto = (v as Record<string, unknown>)[name];
      } catch (e) {
        throw argError(`${where}: reading functions.${name} threw: ${(e as Error)?.message ?? String(e)}`, e);
      }
      if (typeof proto !== 'string' && (proto === null || typeof proto !== 'object')) {
        throw argError(`${where}: functions.${name} must be a C prototype string (or { name, returns, args }), not ${describeValue(proto)}`);
      }
      out[name] = proto as string | SignatureObject;
    }
    return Object.freeze(out);
  };
}

/** A table of prototypes by name (`functions` of HotLibrary, `lib.bind`): a plain object of prototype strings or objects. */
export function checkFunctionTable(functions: unknown, where: string): Readonly<Record<string, string | SignatureObject>> {
  return functionsCheck(where)(functions, `${where}: functions`);
}

function abiCheck(where: string, hostVersion: number): Check<{ min?: number; max?: number }> {
  return (v) => {
    const r = snapshot(v, where, { min: u32, max: u32 }, 'abi.');
    const min = r.min ?? hostVersion;
    const max = r.max ?? hostVersion;
    if (min > max) {
      throw argError(
        `${where}: option 'abi' accepts no version at all: min ${min} is above max ${max}${r.max === undefined ? ` (max defaults to this host's ABI version, ${hostVersion}; give abi.max too)` : ''}`,
      );
    }
    return r;
  };
}

/** A non-empty string without NUL (the OS would see only the part before it). */
function text(what: string): Check<string> {
  return (v, label) => {
    if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) throw argError(`${label} must be ${what}: a non-empty string without NUL, not ${describeValue(v)}`);
    return v;
  };
}

function textList(what: string): Check<string[]> {
  const item = text(what);
  return (v, label) => {
    if (!Array.isArray(v) || v.length === 0) throw argError(`${label} must be a non-empty array of ${what}s, not ${describeValue(v)}`);
    return Object.freeze(v.map((x, i) => item(x, `${label}[${i}]`))) as string[];
  };
}

const buildCommand: Check<string | readonly string[]> = (v, label) =>
  Array.isArray(v) ? textList('program or argument')(v, label) : text("a shell command line (or an argv array: ['cc', '-shared', ...])")(v, label);

// The build step (lib/watch/rebuilder.ts) is HotLibrary's: a LibraryWatcher on its own has none.
const HOT_WATCH_SCHEMA = {
  ...WATCH_SCHEMA,
  build: buildCommand,
  sources: textList('source path or pattern'),
  cwd: text('a directory'),
  buildTimeoutMs: ms,
};

function watchCheck(where: string): Check<boolean | ReturnType<typeof checkWatchOptions>> {
  return (v) => {
    if (typeof v === 'boolean') return v;
    const o = snapshot(v, where, HOT_WATCH_SCHEMA, 'watch.');
    if ((o.build === undefined) !== (o.sources === undefined)) {
      throw argError(
        o.build === undefined
          ? `${where}: option 'watch.sources' needs 'watch.build', the command that rebuilds the library from them`
          : `${where}: option 'watch.build' needs 'watch.sources', the files (or patterns) whose changes start it`,
      );
    }
    if (o.build === undefined && (o.cwd !== undefined || o.buildTimeoutMs !== undefined)) {
      throw argError(`${where}: options 'watch.cwd' and 'watch.buildTimeoutMs' belong to a build step: give 'watch.build' and 'watch.sources' too`);
    }
    return o;
  };
}

/**
 * Parses each prototype now, so that a typo is reported before any generation is loaded; in the
 * type scope of `types`, whose struct and typedef names they may use. Returns each function's
 * symbol name.
 */
export function parseFunctions(functions: Record<string, string | SignatureObject> | undefined, types: unknown, where: string): string[] {
  const scope = (types as { scope?: TypeScope } | undefined)?.scope;
  return Object.entries(functions ?? {}).map(([name, proto]) => {
    try {
      return typeof proto === 'string' ? parsePrototype(proto, scope).name : signatureFromObject(proto).name;
    } catch (e) {
      const err = e as DlswapError;
      throw new DlswapError(err.code === 'ERR_DLSWAP_SIGNATURE' ? 'ERR_DLSWAP_SIGNATURE' : 'ERR_DLSWAP_ARG', `${where}: functions.${name} ${err.message}`, { cause: e });
    }
  });
}

export function checkHotOptions(options: unknown, hostAbiVersion: number) {
  const where = 'HotLibrary.open(path, options)';
  const checked = snapshot(options, where, {
    isolation,
    functions: functionsCheck(where),
    policy: oneOf(['overlap', 'handover'] as const),
    onFault: oneOf(['rollback', 'quarantine'] as const),
    drainTimeoutMs: ms,
    handoverTimeout: oneOf(['rollback', 'proceed'] as const),
    initTimeoutMs: ms,
    finiTimeoutMs: ms,
    loadOn: oneOf(['loader', 'main'] as const),
    abi: abiCheck(where, hostAbiVersion),
    userData: u64,
    force: bool,
    shareDependencies: dependencyNames,
    sha256,
    watch: watchCheck(where),
    types: registry,
    setup: fn,
    teardown: fn,
    signal,
  });
  parseFunctions(checked.functions, checked.types, where);
  return checked;
}

// ---- hot.reload(path, options) -----------------------------------------------------------------

const RELOAD_SCHEMA = { wait: oneOf(['swap', 'closed'] as const), sha256, signal };
export function checkReloadOptions(options: unknown) {
  return snapshot(options, 'reload(path, options)', RELOAD_SCHEMA);
}

// ---- hot.close(options) ------------------------------------------------------------------------

export function checkCloseOptions(options: unknown) {
  return snapshot(options, 'close(options)', { signal });
}

// ---- lib.close(options) ------------------------------------------------------------------------

export function checkLibraryCloseOptions(options: unknown) {
  return snapshot(options, 'lib.close(options)', { teardown: fn, teardownTimeoutMs: ms });
}
