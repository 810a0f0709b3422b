/**
 * How an options object is read, and the checks of single values that options share (lib/options.ts
 * names which option each check validates, and its default).
 *
 * `snapshot` reads an options object once into a plain, frozen object: every getter runs exactly
 * once, here (one that throws becomes an ERR_DLSWAP_ARG naming the option); unknown keys are refused
 * with the closest known one suggested (`isolaton` -> `isolation`), never silently ignored; and a
 * value of the wrong type or out of range is refused with the option's name and what it accepts,
 * rather than failing later with a plain TypeError half-way through a load, or being quietly misread
 * (`abi: { min: 'a' }` used to disable the ABI check, `drainTimeoutMs: NaN` to fire after 1 ms).
 *
 * Only own enumerable keys are read; `undefined` means "not given" (the default applies).
 */
import { DlswapError } from './errors';

/** setTimeout's largest delay; a larger one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Checks one value; `label` names it for messages. Returns the value to use. */
export type Check<T> = (value: unknown, label: string) => T;

export function argError(message: string, cause?: unknown): DlswapError {
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

/** The keys of an options object, or the error that says it is not one. */
function ownKeys(options: unknown, where: string, prefix: string): string[] {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    const what = prefix ? `option '${prefix.slice(0, -1)}'` : 'options';
    throw argError(`${where}: ${what} must be an object, not ${describeValue(options)}`);
  }
  try {
    return Object.keys(options);
  } catch (e) {
    throw argError(`${where}: the options object could not be read: ${(e as Error)?.message ?? String(e)}`, e);
  }
}

/**
 * Reads `options` once into a plain object, checking each key against `schema`. `where` names the
 * call for messages (`open(path, options)`), `prefix` the nesting (`watch.`).
 */
export function snapshot<S extends Record<string, Check<unknown>>>(
  options: unknown,
  where: string,
  schema: S,
  prefix = '',
): { [K in keyof S]?: ReturnType<S[K]> } {
  if (options === undefined) return {};
  const keys = ownKeys(options, where, prefix);
  const known = Object.keys(schema);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const name = `${prefix}${key}`;
    if (!Object.hasOwn(schema, key)) {
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

/** Each value of a plain object of entries (a record by name), read once. */
export function entries(v: unknown, label: string): [string, unknown][] {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw argError(`${label} must be an object, not ${describeValue(v)}`);
  let keys: string[];
  try {
    keys = Object.keys(v);
  } catch (e) {
    throw argError(`${label} could not be read: ${(e as Error)?.message ?? String(e)}`, e);
  }
  return keys.map((k) => {
    try {
      return [k, (v as Record<string, unknown>)[k]];
    } catch (e) {
      throw argError(`${label}: reading '${k}' threw: ${(e as Error)?.message ?? String(e)}`, e);
    }
  });
}

// ---- checks of single values -------------------------------------------------------------------

export const bool: Check<boolean> = (v, label) => {
  if (typeof v !== 'boolean') throw argError(`${label} must be true or false, not ${describeValue(v)}`);
  return v;
};

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, label) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      throw argError(`${label} must be one of ${values.map((x) => `'${x}'`).join(', ')}, not ${describeValue(v)}`);
    }
    return v as T;
  };
}

/** A duration in milliseconds: a finite number in [0, MAX_TIMER_MS]. */
export const ms: Check<number> = (v, label) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_TIMER_MS) {
    throw argError(`${label} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, not ${describeValue(v)}`);
  }
  return v;
};

/** A sha256 digest, lower-cased. */
export const sha256: Check<string> = (v, label) => {
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) {
    throw argError(`${label} must be a sha256 digest: 64 hexadecimal digits, not ${describeValue(v)}`);
  }
  return v.toLowerCase();
};

export const signal: Check<AbortSignal> = (v, label) => {
  if (!(v instanceof AbortSignal))
    throw argError(`${label} must be an AbortSignal (from an AbortController, or AbortSignal.timeout(ms)), not ${describeValue(v)}`);
  return v;
};

export const fn: Check<(...args: never[]) => unknown> = (v, label) => {
  if (typeof v !== 'function') throw argError(`${label} must be a function, not ${describeValue(v)}`);
  return v as (...args: never[]) => unknown;
};

export const text: Check<string> = (v, label) => {
  if (typeof v !== 'string') throw argError(`${label} must be a string, not ${describeValue(v)}`);
  return v;
};

export const u32: Check<number> = (v, label) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    throw argError(`${label} must be an integer from 0 to 4294967295, not ${describeValue(v)}`);
  }
  return v;
};

export const u64: Check<bigint> = (v, label) => {
  if (typeof v !== 'bigint' || v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw argError(`${label} must be a bigint from 0n to 2n ** 64n - 1n, not ${describeValue(v)}`);
  }
  return v;
};

/** A C symbol name: non-empty, and without NUL (C would see only the part before it). */
export function checkSymbolName(v: unknown, label: string): string {
  if (typeof v !== 'string' || v.length === 0) throw argError(`${label} must be a non-empty string, not ${describeValue(v)}`);
  if (v.includes('\0')) {
    throw argError(
      `${label} contains a NUL character at index ${v.indexOf('\0')}; C would see only ${JSON.stringify(v.slice(0, v.indexOf('\0')))}. Pass the symbol's name alone.`,
    );
  }
  return v;
}

/** A library path argument: a non-empty string without NUL. */
export function checkPath(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0) throw argError(`${where}: path must be a non-empty string, not ${describeValue(v)}`);
  if (v.includes('\0')) throw argError(`${where}: path contains a NUL character; pass the file's path alone`);
  return v;
}
