/**
 * HotLibrary's `handles` option, resolved against `types` and `functions` before anything is loaded
 * (lib/options.ts calls it): which opaque types are handles, the function that releases each, and
 * for every declared function, where it takes, returns or releases a handle. What happens at a call
 * is lib/hot/handles.ts's; this file only reads the declarations (which is why it lives with them).
 *
 * A handle type is an opaque struct the registry declares without its members (`typedef struct
 * sqlite3 sqlite3;`), or a pointer typedef to one (`typedef struct ctx *ctx_t;`). In a prototype,
 * a pointer to it (`sqlite3 *`, `ctx_t`) takes or returns a handle; a pointer to that pointer
 * (`sqlite3 **`, `ctx_t *`) is an out-parameter a handle comes back in. Its destructor takes the
 * handle as its one parameter, so that close() can call it for the handles still open.
 */
import { argError, describeValue, entries } from '../option_values';
import type { CType, RecordCType } from './ctype_model';
import type { TypeRegistry } from './ctypes';
import type { Signature, TypeInfo } from './signature';

/** One handle type. */
export interface HandleType {
  /** Its name as the `handles` option gives it ('sqlite3'): what handles and messages call it. */
  readonly name: string;
  /** The opaque struct a handle points to: the type's identity, whatever a prototype calls it. */
  readonly record: RecordCType;
  /** The key in `functions` of the function that releases a handle of this type. */
  readonly destructor: string;
}

/** A parameter that takes a handle (`T *`), or in which one comes back (`T **`). */
export interface HandleParam {
  readonly type: HandleType;
  readonly out: boolean;
}

/** How one declared function meets handles. */
export interface HandlePlan {
  /** Per parameter, the handle it takes or gives back, or null. */
  readonly params: readonly (HandleParam | null)[];
  /** The parameters that take a handle (not out-parameters): what a call is routed by. */
  readonly inputs: readonly number[];
  /** The handle type of the result, or null. */
  readonly returns: HandleType | null;
  /** The parameter whose handle a call releases (the function is its type's destructor), or -1. */
  readonly releases: number;
}

export interface ResolvedHandles {
  readonly types: readonly HandleType[];
  /** The plan of each declared function that takes, returns or releases a handle; the others have none. */
  readonly plans: Readonly<Record<string, HandlePlan>>;
}

export const NO_HANDLES: ResolvedHandles = Object.freeze({ types: Object.freeze([]), plans: Object.freeze({}) });

/** The `handles` option's own shape: handle type names to function names, read once. */
export function handleDeclarations(v: unknown, label: string): Readonly<Record<string, string>> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw argError(
      `${label} must be an object that names, for each handle type, the function of 'functions' that releases it ({ sqlite3: 'close' }), not ${describeValue(v)}`,
    );
  }
  const out: Record<string, string> = {};
  for (const [name, destructor] of entries(v, label)) {
    if (typeof destructor !== 'string' || destructor.length === 0) {
      throw argError(
        `${label.replace(/option 'handles'$/, '')}handles.${name} must name the function of 'functions' that releases a '${name}' (a string), not ${describeValue(destructor)}`,
      );
    }
    out[name] = destructor;
  }
  return Object.freeze(out);
}

/** The opaque record a declared handle type name stands for, or why it cannot be a handle. */
function handleRecord(registry: TypeRegistry, name: string, label: string): RecordCType {
  let t: CType;
  try {
    t = registry.type(name);
  } catch (e) {
    throw argError(
      `${label}: '${name}' is not a type of option 'types' (${(e as Error).message}); declare it there as an opaque struct: types('typedef struct ${name} ${name};')`,
      e,
    );
  }
  const record = t.tag === 'pointer' ? t.to : t;
  if ((record.tag !== 'struct' && record.tag !== 'union') || record.fields !== null) {
    throw argError(
      `${label}: '${name}' is '${t.c}'; a handle type is an opaque struct, declared without its members ('typedef struct ${name} ${name};'), or a pointer typedef to one: dlswap never reads or writes what a handle points to`,
    );
  }
  return record;
}

/** The handle type `info` is a pointer to (depth 1), or a pointer to a pointer to (depth 2), or null. */
function handleAt(info: TypeInfo, registry: TypeRegistry, byRecord: ReadonlyMap<RecordCType, HandleType>): HandleParam | null {
  if (info.kind !== 'pointer' || info.ctype !== undefined) return null; // a complete struct's pointer, or a callback
  let t: CType;
  try {
    t = registry.type(info.c);
  } catch {
    return null; // a struct the registry does not declare: not one of its handle types
  }
  let depth = 0;
  while (t.tag === 'pointer') {
    depth++;
    t = t.to;
  }
  const type = t.tag === 'struct' || t.tag === 'union' ? byRecord.get(t) : undefined;
  if (!type || depth > 2) return null;
  return { type, out: depth === 2 };
}

/**
 * Resolves the `handles` option. `signatures` are the parsed prototypes of `functions`, by key.
 * Throws ERR_DLSWAP_ARG naming the entry of `handles` that cannot be one.
 */
export function resolveHandles(
  declared: Readonly<Record<string, string>>,
  signatures: Readonly<Record<string, Signature>>,
  registry: TypeRegistry | undefined,
  where: string,
): ResolvedHandles {
  const names = Object.keys(declared);
  if (names.length === 0) return NO_HANDLES;
  if (!registry)
    throw argError(`${where}: option 'handles' names types that option 'types' declares: give 'types' too (types('typedef struct ${names[0]} ${names[0]};'))`);
  const byRecord = new Map<RecordCType, HandleType>();
  for (const name of names) {
    const label = `${where}: handles.${name}`;
    const record = handleRecord(registry, name, label);
    const twin = byRecord.get(record);
    if (twin) throw argError(`${label}: '${name}' is the same type as '${twin.name}', already a handle type; declare each once`);
    const destructor = declared[name];
    if (!Object.hasOwn(signatures, destructor)) {
      throw argError(
        `${label}: its destructor '${destructor}' is not one of option 'functions' (${Object.keys(signatures).join(', ') || 'none'}); declare it there ('${destructor}: "int close_it(${name} *h)"')`,
      );
    }
    byRecord.set(record, Object.freeze({ name, record, destructor }));
  }
  const plans: Record<string, HandlePlan> = {};
  for (const [key, sig] of Object.entries(signatures)) {
    const params = sig.params.map((p) => handleAt(p.type, registry, byRecord));
    const ret = handleAt(sig.returns, registry, byRecord);
    const releasedTypes = [...byRecord.values()].filter((t) => t.destructor === key);
    let releases = -1;
    for (const type of releasedTypes) {
      const one = params.length === 1 && params[0] !== null && params[0].type === type && !params[0].out;
      if (!one) {
        throw argError(
          `${where}: handles.${type.name}: its destructor '${key}' (${sig.text}) must take the handle as its one parameter ('${type.name} *'), so that close() can release the handles still open`,
        );
      }
      releases = 0;
    }
    if (ret?.out) throw argError(`${where}: functions.${key} (${sig.text}) returns a pointer to a handle; return the handle itself, or take an out-parameter`);
    if (params.every((p) => p === null) && ret === null) continue;
    plans[key] = Object.freeze({
      params: Object.freeze(params),
      inputs: Object.freeze(params.flatMap((p, i) => (p !== null && !p.out ? [i] : []))),
      returns: ret?.type ?? null,
      releases,
    });
  }
  return Object.freeze({ types: Object.freeze([...byRecord.values()]), plans: Object.freeze(plans) });
}
