/**
 * C type declarations: `types().declare('struct frame { uint32_t w, h; uint8_t pix[16]; }')`.
 *
 * A `Types` registry holds the structs, unions, enums and typedefs of one C API, declared as C text,
 * each once. A library opened with `{ types }` resolves their names in every prototype it is given
 * (`lib.func`, `HotLibrary` functions of every generation, callbacks, variadic type strings), and the
 * TypeScript types of those functions are inferred from the same strings (lib/signature/prototype_types.ts).
 *
 * The grammar is C's declaration syntax, less what has no fixed meaning across compilers or ABIs:
 * bit-fields, `long double`, flexible array members, `_Alignas` and attributes other than `packed`
 * and `aligned(N)` are refused with a message that says so. Layout: lib/signature/ctype_model.ts.
 *
 * This file holds the registry; the parser it runs is lib/signature/ctypes_declarations.ts (constant
 * expressions: lib/signature/ctypes_constants.ts).
 */
import type { CType, RecordCType, TypeScope } from './ctype_model';
import { DeclParser, type RegistryState, type Staging } from './ctypes_declarations';
import type { Declared, TypeDefs } from './ctypes_types';
import { DlswapError } from '../errors';
import type { Qualifier } from './signature_vocabulary';

/** Longest declaration text accepted by one `declare()` call. */
export const MAX_DECLARATION_LENGTH = 256 * 1024;

/**
 * The structs, unions, enums and typedefs of a C API. Made by `types()`, filled by `declare()`, and
 * given to `open(path, { types })` (or `HotLibrary.open`) so that prototypes can name them.
 */
export class TypeRegistry<D extends TypeDefs = {}> {
  /** @internal compile-time only: what the declarations say, for the types of lib.func & co. */
  declare readonly __defs?: D;
  /** @internal */ readonly state: RegistryState = { tags: new Map(), typedefs: new Map(), constants: new Map() };
  /** @internal */ readonly scope: TypeScope = {
    tag: (word, name) => this.state.tags.get(`${word} ${name}`),
    typedef: (name) => this.state.typedefs.get(name),
    constant: (name) => this.state.constants.get(name),
  };
  readonly #typeCache = new Map<string, CType>();

  /**
   * @internal Whether `v` was made by this class's constructor (lib/options.ts checks the `types`
   * option with it): an object that only has TypeRegistry's prototype has none of its state.
   */
  static isRegistry(v: unknown): v is TypeRegistry {
    return typeof v === 'object' && v !== null && #typeCache in v;
  }

  /**
   * Declares types, as C: `'struct point { int32_t x, y; }'`, `'typedef struct frame frame_t'`,
   * `'enum mode { MODE_A, MODE_B = 4 }'`, `'typedef int (*cmp_fn)(const void *, const void *)'`.
   * Several declarations may be given, separated by ';'. Nothing is added unless all of the text is
   * valid. Returns the registry, with a type that knows the new names.
   */
  declare<const S extends string>(text: S): TypeRegistry<Declared<S, D>>;
  declare(text: string): TypeRegistry<TypeDefs>;
  declare(text: string): TypeRegistry<TypeDefs> {
    if (typeof text !== 'string')
      throw new DlswapError('ERR_DLSWAP_SIGNATURE', `declare(text): text must be a string of C declarations, got ${text === null ? 'null' : typeof text}`);
    const staging: Staging = { tags: new Map(), typedefs: new Map(), constants: new Map(), completed: [] };
    const parser = new DeclParser({ text, what: 'C declaration', declarations: true, maxLength: MAX_DECLARATION_LENGTH }, this.state, staging);
    try {
      parser.parseDeclarations();
    } catch (e) {
      for (const rec of staging.completed) {
        rec.fields = null;
        rec.size = 0;
        rec.align = 1;
        rec.packed = false;
      }
      throw e;
    }
    for (const [k, v] of staging.tags) this.state.tags.set(k, v);
    for (const [k, v] of staging.typedefs) this.state.typedefs.set(k, v);
    for (const [k, v] of staging.constants) this.state.constants.set(k, v);
    this.#typeCache.clear();
    return this as unknown as TypeRegistry<TypeDefs>;
  }

  /** The C type a type name denotes: 'struct frame', 'frame_t', 'uint8_t[16]', 'int (*)(int)'. */
  type(name: string): CType {
    if (typeof name !== 'string')
      throw new DlswapError('ERR_DLSWAP_SIGNATURE', `expected a C type name (a string), got ${name === null ? 'null' : typeof name}`);
    const cached = this.#typeCache.get(name);
    if (cached) return cached;
    const staging: Staging = { tags: new Map(), typedefs: new Map(), constants: new Map(), completed: [] };
    const t = new DeclParser({ text: name, what: 'C type', declarations: true }, this.state, staging).parseTypeName();
    if (staging.tags.size) {
      const [tag] = staging.tags.keys();
      throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid C type ${JSON.stringify(name)}: '${tag}' is not declared in these types`);
    }
    this.#typeCache.set(name, t);
    return t;
  }

  /** Size in bytes of a complete type, as C's sizeof. */
  sizeof(name: string): number {
    const t = this.type(name);
    if (t.tag === 'void' || t.tag === 'function' || ((t.tag === 'struct' || t.tag === 'union') && t.fields === null)) {
      throw new DlswapError(
        'ERR_DLSWAP_SIGNATURE',
        `'${t.c}' has no size: it is ${t.tag === 'void' ? 'void' : t.tag === 'function' ? 'a function type' : 'declared without its members'}`,
      );
    }
    return t.size;
  }

  /** Alignment in bytes, as C's _Alignof. */
  alignof(name: string): number {
    this.sizeof(name);
    return this.type(name).align;
  }

  /** Offset in bytes of a member, as C's offsetof; nested members are written 'origin.x'. */
  offsetof(name: string, member: string): number {
    let t = this.type(name);
    let offset = 0;
    for (const part of String(member).split('.')) {
      if (t.tag !== 'struct' && t.tag !== 'union') {
        throw new DlswapError('ERR_DLSWAP_ARG', `offsetof(${JSON.stringify(name)}, ${JSON.stringify(member)}): '${t.c}' has no members`);
      }
      const found = findMember(t, part);
      if (!found) throw new DlswapError('ERR_DLSWAP_ARG', `offsetof(${JSON.stringify(name)}, ${JSON.stringify(member)}): '${t.c}' has no member '${part}'`);
      offset += found.offset;
      t = found.type;
    }
    return offset;
  }

  /** The value of an enumerator: a number when it is a safe integer, else a bigint. */
  constant(name: string): number | bigint {
    const v = this.state.constants.get(name);
    if (v === undefined) throw new DlswapError('ERR_DLSWAP_ARG', `'${name}' is not an enumerator of these types`);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** Every enumerator, by name. */
  get constants(): Readonly<Record<string, number | bigint>> {
    const out: Record<string, number | bigint> = {};
    for (const k of this.state.constants.keys()) out[k] = this.constant(k);
    return Object.freeze(out);
  }

  /** Names of the declared tags and typedefs. */
  names(): string[] {
    return [...this.state.tags.keys(), ...this.state.typedefs.keys()];
  }
}

/** A member of a record by name, looking through anonymous members; offset relative to the record. */
export function findMember(rec: RecordCType, name: string): { offset: number; type: CType } | null {
  for (const f of rec.fields ?? []) {
    if (f.name === name) return { offset: f.offset, type: f.type };
    if (f.name === null) {
      const inner = findMember(f.type as RecordCType, name);
      if (inner) return { offset: f.offset + inner.offset, type: inner.type };
    }
  }
  return null;
}

export type { Qualifier };

/**
 * A new type registry, optionally with declarations: `types('struct point { int x, y; }')`. Chain
 * `.declare(...)` for more; give it to `open(path, { types })` or `HotLibrary.open`.
 */
export function types<const S extends string = ''>(text?: S): TypeRegistry<Declared<S, {}>> {
  const t = new TypeRegistry();
  if (text !== undefined) t.declare(text as string);
  return t as unknown as TypeRegistry<Declared<S, {}>>;
}

// The registry each library was opened with: every lib.func, callback and decode of that library
// resolves type names in it.
const libraryTypes = new WeakMap<object, TypeRegistry<TypeDefs>>();

/** @internal `registry` was checked by the options of open() (lib/options.ts). */
export function attachTypes(lib: object, registry: TypeRegistry<TypeDefs> | undefined): void {
  if (registry !== undefined) libraryTypes.set(lib, registry);
}

/** @internal */
export function typesOf(lib: object): TypeRegistry<TypeDefs> | undefined {
  return libraryTypes.get(lib);
}

/** The compile-time declarations of a registry: `Library<DefsOf<typeof t>>` for a library opened with `{ types: t }`. */
export type DefsOf<R> = R extends TypeRegistry<infer D> ? D : never;
