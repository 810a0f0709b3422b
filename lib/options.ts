/**
 * Every option of every entry point, checked before anything is copied, loaded or started, and
 * returned with its default applied: the one owner of each option's check and of its default.
 *
 * Each entry point (open, openAsync, HotLibrary.open, hot.reload, hot.close, LibraryWatcher and the
 * `watch` of HotLibrary, lib.func and func, lib.callback and its HotLibrary forms, the typed memory
 * functions' `{ types }`) passes what it was given through its `resolve*Options` function below and
 * reads only what came back: a frozen object with every default filled in. An option that two entry
 * points share (`types`, `sha256`, `signal`, `isolation`...) has one check, used by both. How an
 * options object is read (once, unknown keys refused) is lib/option_values.ts.
 */
import { ISOLATION_MODES, type Isolation } from './isolation_modes';
import { parsePrototype, signatureFromObject, type Signature, type SignatureObject } from './signature/signature';
import { checkCallable } from './signature/value_limits';
import { TypeRegistry } from './signature/ctypes';
import { DlswapError } from './errors';
import { handleDeclarations, resolveHandles, type ResolvedHandles } from './signature/handle_plan';
import {
  MAX_TIMER_MS,
  argError,
  bool,
  checkSymbolName,
  describeValue,
  entries,
  fn,
  ms,
  oneOf,
  sha256,
  signal,
  snapshot,
  text,
  u32,
  u64,
  type Check,
} from './option_values';

export { MAX_TIMER_MS, checkPath, checkSymbolName, describeValue } from './option_values';

// ---- the checks of options that more than a type check says something about ------------------

/** `types`: a registry made by types() (a look-alike with TypeRegistry's prototype is not one). */
const types: Check<TypeRegistry> = (v, label) => {
  if (!TypeRegistry.isRegistry(v)) throw argError(`${label} must be a registry made by types() (see docs/types.md), not ${describeValue(v)}`);
  return v;
};

const isolation: Check<Isolation> = oneOf(ISOLATION_MODES);

/** `shareDependencies`: names of dependencies (DT_NEEDED names, sonames or file names), copied. */
const dependencyNames: Check<readonly string[]> = (v, label) => {
  if (!Array.isArray(v)) throw argError(`${label} must be an array of dependency names (like 'libhelper.so.1'), not ${describeValue(v)}`);
  return Object.freeze(
    Array.from(v, (n, i) => {
      if (typeof n !== 'string' || n.length === 0 || n.includes('\0') || n.includes('/')) {
        throw argError(`${label}[${i}] must be a dependency's name (a DT_NEEDED name, soname or file name, without '/'), not ${describeValue(n)}`);
      }
      return n;
    }),
  );
};

export type Prototype = string | SignatureObject;

/** A signature object copied once, so that nothing reads the caller's object (or its getters) again. */
function copySignatureObject(v: object, label: string): SignatureObject {
  const o = Object.fromEntries(entries(v, label)) as Record<string, unknown>;
  const args = Array.isArray(o.args) ? Object.freeze([...(o.args as unknown[])]) : o.args;
  return Object.freeze({ ...o, args }) as unknown as SignatureObject;
}

/**
 * One prototype, parsed in the type scope of `registry` and checked as a call would check it (structs
 * by value: passable and within the limits): what `lib.func` would refuse, refused now.
 */
export function checkPrototype(proto: Prototype, registry: TypeRegistry | undefined, label: string): Signature {
  const scope = registry?.scope;
  try {
    const sig = typeof proto === 'string' ? parsePrototype(proto, scope) : signatureFromObject(proto, scope);
    checkCallable(sig);
    return sig;
  } catch (e) {
    const err = e as DlswapError;
    const code = err?.code === 'ERR_DLSWAP_SIGNATURE' || err?.code === 'ERR_DLSWAP_TOO_LARGE' ? err.code : 'ERR_DLSWAP_ARG';
    throw new DlswapError(code, `${label} ${err?.message ?? String(e)}`, { cause: e });
  }
}

/**
 * A table of prototypes by name, each parsed once and checked as `lib.func` would check it, in the
 * scope of `registry`: what is bound from it (`bindSignature`, lib/call/func.ts) is never parsed
 * again. HotLibrary's `functions` (resolveHotOptions) and `lib.bind(functions)`.
 */
function parseFunctionTable(fns: Readonly<Record<string, Prototype>>, registry: TypeRegistry | undefined, where: string): Readonly<Record<string, Signature>> {
  return Object.freeze(Object.fromEntries(Object.entries(fns).map(([name, proto]) => [name, checkPrototype(proto, registry, `${where}: functions.${name}`)])));
}

/** `lib.bind(functions)`'s table, read once and parsed once (parseFunctionTable). */
export function checkFunctionTable(table: unknown, registry: TypeRegistry | undefined, where: string): Readonly<Record<string, Signature>> {
  return parseFunctionTable(functions(table, `${where}: option 'functions'`), registry, where);
}

/** `functions` of HotLibrary: C prototypes by name, each read once (parsed with `types`, later). */
const functions: Check<Readonly<Record<string, Prototype>>> = (v, label) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw argError(`${label} must be an object of C prototypes by name, not ${describeValue(v)}`);
  const out: Record<string, Prototype> = {};
  for (const [name, proto] of entries(v, label)) {
    if (typeof proto === 'string') out[name] = proto;
    else if (proto !== null && typeof proto === 'object') out[name] = copySignatureObject(proto, `${label}.${name}`);
    else
      throw argError(
        `${label.replace(/option 'functions'$/, '')}functions.${name} must be a C prototype string (or { name, returns, args }), not ${describeValue(proto)}`,
      );
  }
  return Object.freeze(out);
};

/** `abi`: the range of dlswap_abi_version() accepted; both ends default to this host's version. */
function abi(where: string, hostVersion: number): Check<Readonly<{ min: number; max: number }>> {
  return (v) => {
    const r = snapshot(v, where, { min: u32, max: u32 }, 'abi.');
    const min = r.min ?? hostVersion;
    const max = r.max ?? hostVersion;
    if (min > max) {
      throw argError(
        `${where}: option 'abi' accepts no version at all: min ${min} is above max ${max}${r.max === undefined ? ` (max defaults to this host's ABI version, ${hostVersion}; give abi.max too)` : ''}`,
      );
    }
    return Object.freeze({ min, max });
  };
}

/** `fallback` of a callback: a value of some C type; whether it fits the callback's is checked where the type is known. */
const fallback: Check<number | bigint | boolean | null> = (v, label) => {
  if (v === null || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return v;
  throw argError(`${label} must be a number, a bigint, a boolean or null, not ${describeValue(v)}`);
};

// ---- defaults: each lives here and nowhere else ------------------------------------------------

export const OPEN_DEFAULTS = Object.freeze({
  isolation: 'namespace' as Isolation,
  force: false,
  shareDependencies: Object.freeze([]) as readonly string[],
  // How long library code may run on the loader thread while it is loaded (constructors, version
  // and init calls), and while it is closed (dlswap_fini, destructors).
  initTimeoutMs: 30_000,
  finiTimeoutMs: 10_000,
});
export const HOT_DEFAULTS = Object.freeze({
  policy: 'overlap' as const,
  onFault: 'rollback' as const,
  drainTimeoutMs: 10_000,
  handoverTimeout: 'rollback' as const,
  loadOn: 'loader' as const,
  userData: 0n,
});
export const WATCH_DEFAULTS = Object.freeze({ debounceMs: 100, stableMs: 50, settleTimeoutMs: 30_000, persistent: true });
/** HotLibrary's build step (lib/watch/rebuilder.ts): how long a build may run before it is killed. */
export const BUILD_STEP_DEFAULTS = Object.freeze({ buildTimeoutMs: 300_000 });
export const RELOAD_DEFAULTS = Object.freeze({ wait: 'closed' as const });

// ---- open(path, options), openAsync(path, options) ---------------------------------------------

const OPEN_SCHEMA = { isolation, force: bool, shareDependencies: dependencyNames, sha256, types, initTimeoutMs: ms, finiTimeoutMs: ms };

export interface ResolvedOpenOptions {
  readonly isolation: Isolation;
  readonly force: boolean;
  readonly shareDependencies: readonly string[];
  readonly sha256?: string;
  readonly types?: TypeRegistry;
  readonly initTimeoutMs: number;
  readonly finiTimeoutMs: number;
}

export function resolveOpenOptions(options: unknown): ResolvedOpenOptions {
  return Object.freeze({ ...OPEN_DEFAULTS, ...snapshot(options, 'open(path, options)', OPEN_SCHEMA) });
}

// ---- openAsync(path, options): open()'s, and a signal ------------------------------------------

const OPEN_ASYNC_SCHEMA = { ...OPEN_SCHEMA, signal };

export interface ResolvedOpenAsyncOptions extends ResolvedOpenOptions {
  readonly signal?: AbortSignal;
}

export function resolveOpenAsyncOptions(options: unknown): ResolvedOpenAsyncOptions {
  return Object.freeze({ ...OPEN_DEFAULTS, ...snapshot(options, 'openAsync(path, options)', OPEN_ASYNC_SCHEMA) });
}

// ---- lib.func(prototype, options) --------------------------------------------------------------

const FUNC_SCHEMA = { symbol: checkSymbolName, errno: bool };

export interface ResolvedFuncOptions {
  readonly symbol?: string;
  readonly errno: boolean;
}

export const FUNC_DEFAULTS: ResolvedFuncOptions = Object.freeze({ errno: false });

export function resolveFuncOptions(options: unknown): ResolvedFuncOptions {
  return Object.freeze({ ...FUNC_DEFAULTS, ...snapshot(options, 'func(prototype, options)', FUNC_SCHEMA) });
}

// ---- lib.callback(type, fn, options), hot.callback, gen.callback -------------------------------

/** A deadline in milliseconds: at least 1 (a wait is never unbounded, and never zero). */
const deadlineMs: Check<number> = (v, label) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > MAX_TIMER_MS) {
    throw argError(`${label} must be a number of milliseconds from 1 to ${MAX_TIMER_MS}, not ${describeValue(v)}`);
  }
  return Math.floor(v);
};

const CALLBACK_SCHEMA = { fallback, onError: fn, name: text, timeoutMs: deadlineMs };

/**
 * timeoutMs: how long C, calling from another thread, waits for the JS thread to run the function;
 * then it gets the fallback value (docs/callbacks.md#deadlines). Temporary callbacks (a JS function
 * passed straight to an .async call) have this default too.
 */
export const CALLBACK_DEFAULTS = Object.freeze({ timeoutMs: 30_000 });

export interface ResolvedCallbackOptions {
  readonly fallback?: number | bigint | boolean | null;
  readonly onError?: (error: unknown) => void;
  readonly name?: string;
  readonly timeoutMs: number;
}

export function resolveCallbackOptions(options: unknown): ResolvedCallbackOptions {
  return Object.freeze({ ...CALLBACK_DEFAULTS, ...snapshot(options, 'callback(type, fn, options)', CALLBACK_SCHEMA) }) as ResolvedCallbackOptions;
}

// ---- decode, encode, encodeToBuffer, sizeof, alignof, offsetof: { types } -----------------------

export function resolveMemoryOptions(options: unknown, where: string): { readonly types?: TypeRegistry } {
  return snapshot(options, where, { types });
}

// ---- LibraryWatcher(path, options), and HotLibrary's `watch` ------------------------------------

const WATCH_SCHEMA = {
  debounceMs: ms,
  stableMs: ms,
  settleTimeoutMs: ms,
  pollIntervalMs: ms,
  persistent: bool,
  initialSha256: sha256,
};

export interface ResolvedWatchOptions {
  readonly debounceMs: number;
  readonly stableMs: number;
  readonly settleTimeoutMs: number;
  /** Absent: no polling. */
  readonly pollIntervalMs?: number;
  readonly persistent: boolean;
  readonly initialSha256?: string;
}

export function resolveWatchOptions(options: unknown, where = 'LibraryWatcher(path, options)', prefix = ''): ResolvedWatchOptions {
  return Object.freeze({ ...WATCH_DEFAULTS, ...snapshot(options, where, WATCH_SCHEMA, prefix) });
}

// ---- HotLibrary's `watch`: the watcher's options, and a build step --------------------------------

/** A non-empty string without NUL (the OS would see only the part before it). */
function nonEmptyText(what: string): Check<string> {
  return (v, label) => {
    if (typeof v !== 'string' || v.length === 0 || v.includes('\0'))
      throw argError(`${label} must be ${what}: a non-empty string without NUL, not ${describeValue(v)}`);
    return v;
  };
}

function textList(what: string): Check<readonly string[]> {
  const item = nonEmptyText(what);
  return (v, label) => {
    if (!Array.isArray(v) || v.length === 0) throw argError(`${label} must be a non-empty array of ${what}s, not ${describeValue(v)}`);
    return Object.freeze(Array.from(v, (x, i) => item(x, `${label}[${i}]`)));
  };
}

const buildCommand: Check<string | readonly string[]> = (v, label) =>
  Array.isArray(v) ? textList('program or argument')(v, label) : nonEmptyText("a shell command line (or an argv array: ['cc', '-shared', ...])")(v, label);

// The build step (lib/watch/rebuilder.ts) is HotLibrary's: a LibraryWatcher on its own has none.
const BUILD_STEP_SCHEMA = {
  build: buildCommand,
  sources: textList('source path or pattern'),
  cwd: nonEmptyText('a directory'),
  buildTimeoutMs: ms,
};

export interface ResolvedHotWatchOptions extends ResolvedWatchOptions {
  readonly build?: string | readonly string[];
  readonly sources?: readonly string[];
  readonly cwd?: string;
  /** Set (default applied) when `build` is. */
  readonly buildTimeoutMs?: number;
}

function resolveHotWatchOptions(v: unknown, where: string): ResolvedHotWatchOptions {
  const o = snapshot(v === true ? {} : v, where, { ...WATCH_SCHEMA, ...BUILD_STEP_SCHEMA }, 'watch.');
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
  return Object.freeze({ ...WATCH_DEFAULTS, ...(o.build !== undefined ? BUILD_STEP_DEFAULTS : {}), ...o }) as ResolvedHotWatchOptions;
}

// ---- HotLibrary.open(path, options) -------------------------------------------------------------

export interface ResolvedHotOptions extends ResolvedOpenOptions {
  /**
   * The declared functions (`functions`), by name: each prototype parsed and checked here, once per
   * HotLibrary, in the scope of `types`. Every generation binds these (lib/hot/function_table.ts).
   */
  readonly signatures: Readonly<Record<string, Signature>>;
  /** Their C names: what every generation's load must resolve. */
  readonly functionNames: readonly string[];
  /** The handle types (`handles`), and where each declared function takes, returns or releases one. */
  readonly handles: ResolvedHandles;
  readonly policy: 'overlap' | 'handover';
  readonly onFault: 'rollback' | 'quarantine';
  readonly drainTimeoutMs: number;
  readonly handoverTimeout: 'rollback' | 'proceed';
  readonly loadOn: 'loader' | 'main';
  readonly abi: Readonly<{ min: number; max: number }>;
  readonly userData: bigint;
  /** null: not watched. */
  readonly watch: ResolvedHotWatchOptions | null;
  readonly setup?: (gen: never) => void | Promise<void>;
  readonly teardown?: (gen: never) => void | Promise<void>;
  readonly signal?: AbortSignal;
}

const HOT_WHERE = 'HotLibrary.open(path, options)';

/** The schema of HotLibrary.open; `abi`'s defaults depend on the host's ABI version. */
function hotSchema(hostAbiVersion: number) {
  return {
    ...OPEN_SCHEMA,
    functions,
    handles: handleDeclarations,
    policy: oneOf(['overlap', 'handover'] as const),
    onFault: oneOf(['rollback', 'quarantine'] as const),
    drainTimeoutMs: ms,
    handoverTimeout: oneOf(['rollback', 'proceed'] as const),
    loadOn: oneOf(['loader', 'main'] as const),
    abi: abi(HOT_WHERE, hostAbiVersion),
    userData: u64,
    watch: (v: unknown): ResolvedHotWatchOptions | null => (v === false ? null : resolveHotWatchOptions(v, HOT_WHERE)),
    setup: fn,
    teardown: fn,
    signal,
  };
}

export function resolveHotOptions(options: unknown, hostAbiVersion: number): ResolvedHotOptions {
  const { functions: fns, ...o } = snapshot(options, HOT_WHERE, hotSchema(hostAbiVersion));
  // Every prototype parsed, in the scope of `types`, before anything is loaded; never again.
  const signatures = parseFunctionTable(fns ?? {}, o.types, HOT_WHERE);
  const functionNames = Object.freeze(Object.values(signatures).map((sig) => sig.name));
  const handles = resolveHandles(o.handles ?? {}, signatures, o.types, HOT_WHERE);
  return Object.freeze({
    ...OPEN_DEFAULTS,
    ...HOT_DEFAULTS,
    abi: Object.freeze({ min: hostAbiVersion, max: hostAbiVersion }),
    watch: null,
    ...o,
    signatures,
    functionNames,
    handles,
  }) as ResolvedHotOptions;
}

// ---- hot.reload(path, options) -----------------------------------------------------------------

const RELOAD_SCHEMA = { wait: oneOf(['swap', 'closed'] as const), sha256, signal };

export interface ResolvedReloadOptions {
  readonly wait: 'swap' | 'closed';
  readonly sha256?: string;
  readonly signal?: AbortSignal;
}

export function resolveReloadOptions(options: unknown): ResolvedReloadOptions {
  return Object.freeze({ ...RELOAD_DEFAULTS, ...snapshot(options, 'reload(path, options)', RELOAD_SCHEMA) });
}

// ---- hot.close(options) ------------------------------------------------------------------------

export function resolveCloseOptions(options: unknown): { readonly signal?: AbortSignal } {
  return snapshot(options, 'close(options)', { signal });
}

// ---- lib.close(options) ------------------------------------------------------------------------

const LIBRARY_CLOSE_SCHEMA = { teardown: fn, teardownTimeoutMs: ms };

/** `lib.close(options)`'s default bound on the teardown hook. */
export const LIBRARY_CLOSE_DEFAULTS = Object.freeze({ teardownTimeoutMs: 10_000 });

export interface ResolvedLibraryCloseOptions {
  readonly teardown?: (lib: never) => void | Promise<void>;
  readonly teardownTimeoutMs: number;
}

export function resolveLibraryCloseOptions(options: unknown): ResolvedLibraryCloseOptions {
  return Object.freeze({ ...LIBRARY_CLOSE_DEFAULTS, ...snapshot(options, 'lib.close(options)', LIBRARY_CLOSE_SCHEMA) }) as ResolvedLibraryCloseOptions;
}

/**
 * The options each entry point takes, by name (for the test that tries a bad value of every one of
 * them: test/load/options_all.test.ts).
 */
export const OPTION_NAMES = Object.freeze({
  open: Object.keys(OPEN_SCHEMA),
  openAsync: Object.keys(OPEN_ASYNC_SCHEMA),
  hotOpen: Object.keys(hotSchema(0)),
  reload: Object.keys(RELOAD_SCHEMA),
  close: ['signal'],
  watch: Object.keys(WATCH_SCHEMA),
  hotWatch: [...Object.keys(WATCH_SCHEMA), ...Object.keys(BUILD_STEP_SCHEMA)],
  func: Object.keys(FUNC_SCHEMA),
  callback: Object.keys(CALLBACK_SCHEMA),
  memory: ['types'],
  libraryClose: Object.keys(LIBRARY_CLOSE_SCHEMA),
});
