/**
 * The second half of the parser: declarators (pointers, names, function pointers), prototypes and
 * lone types, and how a declarator resolves to the TypeInfo a call converts by.
 * lib/signature/ctypes_declarations.ts extends Parser for declarations.
 */
import { type CType, functionSpelling, functionType, pointerTo } from './ctype_model';
import { type Kind, MAX_PARAMS, MAX_POINTER_DEPTH, type Param, type Signature, type TypeInfo, type TypePosition } from './signature_kinds';
import { type BaseType, type Expectation, SpecifierParser } from './signature_specifiers';
import { describeToken } from './signature_tokens';
import { type Qualifier, QUALIFIER_ORDER, QUALIFIERS, RESERVED } from './signature_vocabulary';

/** `(*name)(params)` after the specifiers of a parameter: a function pointer. @internal */
interface FunctionDeclarator {
  /** Qualifiers of each '*' inside the parentheses; empty for `name(params)` (a function type, which decays). */
  levels: Set<Qualifier>[];
  params: Param[];
  variadic: boolean;
  col: number;
}

/** @internal */
export interface Declarator {
  base: BaseType;
  /** Qualifiers of each pointer level, outermost last. */
  levels: Set<Qualifier>[];
  name: string | null;
  nameCol: number;
  col: number;
  /** Set for a function pointer (or function type) parameter: `levels` then apply to its return type. */
  func?: FunctionDeclarator;
}

/** Where the specifiers start: picks the "expected ..." wording when none are there. @internal */
/** How deeply function pointer parameters may nest (`int f(void (*cb)(int (*)(int)))` is 2). */
export const MAX_FUNCTION_NESTING = 8;

/**
 * @internal The recursive-descent parser of declarators, prototypes and lone types;
 * lib/signature/ctypes_declarations.ts extends it for declarations.
 */
export class Parser extends SpecifierParser {
  /** `*`s and their qualifiers. */
  protected parsePointerLevels(): Set<Qualifier>[] {
    const levels: Set<Qualifier>[] = [];
    while (this.isPunct('*')) {
      const star = this.next();
      if (levels.length === MAX_POINTER_DEPTH) this.fail(star.col, `too many '*' (at most ${MAX_POINTER_DEPTH} levels)`);
      const quals = new Set<Qualifier>();
      while (this.peek().type === 'ident' && QUALIFIERS[this.peek().value]) quals.add(QUALIFIERS[this.next().value]);
      levels.push(quals);
    }
    return levels;
  }

  /** A name where a declarator may have one; null when there is none. */
  protected parseOptionalName(levels: Set<Qualifier>[], allowName: boolean): { name: string | null; col: number } {
    const t = this.peek();
    if (t.type !== 'ident') return { name: null, col: 0 };
    if (!allowName) this.fail(t.col, `unexpected ${describeToken(t)}: expected the end of the type`);
    if (RESERVED.has(t.value)) {
      const message =
        QUALIFIERS[t.value] && levels.length === 0 ? `'${t.value}' must follow a type or '*'` : `'${t.value}' is a keyword and cannot be used as a name`;
      this.fail(t.col, message);
    }
    this.next();
    return { name: t.value, col: t.col };
  }

  /** Specifiers, pointer levels and an optional name: one parameter or the function's head. */
  parseDeclarator(expect: Expectation, allowName: boolean): Declarator {
    const base = this.parseBase(expect);
    const levels = this.parsePointerLevels();
    let { name, col: nameCol } = this.parseOptionalName(levels, allowName);
    let func: FunctionDeclarator | undefined;

    const inParams = expect === 'first-param' || expect === 'param';
    // `int (*cb)(int)` (or, abstract, `int (*)(int)`): a function pointer parameter.
    if (name === null && (inParams || expect === 'type') && this.isPunct('(') && this.isPunct('*', 1)) {
      const open = this.next();
      const inner = this.parsePointerLevels();
      const n = this.parseOptionalName(inner, allowName);
      name = n.name;
      nameCol = n.col;
      const close = this.peek();
      if (close.type === 'punct' && close.value === '[') this.fail(close.col, 'pointers to arrays are not supported; pass a pointer to the first element');
      if (!this.isPunct(')')) this.fail(close.col, `expected ')' to close the function pointer declarator, found ${describeToken(close)}`);
      this.next();
      const paren = this.peek();
      if (this.isPunct('[')) this.fail(paren.col, 'pointers to arrays are not supported; pass a pointer to the first element');
      if (!this.isPunct('(')) {
        this.fail(paren.col, `expected the parameter list of the function pointer after ')', found ${describeToken(paren)}`);
      }
      func = { levels: inner, ...this.parseFunctionParams(), col: open.col };
    } else if (name !== null && inParams && this.isPunct('(')) {
      // `int cb(int)`: a parameter of function type is a function pointer, as in C.
      func = { levels: [], ...this.parseFunctionParams(), col: base.col };
    }

    const after = this.peek();
    if (after.type === 'punct') {
      if (after.value === '[') this.fail(after.col, "arrays are not supported; declare the parameter as a pointer ('T *')");
      if (after.value === ':') this.fail(after.col, 'bit-fields are not supported');
      if (after.value === '(' && func) this.fail(after.col, 'functions returning functions are not supported');
      if (after.value === '(' && expect === 'type') {
        this.fail(after.col, "function types are not supported; write a function pointer, as in 'int (*)(int)'");
      }
      if (after.value === '(' && expect !== 'return') {
        this.fail(after.col, "unexpected '(': a function pointer parameter is written 'int (*name)(int)'");
      }
    }
    if (after.type === 'number') this.fail(after.col, `unexpected ${describeToken(after)}`);
    return { base, levels, name, nameCol, col: base.col, func };
  }

  /** The parenthesized parameter list of a function pointer: '(' params ')'. */
  protected parseFunctionParams(): { params: Param[]; variadic: boolean } {
    const open = this.next(); // '('
    if (this.nesting === MAX_FUNCTION_NESTING) {
      this.fail(open.col, `function pointers nested too deeply (at most ${MAX_FUNCTION_NESTING} levels)`);
    }
    this.nesting++;
    try {
      return this.parseParams();
    } finally {
      this.nesting--;
    }
  }

  parsePrototype(): Signature {
    const head = this.parseDeclarator('return', true);
    if (head.name === null) {
      const t = this.peek();
      if (t.type === 'punct' && t.value === '(') {
        const message = this.isPunct('*', 1)
          ? "expected a function name; function pointers are not supported (declare callbacks as 'void *')"
          : "expected a function name before '('";
        this.fail(t.col, message);
      }
      this.fail(t.col, `expected a function name, found ${describeToken(t)}`);
    }
    const open = this.peek();
    if (!this.isPunct('(')) this.fail(open.col, `expected '(' after the function name, found ${describeToken(open)}`);
    this.next();
    const returns = this.resolve(head, 'return');
    const { params, variadic } = this.parseParams();

    const close = this.peek();
    if (close.type === 'punct' && close.value === '(') {
      this.fail(close.col, "functions returning function pointers are not supported; declare the result as 'void *'");
    }
    if (this.isPunct(';')) this.next();
    const end = this.peek();
    if (end.type !== 'eof') this.fail(end.col, `unexpected ${describeToken(end)} after the parameter list`);
    return buildSignature(head.name, returns, params, variadic);
  }

  /** After '(' up to and including ')'. */
  parseParams(): { params: Param[]; variadic: boolean } {
    const params: Param[] = [];
    const names = new Map<string, number>();
    let voidCol = 0;
    let variadic = false;
    if (this.isPunct(')')) {
      this.next();
      return { params, variadic };
    }
    for (let index = 0; ; index++) {
      const t = this.peek();
      if (t.type === 'punct' && t.value === '...') {
        if (index === 0) this.fail(t.col, "'...' must come after at least one parameter");
        if (voidCol) this.fail(voidCol, "'void' must be the only parameter");
        this.next();
        variadic = true;
        const close = this.peek();
        if (!this.isPunct(')')) {
          this.fail(
            close.col,
            close.type === 'punct' && close.value === ',' ? "'...' must be the last parameter" : `expected ')' after '...', found ${describeToken(close)}`,
          );
        }
        this.next();
        break;
      }
      if (index === MAX_PARAMS) this.fail(t.col, `too many parameters (the limit is ${MAX_PARAMS})`);
      const d = this.parseDeclarator(index === 0 ? 'first-param' : 'param', true);
      if (d.base.kind === 'void' && d.levels.length === 0 && !d.func) {
        if (d.base.quals.size > 0) this.fail(d.col, "a 'void' parameter list cannot be qualified; write '(void)'");
        if (d.name !== null) this.fail(d.nameCol, `a 'void' parameter cannot have a name ('${d.name}')`);
        if (index > 0) this.fail(d.col, "'void' must be the only parameter");
        voidCol = d.col;
      } else if (voidCol) {
        this.fail(voidCol, "'void' must be the only parameter");
      }
      if (d.name !== null) {
        if (names.has(d.name)) this.fail(d.nameCol, `duplicate parameter name '${d.name}' (first at column ${names.get(d.name)})`);
        names.set(d.name, d.nameCol);
      }
      if (!voidCol) params.push({ name: d.name, type: this.resolve(d, 'param') });

      const sep = this.next();
      if (sep.type === 'punct' && sep.value === ')') break;
      if (sep.type === 'punct' && sep.value === ',') continue;
      if (sep.type === 'eof') this.fail(sep.col, "expected ',' or ')' but the input ended");
      this.fail(sep.col, `expected ',' or ')' after the parameter, found ${describeToken(sep)}`);
    }
    return { params, variadic };
  }

  /** A whole input holding one type (and, if allowed, a name): parseType and the object form. */
  parseStandaloneType(position: TypePosition, allowName: boolean): { type: TypeInfo; name: string | null } {
    const d = this.parseDeclarator('type', allowName);
    if (this.isPunct(';')) {
      this.fail(this.peek().col, "unexpected ';': expected the end of the type");
    }
    const end = this.peek();
    if (end.type !== 'eof') {
      const message =
        end.type === 'punct' && end.value === '('
          ? "function types are not supported; write a function pointer, as in 'int (*)(int)'"
          : `unexpected ${describeToken(end)}: expected the end of the type`;
      this.fail(end.col, message);
    }
    if (d.base.kind === 'void' && d.levels.length === 0 && !d.func && position !== 'return') {
      this.fail(d.col, position === 'variadic' ? "'void' cannot be passed as a variadic argument" : "'void' is not a parameter type (only a return type)");
    }
    return { type: this.resolve(d, position), name: d.name };
  }

  resolve(d: Declarator, position: TypePosition): TypeInfo {
    if (d.func) return this.resolveFunctionPointer(d, position);
    const depth = d.levels.length;
    const c = spell(d.base, d.levels);
    if (d.base.ctype) return this.classify(this.applyPointers(d.base.ctype, d.base.quals, d.levels), position, c, d.col);
    if (depth === 0) {
      if (d.base.kind === null) {
        if (d.base.c.startsWith('enum ')) {
          this.fail(d.col, `'${d.base.c}' by value is not supported; declare it as its underlying integer type (usually 'int')${this.declareHint(d.base.c)}`);
        }
        this.fail(d.col, `'${d.base.c}' by value is not supported; pass a pointer ('${d.base.c} *')${this.declareHint(d.base.c)}`);
      }
      let kind = d.base.kind;
      if (position === 'variadic') kind = promote(kind);
      return { kind, c, pointerDepth: 0 };
    }
    const stringy = depth === 1 && d.base.plainChar && (position === 'return' || d.base.quals.has('const'));
    return { kind: stringy ? 'string' : 'pointer', c, pointerDepth: depth };
  }

  private declareHint(c: string): string {
    return this.scope ? `, or declare '${c}' with its members in the library's types` : '';
  }

  /** The type `base` qualified by `quals`, behind each pointer level in turn. */
  protected applyPointers(base: CType, quals: Set<Qualifier>, levels: Set<Qualifier>[]): CType {
    let t = base;
    let constTo = quals.has('const');
    for (const level of levels) {
      t = pointerTo(t, constTo);
      constTo = level.has('const');
    }
    return t;
  }

  /** A parameter declared `R (*name)(params)` (or `R name(params)`, which decays to it). */
  protected resolveFunctionPointer(d: Declarator, position: TypePosition): TypeInfo {
    const f = d.func!;
    const returns = this.resolve({ ...d, func: undefined, name: null }, 'return');
    const sig = buildSignature('', returns, f.params, f.variadic);
    let t: CType = functionType(sig);
    const levels = f.levels.length ? f.levels : [new Set<Qualifier>()];
    for (const _ of levels) t = pointerTo(t);
    const c = functionSpelling(sig, '*'.repeat(levels.length));
    const info: TypeInfo = { kind: 'pointer', c, pointerDepth: levels.length };
    if (levels.length === 1) info.ctype = t;
    if (position === 'return') this.fail(f.col, "functions returning function pointers are not supported; declare the result as 'void *'");
    return info;
  }

  /** The TypeInfo of a value of C type `t` in `position`; `c` is its spelling as written. */
  classify(t: CType, position: TypePosition, c: string, col: number): TypeInfo {
    switch (t.tag) {
      case 'void':
        if (position !== 'return')
          this.fail(col, `'${c}' is void: it is not a ${position === 'variadic' ? 'variadic argument' : 'parameter'} type (only a return type)`);
        return { kind: 'void', c, pointerDepth: 0 };
      case 'scalar':
        return { kind: position === 'variadic' ? promote(t.kind) : t.kind, c, pointerDepth: 0 };
      case 'enum':
        return { kind: position === 'variadic' ? promote(t.kind) : t.kind, c, pointerDepth: 0, ctype: t };
      case 'struct':
      case 'union': {
        const name = t.name ?? c;
        if (t.fields === null) {
          this.fail(col, `'${name}' by value is not supported: it is only declared, without its members; pass a pointer ('${name} *') or declare its members`);
        }
        if (t.tag === 'union') this.fail(col, `'${name}' (a union) by value is not supported; pass a pointer ('${name} *')`);
        if (t.packed) this.fail(col, `'${name}' is packed: packed structs by value are not supported; pass a pointer ('${name} *')`);
        if (position === 'variadic') this.fail(col, `'${name}' cannot be passed through '...' (structs by value are fixed parameters only)`);
        return { kind: 'aggregate', c, pointerDepth: 0, ctype: t };
      }
      case 'array':
        if (position === 'return') this.fail(col, `a function cannot return an array ('${c}')`);
        return this.classify(pointerTo(t.of), position, c, col);
      case 'function':
        if (position === 'return') this.fail(col, `a function cannot return a function ('${c}')`);
        return this.classify(pointerTo(t), position, c, col);
      case 'pointer': {
        let depth = 1;
        for (let p: CType = t.to; p.tag === 'pointer'; p = p.to) depth++;
        const to = t.to;
        if (to.tag === 'scalar' && to.plainChar && (position === 'return' || t.constTo)) return { kind: 'string', c, pointerDepth: depth };
        const info: TypeInfo = { kind: 'pointer', c, pointerDepth: depth };
        if (((to.tag === 'struct' || to.tag === 'union') && to.fields !== null) || to.tag === 'function') info.ctype = t;
        return info;
      }
    }
  }
}

/** @internal C's default argument promotions: what actually travels through `...`. */
export function promote(kind: Kind): Kind {
  switch (kind) {
    case 'bool':
    case 'i8':
    case 'u8':
    case 'i16':
    case 'u16':
      return 'i32';
    case 'f32':
      return 'f64';
    default:
      return kind;
  }
}

function spellQuals(quals: Set<Qualifier>): string {
  return QUALIFIER_ORDER.filter((q) => quals.has(q)).join(' ');
}

/** @internal */
export function spell(base: BaseType, levels: Set<Qualifier>[]): string {
  const q = spellQuals(base.quals);
  let s = q ? `${q} ${base.c}` : base.c;
  for (let i = 0; i < levels.length; i++) {
    s += i === 0 ? ' *' : '*';
    const lq = spellQuals(levels[i]);
    if (lq) s += `${lq} `;
  }
  return s.trimEnd();
}

/** `const char *` + `s` -> `const char *s`; `int` + `n` -> `int n`. */
function joinName(c: string, name: string | null): string {
  if (name === null) return c;
  // A function pointer: the name goes inside the parentheses, `int (*cb)(int)`.
  const fp = /\((\*+)\)\(/.exec(c);
  if (fp) return `${c.slice(0, fp.index + 1 + fp[1].length)}${name}${c.slice(fp.index + 1 + fp[1].length)}`;
  return c.endsWith('*') ? `${c}${name}` : `${c} ${name}`;
}

/** @internal */
export function buildSignature(name: string, returns: TypeInfo, params: Param[], variadic: boolean): Signature {
  const list = params.map((p) => joinName(p.type.c, p.name));
  if (variadic) list.push('...');
  const text = `${joinName(returns.c, name)}(${list.length ? list.join(', ') : 'void'})`;
  return { name, returns, params, variadic, text };
}
