/**
 * The declaration parser: struct, union and enum bodies (with the `packed` and `aligned(N)`
 * attributes), full declarators (arrays, grouped and function declarators) and typedefs. It extends
 * the prototype parser (lib/signature/signature_parser.ts), so names and errors read the same in both; what
 * one declare() adds is staged and only lands in the registry (lib/signature/ctypes.ts) once the whole text
 * parsed.
 */
import {
  arrayOf,
  type CType,
  type EnumCType,
  enumKind,
  enumType,
  functionType,
  incompleteRecord,
  layoutRecord,
  MAX_TYPE_SIZE,
  type RecordCType,
  scalarType,
  VOID,
} from './ctype_model';
import { ConstantParser } from './ctypes_constants';
import type { Param } from './signature_kinds';
import { buildSignature } from './signature_parser';
import type { BaseType } from './signature_specifiers';
import { describeToken, type Source } from './signature_tokens';
import { type Qualifier, RESERVED } from './signature_vocabulary';

/** Members of one struct or union, enumerators of one enum. */
export const MAX_MEMBERS = 4096;

const BUILTIN_NAMES = new Set([
  'void',
  'bool',
  '_Bool',
  'float',
  'double',
  'int8_t',
  'uint8_t',
  'int16_t',
  'uint16_t',
  'int32_t',
  'uint32_t',
  'int64_t',
  'uint64_t',
  'size_t',
  'ssize_t',
  'intptr_t',
  'uintptr_t',
  'ptrdiff_t',
  'wchar_t',
]);

/** What one declare() adds, kept apart until the whole text has parsed. */
export interface Staging {
  tags: Map<string, CType>;
  typedefs: Map<string, CType>;
  constants: Map<string, bigint>;
  /** Records that were declared before and got their body in this text: undone on failure. */
  completed: RecordCType[];
}

/** A parsed declarator: its name, and how it turns the specifiers' type into the declared type. */
interface FullDeclarator {
  name: string | null;
  nameCol: number;
  col: number;
  /** `quals` qualify `base` (the const of the first pointer's pointee). */
  build(base: CType, quals?: Set<Qualifier>): CType;
}

export class DeclParser extends ConstantParser {
  constructor(
    src: Source,
    private readonly registry: RegistryState,
    private readonly staging: Staging,
  ) {
    super(src, {
      tag: (word, name) => staging.tags.get(`${word} ${name}`) ?? registry.tags.get(`${word} ${name}`),
      typedef: (name) => staging.typedefs.get(name) ?? registry.typedefs.get(name),
      constant: (name) => staging.constants.get(name) ?? registry.constants.get(name),
    });
  }

  // ---- specifiers --------------------------------------------------------------------------

  protected override parseTagSpecifier(word: 'struct' | 'union' | 'enum', _col: number): { c: string; ctype: CType | null } {
    const before = this.parseAttributes(word);
    const t = this.peek();
    let name: string | null = null;
    if (t.type === 'ident' && !RESERVED.has(t.value) && t.value !== '__attribute__') {
      name = t.value;
      this.next();
    } else if (!this.isPunct('{')) {
      this.fail(t.col, `expected a ${word} tag name or '{' after '${word}', found ${describeToken(t)}`);
    }
    const key = name === null ? null : `${word} ${name}`;
    if (!this.isPunct('{')) {
      if (before.packed || before.aligned) this.fail(t.col, `attributes of '${key}' belong to its definition (with its members)`);
      const known = this.lookup.tag(word, name!);
      if (known) return { c: key!, ctype: known };
      if (word === 'enum') this.fail(t.col, `'${key}' is not declared (C has no forward declarations of enums); declare it with its members first`);
      // As in C, naming a struct that has no body yet declares it: usable behind a pointer until completed.
      const rec = incompleteRecord(word, key);
      this.staging.tags.set(key!, rec);
      return { c: key!, ctype: rec };
    }
    const open = this.peek();
    if (word === 'enum') {
      if (before.packed || before.aligned) this.fail(open.col, 'attributes on enums are not supported');
      const e = this.nested(open.col, () => this.parseEnumBody(key));
      if (key !== null) {
        if (this.lookup.tag('enum', name!)) this.fail(t.col, `'${key}' is already declared`);
        this.staging.tags.set(key, e);
      }
      return { c: key ?? e.c, ctype: e };
    }
    let rec: RecordCType;
    const existing = key !== null ? this.lookup.tag(word, name!) : undefined;
    if (existing) {
      if (existing.tag !== word || existing.fields !== null)
        this.fail(t.col, `'${key}' is already ${existing.tag === word ? 'defined' : `declared as a ${existing.tag}`}`);
      rec = existing;
      if (this.registry.tags.get(key!) === existing) this.staging.completed.push(existing);
    } else {
      rec = incompleteRecord(word, key);
      if (key !== null) this.staging.tags.set(key, rec);
    }
    const members = this.nested(open.col, () => this.parseRecordBody(rec));
    const after = this.parseAttributes(word);
    const packed = before.packed || after.packed;
    const aligned = Math.max(before.aligned, after.aligned);
    layoutRecord(rec, members, packed, aligned);
    if (rec.size > MAX_TYPE_SIZE) this.fail(open.col, `'${rec.c}' is ${rec.size} bytes; the limit is ${MAX_TYPE_SIZE}`);
    return { c: rec.c, ctype: rec };
  }

  /** `__attribute__((packed))`, `__attribute__((aligned(8)))`, any number of them. */
  private parseAttributes(word: string): { packed: boolean; aligned: number } {
    const out = { packed: false, aligned: 0 };
    while (this.peek().type === 'ident' && (this.peek().value === '__attribute__' || this.peek().value === '__attribute')) {
      this.next();
      for (let k = 0; k < 2; k++) {
        const p = this.peek();
        if (!this.isPunct('(')) this.fail(p.col, `expected '((' after __attribute__, found ${describeToken(p)}`);
        this.next();
      }
      for (;;) {
        const a = this.peek();
        if (this.isPunct(')')) break;
        if (a.type !== 'ident') this.fail(a.col, `expected an attribute name, found ${describeToken(a)}`);
        this.next();
        const attr = a.value.replace(/^__(.*)__$/, '$1');
        if (attr === 'packed') {
          if (word === 'enum') this.fail(a.col, 'packed enums are not supported');
          out.packed = true;
        } else if (attr === 'aligned') {
          if (!this.isPunct('(')) this.fail(this.peek().col, "'aligned' needs its alignment, as in aligned(8)");
          this.next();
          const col = this.peek().col;
          const n = this.parseConstant();
          if (n < 1n || n > 1n << 28n || (n & (n - 1n)) !== 0n) this.fail(col, `alignment ${n} is not a power of two up to 2^28`);
          out.aligned = Math.max(out.aligned, Number(n));
          const close = this.peek();
          if (!this.isPunct(')')) this.fail(close.col, `expected ')' after the alignment, found ${describeToken(close)}`);
          this.next();
        } else {
          this.fail(a.col, `attribute '${a.value}' is not supported (only packed and aligned(N))`);
        }
        if (this.isPunct(',')) this.next();
        else break;
      }
      for (let k = 0; k < 2; k++) {
        const p = this.peek();
        if (!this.isPunct(')')) this.fail(p.col, `expected '))' to close __attribute__, found ${describeToken(p)}`);
        this.next();
      }
    }
    return out;
  }

  /** '{' members '}' of a struct or union. */
  private parseRecordBody(rec: RecordCType): { name: string | null; type: CType }[] {
    const open = this.next(); // '{'
    const members: { name: string | null; type: CType }[] = [];
    const names = new Map<string, number>();
    const claim = (name: string, col: number) => {
      if (names.has(name)) this.fail(col, `duplicate member '${name}' in '${rec.c}' (first at column ${names.get(name)})`);
      names.set(name, col);
    };
    while (!this.isPunct('}')) {
      const t = this.peek();
      if (t.type === 'eof') this.fail(t.col, `expected '}' to close '${rec.c}' (opened at column ${open.col}), but the input ended`);
      if (members.length >= MAX_MEMBERS) this.fail(t.col, `too many members (the limit is ${MAX_MEMBERS})`);
      if (t.type === 'ident' && t.value === 'typedef') this.fail(t.col, "'typedef' cannot appear inside a struct or union");
      if (t.type === 'ident' && (t.value === '__attribute__' || t.value === '__attribute')) {
        this.fail(t.col, 'attributes on members are not supported; put packed or aligned(N) on the struct itself');
      }
      const base = this.parseBase('type');
      if (this.isPunct(';')) {
        this.next();
        const ct = base.ctype;
        if (ct && (ct.tag === 'struct' || ct.tag === 'union') && ct.name === null) {
          // C11 anonymous member: its members belong to the enclosing record.
          for (const path of flatNames(ct)) claim(path, t.col);
          members.push({ name: null, type: ct });
          continue;
        }
        if (ct && (ct.tag === 'struct' || ct.tag === 'union' || ct.tag === 'enum') && base.c.includes(' ') && !base.c.includes('<anonymous>')) continue; // a nested tag declaration
        this.fail(t.col, 'this member declaration declares nothing: give it a name');
      }
      for (;;) {
        const d = this.parseFullDeclarator(base, true);
        if (d.name === null) this.fail(d.col, 'expected a member name');
        const colon = this.peek();
        if (this.isPunct(':')) {
          this.fail(colon.col, `bit-fields are not supported (member '${d.name}'): declare the integer that holds them and mask its bits in JS`);
        }
        const type = d.build(this.baseCType(base));
        this.checkMemberType(type, d.name, d.nameCol, rec);
        claim(d.name, d.nameCol);
        members.push({ name: d.name, type });
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        break;
      }
      const semi = this.peek();
      if (!this.isPunct(';')) this.fail(semi.col, `expected ';' after the member, found ${describeToken(semi)}`);
      this.next();
    }
    const close = this.next(); // '}'
    if (members.length === 0) this.fail(close.col, `'${rec.c}' has no members (C requires at least one)`);
    return members;
  }

  private checkMemberType(type: CType, name: string, col: number, rec: RecordCType): void {
    let t = type;
    while (t.tag === 'array') t = t.of;
    if (t.tag === 'function') this.fail(col, `member '${name}' has a function type; a member can only point to a function ('R (*${name})(...)')`);
    if (t.tag === 'void') this.fail(col, `member '${name}' has type void`);
    if ((t.tag === 'struct' || t.tag === 'union') && t.fields === null) {
      this.fail(
        col,
        t === rec
          ? `member '${name}' contains '${rec.c}' itself; use a pointer`
          : `member '${name}' has the incomplete type '${t.c}': declare its members first, or use a pointer`,
      );
    }
    if (type.size > MAX_TYPE_SIZE) this.fail(col, `member '${name}' is ${type.size} bytes; the limit is ${MAX_TYPE_SIZE}`);
  }

  /** '{' enumerators '}'. */
  private parseEnumBody(name: string | null): EnumCType {
    const open = this.next(); // '{'
    const members = new Map<string, bigint>();
    let next = 0n;
    for (;;) {
      const t = this.peek();
      if (this.isPunct('}')) {
        if (members.size === 0) this.fail(t.col, 'an enum needs at least one enumerator');
        break;
      }
      if (t.type === 'eof') this.fail(t.col, `expected '}' to close the enum (opened at column ${open.col}), but the input ended`);
      if (t.type !== 'ident' || RESERVED.has(t.value) || BUILTIN_NAMES.has(t.value)) this.fail(t.col, `expected an enumerator name, found ${describeToken(t)}`);
      if (members.size >= MAX_MEMBERS) this.fail(t.col, `too many enumerators (the limit is ${MAX_MEMBERS})`);
      this.next();
      if (members.has(t.value) || this.lookup.constant(t.value) !== undefined) this.fail(t.col, `enumerator '${t.value}' is already declared`);
      let value = next;
      if (this.isPunct('=')) {
        this.next();
        value = this.parseConstant();
      }
      members.set(t.value, value);
      this.staging.constants.set(t.value, value);
      if (enumKind([value]) === null) this.fail(t.col, `enumerator '${t.value}' = ${value} does not fit in 64 bits`);
      next = value + 1n;
      const sep = this.peek();
      if (this.isPunct(',')) {
        this.next();
        continue;
      }
      if (!this.isPunct('}')) this.fail(sep.col, `expected ',' or '}' after the enumerator, found ${describeToken(sep)}`);
    }
    this.next(); // '}'
    if (enumKind(members.values()) === null) this.fail(open.col, 'the enumerators need more than 64 bits together (negative values and values above 2^63)');
    return enumType(name, members);
  }

  // ---- declarators ---------------------------------------------------------------------------

  /** The type the specifiers name, as a CType. */
  baseCType(base: BaseType): CType {
    if (base.ctype) return base.ctype;
    if (base.kind === null) return incompleteRecord(base.c.startsWith('union ') ? 'union' : 'struct', base.c);
    if (base.kind === 'void') return VOID;
    return scalarType(base.kind as never, base.c, base.plainChar);
  }

  /**
   * A full C declarator: pointers, a name (or none), parentheses for grouping, array and function
   * suffixes, as in `int (*handlers[4])(int)`.
   */
  parseFullDeclarator(base: BaseType, allowName: boolean): FullDeclarator {
    const col = this.peek().col;
    const levels = this.parsePointerLevels();
    let inner: FullDeclarator | null = null;
    let name: string | null = null;
    let nameCol = 0;
    if (this.isPunct('(') && (this.isPunct('*', 1) || this.isPunct('(', 1))) {
      const open = this.next();
      inner = this.nested(open.col, () => this.parseFullDeclarator(base, allowName));
      const close = this.peek();
      if (!this.isPunct(')')) this.fail(close.col, `expected ')', found ${describeToken(close)}`);
      this.next();
    } else {
      const n = this.parseOptionalName(levels, allowName);
      name = n.name;
      nameCol = n.col;
    }
    const suffixes: ({ array: number } | { params: Param[]; variadic: boolean; col: number })[] = [];
    for (;;) {
      const t = this.peek();
      if (this.isPunct('[')) {
        this.next();
        if (this.isPunct(']'))
          this.fail(
            this.peek().col,
            'arrays without a length (flexible array members) are not supported; declare the fixed part and read the rest through a pointer',
          );
        const lenCol = this.peek().col;
        const len = this.parseConstant();
        if (len < 1n || len > BigInt(MAX_TYPE_SIZE)) this.fail(lenCol, `array length ${len} is out of range (1 to ${MAX_TYPE_SIZE})`);
        const close = this.peek();
        if (!this.isPunct(']')) this.fail(close.col, `expected ']' after the array length, found ${describeToken(close)}`);
        this.next();
        suffixes.push({ array: Number(len) });
      } else if (this.isPunct('(')) {
        suffixes.push({ ...this.parseFunctionParams(), col: t.col });
      } else {
        break;
      }
    }
    const self = this;
    const baseQuals = base.quals;
    return {
      name: inner ? inner.name : name,
      nameCol: inner ? inner.nameCol : nameCol,
      col,
      build(b: CType, quals: Set<Qualifier> = baseQuals): CType {
        let t = self.applyPointers(b, quals, levels);
        for (let i = suffixes.length - 1; i >= 0; i--) {
          const s = suffixes[i];
          if ('array' in s) {
            if (t.tag === 'function') self.fail(col, 'arrays of functions are not allowed; use an array of function pointers');
            if (t.tag === 'void') self.fail(col, 'arrays of void are not allowed');
            if (t.size * s.array > MAX_TYPE_SIZE) self.fail(col, `the array is ${t.size * s.array} bytes; the limit is ${MAX_TYPE_SIZE}`);
            t = arrayOf(t, s.array);
          } else {
            const returns = self.classify(t, 'return', t.c, s.col);
            t = functionType(buildSignature('', returns, s.params, s.variadic));
          }
        }
        return inner ? inner.build(t, new Set()) : t;
      },
    };
  }

  // ---- top level -------------------------------------------------------------------------

  /** Declarations separated by ';'. */
  parseDeclarations(): void {
    for (;;) {
      const t = this.peek();
      if (t.type === 'eof') return;
      if (this.isPunct(';')) {
        this.next();
        continue;
      }
      const isTypedef = t.type === 'ident' && t.value === 'typedef';
      if (isTypedef) this.next();
      const base = this.parseBase('type');
      if (this.isPunct(';') || this.peek().type === 'eof') {
        const ct = base.ctype;
        if (isTypedef) this.fail(this.peek().col, 'a typedef needs a name');
        if (!ct || !(ct.tag === 'struct' || ct.tag === 'union' || ct.tag === 'enum')) {
          this.fail(base.col, `this declaration declares nothing: declare a struct, union or enum (with its tag), or a typedef`);
        }
        if (ct.tag !== 'enum' && ct.name === null)
          this.fail(base.col, `an anonymous ${ct.tag} declared alone cannot be named later: give it a tag or a typedef name`);
        continue;
      }
      for (;;) {
        const d = this.parseFullDeclarator(base, true);
        if (d.name === null) this.fail(d.col, isTypedef ? 'expected the typedef name' : 'expected a declaration');
        if (!isTypedef) {
          this.fail(
            d.nameCol,
            `'${d.name}' would declare a variable or function; only types can be declared here (put 'typedef' before it to name a type, and pass functions to lib.func)`,
          );
        }
        if (BUILTIN_NAMES.has(d.name)) this.fail(d.nameCol, `'${d.name}' is a built-in type name and cannot be redefined`);
        const type = d.build(this.baseCType(base));
        const prior = this.lookup.typedef(d.name);
        if (prior && prior !== type && prior.c !== type.c) this.fail(d.nameCol, `typedef '${d.name}' is already declared as '${prior.c}'`);
        if ((type.tag === 'struct' || type.tag === 'union' || type.tag === 'enum') && type.name === null && type.c.includes('<anonymous>')) {
          type.c = d.name;
        }
        this.staging.typedefs.set(d.name, type);
        if (this.isPunct(',')) {
          this.next();
          continue;
        }
        break;
      }
      const end = this.peek();
      if (end.type !== 'eof' && !this.isPunct(';')) this.fail(end.col, `expected ';' after the declaration, found ${describeToken(end)}`);
    }
  }

  /** A type name: specifiers and an abstract declarator, as in sizeof: 'struct point', 'int[4]', 'int (*)(int)'. */
  parseTypeName(): CType {
    const base = this.parseBase('type');
    const d = this.parseFullDeclarator(base, false);
    const end = this.peek();
    if (end.type !== 'eof') this.fail(end.col, `unexpected ${describeToken(end)}: expected the end of the type`);
    return d.build(this.baseCType(base));
  }
}

/** Names a record makes visible, with anonymous members flattened. */
function flatNames(rec: RecordCType): string[] {
  const out: string[] = [];
  for (const f of rec.fields ?? []) {
    if (f.name === null) out.push(...flatNames(f.type as RecordCType));
    else out.push(f.name);
  }
  return out;
}

export interface RegistryState {
  tags: Map<string, CType>;
  typedefs: Map<string, CType>;
  constants: Map<string, bigint>;
}
