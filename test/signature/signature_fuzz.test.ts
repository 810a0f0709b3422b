import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { typeProgram } from '../type_check';
import { isDlswapError } from '../../lib/errors';
import {
  KIND_CODES,
  MAX_PARAMS,
  MAX_POINTER_DEPTH,
  parsePrototype,
  signatureFromObject,
  type Kind,
  type Signature,
  type TypeInfo,
} from '../../lib/signature/signature';
import { cpuMs, mulberry32 } from '../helpers';

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

const CHAR: Kind = process.arch === 'arm64' ? 'u8' : 'i8';
const KINDS = new Set(Object.keys(KIND_CODES));
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---------------------------------------------------------------------------------------------------
// A generator of valid prototypes, with the kinds the parser must find

/** Word sets (any order is valid C) and their kind; `char` is the only string-capable pointee. */
const SCALARS: { words: string[]; kind: Kind; char?: true }[] = [
  { words: ['char'], kind: CHAR, char: true },
  { words: ['signed', 'char'], kind: 'i8' },
  { words: ['unsigned', 'char'], kind: 'u8' },
  { words: ['short'], kind: 'i16' },
  { words: ['short', 'int'], kind: 'i16' },
  { words: ['signed', 'short', 'int'], kind: 'i16' },
  { words: ['unsigned', 'short'], kind: 'u16' },
  { words: ['unsigned', 'short', 'int'], kind: 'u16' },
  { words: ['int'], kind: 'i32' },
  { words: ['signed'], kind: 'i32' },
  { words: ['signed', 'int'], kind: 'i32' },
  { words: ['unsigned'], kind: 'u32' },
  { words: ['unsigned', 'int'], kind: 'u32' },
  { words: ['long'], kind: 'i64' },
  { words: ['long', 'int'], kind: 'i64' },
  { words: ['signed', 'long'], kind: 'i64' },
  { words: ['unsigned', 'long'], kind: 'u64' },
  { words: ['unsigned', 'long', 'int'], kind: 'u64' },
  { words: ['long', 'long'], kind: 'i64' },
  { words: ['long', 'long', 'int'], kind: 'i64' },
  { words: ['unsigned', 'long', 'long'], kind: 'u64' },
  { words: ['unsigned', 'long', 'long', 'int'], kind: 'u64' },
  { words: ['bool'], kind: 'bool' },
  { words: ['_Bool'], kind: 'bool' },
  { words: ['float'], kind: 'f32' },
  { words: ['double'], kind: 'f64' },
  { words: ['int8_t'], kind: 'i8' },
  { words: ['uint8_t'], kind: 'u8' },
  { words: ['int16_t'], kind: 'i16' },
  { words: ['uint16_t'], kind: 'u16' },
  { words: ['int32_t'], kind: 'i32' },
  { words: ['uint32_t'], kind: 'u32' },
  { words: ['int64_t'], kind: 'i64' },
  { words: ['uint64_t'], kind: 'u64' },
  { words: ['size_t'], kind: 'u64' },
  { words: ['ssize_t'], kind: 'i64' },
  { words: ['intptr_t'], kind: 'i64' },
  { words: ['uintptr_t'], kind: 'u64' },
  { words: ['ptrdiff_t'], kind: 'i64' },
];
const NAMES = ['a', 'b', 'x', 'n', 'len', 'buf', 'argv', 'size_t', 'int8_t', 'ptr_2', '_p', 'Count'];
const TAGS = ['stat', 'node', 'size_t', 'T'];

type Piece = { text: string; word: boolean };

function spaced(rng: Rng, pieces: Piece[]): string {
  let out = '';
  for (let i = 0; i < pieces.length; i++) {
    if (i > 0) {
      const needed = pieces[i - 1].word && pieces[i].word;
      if (needed || rng.chance(0.4)) out += rng.pick([' ', ' ', ' ', '  ', '\t', '\n', '\r\n', ' \v', '\f']);
    }
    out += pieces[i].text;
  }
  return out;
}

interface GenType {
  pieces: Piece[];
  depth: number;
  base: Kind | 'void' | 'aggregate';
  plainChar: boolean;
  constBase: boolean;
}

function genType(rng: Rng, position: 'param' | 'return'): GenType {
  const pointerOnly = rng.chance(0.1);
  let words: string[];
  let base: GenType['base'];
  let plainChar = false;
  if (pointerOnly) {
    // `struct tag` stays one unit so qualifiers cannot land between the keyword and its tag.
    words = rng.chance(0.5) ? ['void'] : [`${rng.pick(['struct', 'union', 'enum'])} ${rng.pick(TAGS)}`];
    base = words[0] === 'void' ? 'void' : 'aggregate';
  } else {
    const s = rng.pick(SCALARS);
    words = rng.shuffle(s.words);
    base = s.kind;
    plainChar = s.char === true;
  }
  const constBase = rng.chance(0.3);
  const quals = [...(constBase ? ['const'] : []), ...(rng.chance(0.1) ? ['volatile'] : [])];
  for (const q of quals) words.splice(rng.int(words.length + 1), 0, q);
  const pieces: Piece[] = words.map((w) => ({ text: w, word: true }));
  let depth = pointerOnly || rng.chance(0.3) ? 1 + rng.int(3) : 0;
  if (base === 'void' && position === 'return' && !pointerOnly) depth = 0;
  for (let i = 0; i < depth; i++) {
    pieces.push({ text: '*', word: false });
    if (rng.chance(0.15)) pieces.push({ text: rng.pick(['const', 'volatile', 'restrict', '__restrict']), word: true });
  }
  return { pieces, depth, base, plainChar, constBase };
}

function expectedKind(t: GenType, position: 'param' | 'return'): Kind {
  if (t.depth === 0) return t.base as Kind;
  if (t.depth === 1 && t.plainChar && (position === 'return' || t.constBase)) return 'string';
  return 'pointer';
}

interface Generated {
  text: string;
  returns: Kind;
  params: { name: string | null; kind: Kind }[];
  variadic: boolean;
}

function genPrototype(rng: Rng): Generated {
  const ret = rng.chance(0.15)
    ? { pieces: [{ text: 'void', word: true }], depth: 0, base: 'void' as const, plainChar: false, constBase: false }
    : genType(rng, 'return');
  const count = rng.chance(0.2) ? 0 : 1 + rng.int(rng.chance(0.1) ? 20 : 6);
  const pieces: Piece[] = [...ret.pieces, { text: rng.pick(['f', 'add', 'strlen', 'size_t', 'do_it2']), word: true }, { text: '(', word: false }];
  const params: Generated['params'] = [];
  const used = new Set<string>();
  for (let i = 0; i < count; i++) {
    if (i > 0) pieces.push({ text: ',', word: false });
    const t = genType(rng, 'param');
    pieces.push(...t.pieces);
    let name: string | null = null;
    if (rng.chance(0.7)) {
      name = rng.pick(NAMES);
      if (used.has(name)) name = `${name}${i}`;
      used.add(name);
      pieces.push({ text: name, word: true });
    }
    params.push({ name, kind: expectedKind(t, 'param') });
  }
  const variadic = count > 0 && rng.chance(0.2);
  if (variadic) pieces.push({ text: ',', word: false }, { text: '...', word: false });
  if (count === 0 && rng.chance(0.5)) pieces.push({ text: 'void', word: true });
  pieces.push({ text: ')', word: false });
  if (rng.chance(0.3)) pieces.push({ text: ';', word: false });
  let text = spaced(rng, pieces);
  if (rng.chance(0.2)) text = ` ${text}\n`;
  return { text, returns: expectedKind(ret, 'return'), params, variadic };
}

// ---------------------------------------------------------------------------------------------------
// Random inputs and mutations

const VOCAB = [
  'void',
  'bool',
  '_Bool',
  'char',
  'short',
  'int',
  'long',
  'signed',
  'unsigned',
  'float',
  'double',
  'int8_t',
  'uint64_t',
  'size_t',
  'ssize_t',
  'ptrdiff_t',
  'const',
  'volatile',
  'restrict',
  '__restrict',
  'struct',
  'union',
  'enum',
  'extern',
  'static',
  'return',
  'foo_t',
  'f',
  'x',
  'y',
  'argv',
  '*',
  '*',
  '*',
  '(',
  '(',
  ')',
  ')',
  ',',
  ',',
  '...',
  ';',
  '[',
  ']',
  ':',
  '3',
  '0x10',
  '.',
  '/',
  '/*',
  '//',
  '=',
  '{',
  '}',
  '&',
  '#',
  '@',
  '$',
  '\\',
  '"',
  "'",
  'é',
  '😀',
  '\u0000',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\ud800',
  '\udc00',
  '\u007f',
  '\t',
  '\n',
];
const CHARS = [
  ...' \t\n\r\v\f*(),;.[]:/={}&#@$\\"\'`~!%^+-<>?|',
  'a',
  'z',
  '_',
  '0',
  '9',
  'é',
  '😀',
  '\u0000',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u200b',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\uffff',
];

function randomTokens(rng: Rng): string {
  const n = rng.int(30);
  let out = '';
  for (let i = 0; i < n; i++) out += rng.pick(VOCAB) + (rng.chance(0.7) ? ' ' : '');
  return out;
}

function splitTokens(s: string): string[] {
  return s.match(/[A-Za-z_][A-Za-z0-9_]*|\.\.\.|\s+|[\s\S]/gu) ?? [];
}

function mutate(rng: Rng, input: string): string {
  let s = input;
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const pos = rng.int(s.length + 1);
    switch (rng.int(9)) {
      case 0: // insert a character
        s = s.slice(0, pos) + rng.pick(CHARS) + s.slice(pos);
        break;
      case 1: // delete a character
        s = s.slice(0, pos) + s.slice(pos + 1);
        break;
      case 2: // replace a character
        s = s.slice(0, pos) + rng.pick(CHARS) + s.slice(pos + 1);
        break;
      case 3: {
        // duplicate a slice
        const end = Math.min(s.length, pos + 1 + rng.int(12));
        s = s.slice(0, end) + s.slice(pos, end) + s.slice(end);
        break;
      }
      case 4: // swap adjacent characters
        if (pos + 1 < s.length) s = s.slice(0, pos) + s[pos + 1] + s[pos] + s.slice(pos + 2);
        break;
      default: {
        // token-level: insert, delete, duplicate, swap
        const toks = splitTokens(s);
        const i = rng.int(toks.length + 1);
        const j = rng.int(toks.length + 1);
        const op = rng.int(4);
        if (op === 0) toks.splice(i, 0, rng.chance(0.5) ? ` ${rng.pick(VOCAB)} ` : rng.pick(VOCAB));
        else if (op === 1) toks.splice(i, 1);
        else if (op === 2 && i < toks.length) toks.splice(j, 0, toks[i]);
        else if (i < toks.length && j < toks.length) [toks[i], toks[j]] = [toks[j], toks[i]];
        s = toks.join('');
      }
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------
// The oracle

function checkTypeInfo(t: TypeInfo, where: string): void {
  expect(KINDS.has(t.kind), where).toBe(true);
  expect(typeof t.c === 'string' && t.c.length > 0 && t.c.trim() === t.c, where).toBe(true);
  expect(Number.isInteger(t.pointerDepth) && t.pointerDepth >= 0 && t.pointerDepth <= MAX_POINTER_DEPTH, where).toBe(true);
  expect(t.pointerDepth, where).toBe((t.c.match(/\*/g) ?? []).length);
  if (t.kind === 'string') expect(t.pointerDepth, where).toBe(1);
  if (t.kind === 'pointer') expect(t.pointerDepth, where).toBeGreaterThan(0);
  if (t.pointerDepth > 0) expect(['pointer', 'string'], where).toContain(t.kind);
}

function joinName(c: string, name: string | null): string {
  if (name === null) return c;
  return c.endsWith('*') ? c + name : `${c} ${name}`;
}

/** A well-formed Signature that survives a round trip through its text and through the object form. */
function checkSignature(sig: Signature, input: string): void {
  const where = JSON.stringify(input);
  expect(IDENT.test(sig.name), where).toBe(true);
  checkTypeInfo(sig.returns, where);
  expect(Array.isArray(sig.params) && sig.params.length <= MAX_PARAMS, where).toBe(true);
  const names = new Set<string>();
  for (const p of sig.params) {
    checkTypeInfo(p.type, where);
    expect(p.type.kind, where).not.toBe('void');
    if (p.name !== null) {
      expect(IDENT.test(p.name), where).toBe(true);
      expect(names.has(p.name), where).toBe(false);
      names.add(p.name);
    }
  }
  expect(typeof sig.variadic, where).toBe('boolean');
  if (sig.variadic) expect(sig.params.length, where).toBeGreaterThan(0);
  expect(parsePrototype(sig.text), where).toEqual(sig);
  expect(
    signatureFromObject({
      name: sig.name,
      returns: sig.returns.c,
      args: sig.params.map((p) => joinName(p.type.c, p.name)),
      variadic: sig.variadic,
    }),
    where,
  ).toEqual(sig);
}

type Outcome = { ok: true; sig: Signature } | { ok: false };

function run(input: string): Outcome {
  let sig: Signature;
  try {
    sig = parsePrototype(input);
  } catch (e) {
    if (!isDlswapError(e, 'ERR_DLSWAP_SIGNATURE')) {
      throw new Error(`unexpected ${String(e)} for ${JSON.stringify(input)}`, { cause: e });
    }
    const m = /^Invalid C prototype .* at column (\d+): \S/su.exec(e.message);
    if (!m) throw new Error(`message without a column for ${JSON.stringify(input)}: ${e.message}`);
    const col = Number(m[1]);
    if (col < 1 || col > input.length + 1) throw new Error(`column ${col} out of range for ${JSON.stringify(input)}`);
    return { ok: false };
  }
  checkSignature(sig, input);
  return { ok: true, sig };
}

const SEED = 0x5eed_d15a;
const N = 20_000;

describe('fuzz', () => {
  it('generated valid prototypes parse to the expected kinds', () => {
    const rng = new Rng(SEED);
    for (let i = 0; i < 5_000; i++) {
      const g = genPrototype(rng);
      const out = run(g.text);
      if (!out.ok)
        throw new Error(
          `rejected a valid prototype: ${JSON.stringify(g.text)}: ${(() => {
            try {
              parsePrototype(g.text);
            } catch (e) {
              return String(e);
            }
          })()}`,
        );
      expect(out.sig.returns.kind, g.text).toBe(g.returns);
      expect(
        out.sig.params.map((p) => ({ name: p.name, kind: p.type.kind })),
        g.text,
      ).toEqual(g.params);
      expect(out.sig.variadic, g.text).toBe(g.variadic);
    }
  });

  it(`${N} random token sequences and ${N} mutations of valid prototypes parse or throw ERR_DLSWAP_SIGNATURE, quickly`, () => {
    const rng = new Rng(SEED + 1);
    let accepted = 0;
    const used = cpuMs(() => {
      for (let i = 0; i < 2 * N; i++) {
        const input = i < N ? randomTokens(rng) : mutate(rng, genPrototype(rng).text);
        if (run(input).ok) accepted++;
      }
    });
    // A hang guard in CPU time, 10x the quiet figure (~2.3 s): a parser that backtracks blows past it.
    expect(used).toBeLessThan(25_000);
    // Sanity: mutations should leave a fair share valid, or the oracle above is barely exercised.
    expect(accepted).toBeGreaterThan(N / 10);
  });

  it('large and repetitive inputs throw quickly', () => {
    const inputs = [
      '*'.repeat(100_000),
      '('.repeat(100_000),
      ')'.repeat(100_000),
      'int f('.repeat(20_000),
      `int f(${'int a, '.repeat(20_000)})`,
      '\u0000'.repeat(100_000),
      '😀'.repeat(50_000),
      `int f(${'('.repeat(4000)}`,
      `int f(${'*'.repeat(4000)}int)`,
      `${'long '.repeat(800)}f(void)`,
    ];
    const used = cpuMs(() => {
      for (const input of inputs) expect(run(input).ok).toBe(false);
    });
    // A hang guard in CPU time, far above the quiet figure (~2 ms): quadratic work on 100k characters is not.
    expect(used).toBeLessThan(1_000);
  });
});

// ---------------------------------------------------------------------------------------------------
// The type-level inference must agree with the parser on whatever the parser accepts

const JS_PARAM: Record<Kind, string> = {
  void: 'never',
  bool: 'boolean',
  i8: 'number',
  u8: 'number',
  i16: 'number',
  u16: 'number',
  i32: 'number',
  u32: 'number',
  i64: 'number | bigint',
  u64: 'number | bigint',
  f32: 'number',
  f64: 'number',
  pointer: 'Ptr',
  string: 'Str',
};
const JS_RETURN: Record<Kind, string> = { ...JS_PARAM, i64: 'bigint', u64: 'bigint', void: 'void', pointer: 'bigint', string: 'string | null' };

function expectedFunctionType(sig: Signature): string {
  const args = sig.params.map((p) => JS_PARAM[p.type.kind]);
  if (sig.variadic) args.push('...unknown[]');
  return `(...args: [${args.join(', ')}]) => ${JS_RETURN[sig.returns.kind]}`;
}

describe('type-level agreement', () => {
  it('FunctionOf<P> matches the parsed Signature for generated and mutated prototypes', () => {
    const rng = new Rng(SEED + 2);
    const accepted: Signature[] = [];
    const inputs: string[] = [];
    for (let i = 0; accepted.length < 300 && i < 100_000; i++) {
      const g = genPrototype(rng);
      const input = i % 2 === 0 ? g.text : mutate(rng, g.text);
      // Past its character budget the type-level parser answers AnyFunction by design.
      if (input.length > 900) continue;
      const out = run(input);
      if (!out.ok) continue;
      accepted.push(out.sig);
      inputs.push(input);
    }

    const header = [
      "import type { FunctionOf } from '../../lib/signature/prototype_types';",
      'type Ptr = bigint | null | ArrayBufferView | ArrayBuffer;',
      'type Str = string | null | ArrayBufferView | bigint;',
      'type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;',
      'type Assert<T extends true> = T;',
    ];
    const lines = accepted.map((sig, i) => `export type T${i} = Assert<Equal<FunctionOf<${JSON.stringify(inputs[i])}>, ${expectedFunctionType(sig)}>>;`);
    const source = [...header, ...lines].join('\n');
    const virtualFile = path.join(__dirname, '__type_agreement__.ts');
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      lib: ['lib.es2022.d.ts'],
      types: [], // the type level (through lib/signature/handle.ts) imports nothing of node's
      esModuleInterop: true,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    };
    const program = typeProgram([], { file: virtualFile, source }, options);
    // Only the agreement file's own diagnostics: the library's sources are tsc's to check (npm test's
    // pretest compiles them with the project's options), not this program's.
    const ownFile = (d: ts.Diagnostic) => d.file !== undefined && path.resolve(d.file.fileName) === virtualFile;
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter(ownFile)
      .map((d) => {
        const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        if (d.file && path.resolve(d.file.fileName) === virtualFile && d.start !== undefined) {
          const line = d.file.getLineAndCharacterOfPosition(d.start).line - header.length;
          if (line >= 0) return `${JSON.stringify(inputs[line])}: expected ${expectedFunctionType(accepted[line])}: ${message}`;
        }
        return message;
      });
    expect(problems).toEqual([]);
  }, 120_000); // a hang guard: one tsc program of 300 types takes 3-11 s on this 2-core machine
});
