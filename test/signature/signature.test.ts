import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_GYP_BUILD_TYPES, typeErrors } from '../type_check';
import { cpuMs } from '../helpers';
import { DlswapError, isDlswapError } from '../../lib/errors';
import {
  KIND_CODES,
  MAX_PARAMS,
  MAX_POINTER_DEPTH,
  MAX_PROTOTYPE_LENGTH,
  kindCode,
  kindIsBigInt,
  parsePrototype,
  parseType,
  signatureFromObject,
  type Kind,
  type Signature,
} from '../../lib/signature/signature';

/** Runs `fn`, which must throw a DlswapError ERR_DLSWAP_SIGNATURE; returns its message. */
function rejection(fn: () => unknown): string {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(DlswapError);
  expect(isDlswapError(thrown, 'ERR_DLSWAP_SIGNATURE')).toBe(true);
  return (thrown as Error).message;
}

function withArch<T>(arch: string, fn: () => T): T {
  const saved = Object.getOwnPropertyDescriptor(process, 'arch')!;
  Object.defineProperty(process, 'arch', { ...saved, value: arch });
  try {
    return fn();
  } finally {
    Object.defineProperty(process, 'arch', saved);
  }
}

const CHAR: Kind = process.arch === 'arm64' ? 'u8' : 'i8';

describe('scalar types', () => {
  // [spelling, kind, normalized spelling]
  const table: [string, Kind, string][] = [
    ['bool', 'bool', 'bool'],
    ['_Bool', 'bool', 'bool'],
    ['char', CHAR, 'char'],
    ['signed char', 'i8', 'signed char'],
    ['char signed', 'i8', 'signed char'],
    ['unsigned char', 'u8', 'unsigned char'],
    ['short', 'i16', 'short'],
    ['short int', 'i16', 'short'],
    ['signed short', 'i16', 'short'],
    ['signed short int', 'i16', 'short'],
    ['int short', 'i16', 'short'],
    ['unsigned short', 'u16', 'unsigned short'],
    ['unsigned short int', 'u16', 'unsigned short'],
    ['short unsigned', 'u16', 'unsigned short'],
    ['int', 'i32', 'int'],
    ['signed', 'i32', 'int'],
    ['signed int', 'i32', 'int'],
    ['unsigned', 'u32', 'unsigned int'],
    ['unsigned int', 'u32', 'unsigned int'],
    ['int unsigned', 'u32', 'unsigned int'],
    ['long', 'i64', 'long'],
    ['long int', 'i64', 'long'],
    ['int long', 'i64', 'long'],
    ['signed long', 'i64', 'long'],
    ['unsigned long', 'u64', 'unsigned long'],
    ['unsigned long int', 'u64', 'unsigned long'],
    ['long unsigned int', 'u64', 'unsigned long'],
    ['long long', 'i64', 'long long'],
    ['long long int', 'i64', 'long long'],
    ['long int long', 'i64', 'long long'],
    ['signed long long', 'i64', 'long long'],
    ['unsigned long long', 'u64', 'unsigned long long'],
    ['unsigned long long int', 'u64', 'unsigned long long'],
    ['long long unsigned', 'u64', 'unsigned long long'],
    ['int8_t', 'i8', 'int8_t'],
    ['uint8_t', 'u8', 'uint8_t'],
    ['int16_t', 'i16', 'int16_t'],
    ['uint16_t', 'u16', 'uint16_t'],
    ['int32_t', 'i32', 'int32_t'],
    ['uint32_t', 'u32', 'uint32_t'],
    ['int64_t', 'i64', 'int64_t'],
    ['uint64_t', 'u64', 'uint64_t'],
    ['size_t', 'u64', 'size_t'],
    ['ssize_t', 'i64', 'ssize_t'],
    ['intptr_t', 'i64', 'intptr_t'],
    ['uintptr_t', 'u64', 'uintptr_t'],
    ['ptrdiff_t', 'i64', 'ptrdiff_t'],
    ['float', 'f32', 'float'],
    ['double', 'f64', 'double'],
  ];

  it.each(table)('%s is %s as a parameter and as a return type', (spelling, kind, c) => {
    const sig = parsePrototype(`${spelling} f(${spelling} x, ${spelling})`);
    expect(sig.returns).toEqual({ kind, c, pointerDepth: 0 });
    expect(sig.params).toEqual([
      { name: 'x', type: { kind, c, pointerDepth: 0 } },
      { name: null, type: { kind, c, pointerDepth: 0 } },
    ]);
    expect(parseType(spelling)).toEqual({ kind, c, pointerDepth: 0 });
  });

  it('void is a return type only', () => {
    expect(parsePrototype('void f(int)').returns).toEqual({ kind: 'void', c: 'void', pointerDepth: 0 });
    expect(parseType('void', 'return')).toEqual({ kind: 'void', c: 'void', pointerDepth: 0 });
    expect(rejection(() => parseType('void'))).toMatch(/column 1: 'void' is not a parameter type/);
  });

  it('plain char follows the architecture: signed on x86-64, unsigned on aarch64', () => {
    expect(withArch('x64', () => parsePrototype('char f(char c)'))).toMatchObject({
      returns: { kind: 'i8' },
      params: [{ type: { kind: 'i8' } }],
    });
    expect(withArch('arm64', () => parsePrototype('char f(char c)'))).toMatchObject({
      returns: { kind: 'u8' },
      params: [{ type: { kind: 'u8' } }],
    });
    expect(withArch('arm64', () => parseType('signed char').kind)).toBe('i8');
  });

  it('keeps top-level qualifiers in the spelling without changing the kind', () => {
    expect(parsePrototype('const int f(const volatile int x, volatile const unsigned y)').params).toEqual([
      { name: 'x', type: { kind: 'i32', c: 'const volatile int', pointerDepth: 0 } },
      { name: 'y', type: { kind: 'u32', c: 'const volatile unsigned int', pointerDepth: 0 } },
    ]);
    expect(parseType('int const const')).toEqual({ kind: 'i32', c: 'const int', pointerDepth: 0 });
  });
});

describe('pointers and strings', () => {
  const param = (t: string) => parsePrototype(`void f(${t})`).params[0].type;
  const ret = (t: string) => parsePrototype(`${t} f(void)`).returns;

  it('a const char * parameter is a string, whatever the qualifier order and spacing', () => {
    for (const t of ['const char *s', 'char const *s', 'const char*s', 'const char * s', 'const char *', 'char const*']) {
      expect(param(t), t).toEqual({ kind: 'string', c: 'const char *', pointerDepth: 1 });
    }
    expect(param('const char *const s')).toEqual({ kind: 'string', c: 'const char *const', pointerDepth: 1 });
    expect(param('const char *restrict s')).toEqual({ kind: 'string', c: 'const char *restrict', pointerDepth: 1 });
    expect(param('const volatile char *s')).toEqual({ kind: 'string', c: 'const volatile char *', pointerDepth: 1 });
  });

  it('other pointer parameters are pointers', () => {
    const cases: [string, string, number][] = [
      ['char *s', 'char *', 1],
      ['char *const s', 'char *const', 1],
      ['signed char const *s', 'const signed char *', 1],
      ['const unsigned char *s', 'const unsigned char *', 1],
      ['const char **s', 'const char **', 2],
      ['const char *const *argv', 'const char *const *', 2],
      ['char *const *argv', 'char *const *', 2],
      ['void *p', 'void *', 1],
      ['const void *p', 'const void *', 1],
      ['void **p', 'void **', 2],
      ['int *restrict p', 'int *restrict', 1],
      ['int *__restrict p', 'int *restrict', 1],
      ['int *__restrict__ p', 'int *restrict', 1],
      ['volatile int * const volatile * p', 'volatile int *const volatile *', 2],
      ['double *', 'double *', 1],
      ['size_t *n', 'size_t *', 1],
      ['struct stat *st', 'struct stat *', 1],
      ['const struct timespec *ts', 'const struct timespec *', 1],
      ['union u *x', 'union u *', 1],
      ['enum e *x', 'enum e *', 1],
      ['struct size_t *x', 'struct size_t *', 1],
      ['int ****p', 'int ****', 4],
    ];
    for (const [t, c, depth] of cases) expect(param(t), t).toEqual({ kind: 'pointer', c, pointerDepth: depth });
  });

  it('char * and const char * returns are strings; other pointer returns are pointers', () => {
    expect(ret('char *')).toEqual({ kind: 'string', c: 'char *', pointerDepth: 1 });
    expect(ret('const char *')).toEqual({ kind: 'string', c: 'const char *', pointerDepth: 1 });
    expect(ret('char const *const')).toEqual({ kind: 'string', c: 'const char *const', pointerDepth: 1 });
    expect(ret('char **')).toEqual({ kind: 'pointer', c: 'char **', pointerDepth: 2 });
    expect(ret('unsigned char *')).toEqual({ kind: 'pointer', c: 'unsigned char *', pointerDepth: 1 });
    expect(ret('void *')).toEqual({ kind: 'pointer', c: 'void *', pointerDepth: 1 });
    expect(ret('struct dirent *')).toEqual({ kind: 'pointer', c: 'struct dirent *', pointerDepth: 1 });
  });

  it('parseType applies the rules of its position', () => {
    expect(parseType('char *').kind).toBe('pointer');
    expect(parseType('char *', 'return').kind).toBe('string');
    expect(parseType('const char *', 'param').kind).toBe('string');
    expect(parseType('const char *', 'variadic').kind).toBe('string');
    expect(parseType('void *', 'variadic').kind).toBe('pointer');
  });

  it('variadic arguments get the default argument promotions', () => {
    const kinds = ['bool', 'char', 'signed char', 'unsigned char', 'short', 'unsigned short', 'int8_t', 'uint16_t'];
    for (const t of kinds) expect(parseType(t, 'variadic'), t).toMatchObject({ kind: 'i32', c: parseType(t).c });
    expect(parseType('float', 'variadic')).toEqual({ kind: 'f64', c: 'float', pointerDepth: 0 });
    expect(parseType('unsigned', 'variadic').kind).toBe('u32');
    expect(parseType('long', 'variadic').kind).toBe('i64');
    expect(parseType('double', 'variadic').kind).toBe('f64');
    expect(rejection(() => parseType('void', 'variadic'))).toMatch(/column 1: 'void' cannot be passed as a variadic argument/);
    expect(rejection(() => parseType('int', 'bogus' as never))).toMatch(/Invalid type position "bogus"/);
  });
});

describe('prototypes', () => {
  it('parses a simple prototype', () => {
    expect(parsePrototype('int add(int a, int b)')).toEqual<Signature>({
      name: 'add',
      returns: { kind: 'i32', c: 'int', pointerDepth: 0 },
      params: [
        { name: 'a', type: { kind: 'i32', c: 'int', pointerDepth: 0 } },
        { name: 'b', type: { kind: 'i32', c: 'int', pointerDepth: 0 } },
      ],
      variadic: false,
      text: 'int add(int a, int b)',
    });
  });

  it('(void), () and (void) with spacing all mean no parameters', () => {
    for (const p of ['int f(void)', 'int f()', 'int f( void )', 'int f( )', 'int f(void);']) {
      const sig = parsePrototype(p);
      expect(sig.params, p).toEqual([]);
      expect(sig.variadic).toBe(false);
      expect(sig.text).toBe('int f(void)');
    }
  });

  it('accepts named and unnamed parameters, mixed', () => {
    const sig = parsePrototype('int f(int, char *name, double, const char *)');
    expect(sig.params.map((p) => p.name)).toEqual([null, 'name', null, null]);
    expect(sig.text).toBe('int f(int, char *name, double, const char *)');
  });

  it('lets a parameter reuse a typedef name once a type is given, as C does', () => {
    const sig = parsePrototype('size_t size_t(int size_t, unsigned int8_t)');
    expect(sig.name).toBe('size_t');
    expect(sig.returns.kind).toBe('u64');
    expect(sig.params).toEqual([
      { name: 'size_t', type: { kind: 'i32', c: 'int', pointerDepth: 0 } },
      { name: 'int8_t', type: { kind: 'u32', c: 'unsigned int', pointerDepth: 0 } },
    ]);
  });

  it('parses variadic prototypes', () => {
    const printf = parsePrototype('int printf(const char *fmt, ...)');
    expect(printf.variadic).toBe(true);
    expect(printf.params).toHaveLength(1);
    expect(printf.text).toBe('int printf(const char *fmt, ...)');
    expect(parsePrototype('long sum(int n,...);').text).toBe('long sum(int n, ...)');
    expect(parsePrototype('int f(int, ...)').params).toEqual([{ name: null, type: { kind: 'i32', c: 'int', pointerDepth: 0 } }]);
  });

  it('normalizes whitespace, qualifier order and specifier order', () => {
    const cases: [string, string][] = [
      ['  long   unsigned int\tstrlen ( char const*restrict s ) ; ', 'unsigned long strlen(const char *restrict s)'],
      ['char*strdup(const char*s)', 'char *strdup(const char *s)'],
      ['char * const * f ( int * * p )', 'char *const *f(int **p)'],
      ['int\nmain(int argc,\r\n\tconst char *const *argv)', 'int main(int argc, const char *const *argv)'],
      ['_Bool f(signed)', 'bool f(int)'],
      ['void *memcpy(void *__restrict d, const void *__restrict__ s, size_t n)', 'void *memcpy(void *restrict d, const void *restrict s, size_t n)'],
      ['volatile const int f(int*volatile const p)', 'const volatile int f(int *const volatile p)'],
      ['struct  node*next(struct node*)', 'struct node *next(struct node *)'],
    ];
    for (const [input, text] of cases) {
      const sig = parsePrototype(input);
      expect(sig.text, input).toBe(text);
      expect(parsePrototype(sig.text), `${input} round trip`).toEqual(sig);
    }
  });

  it('accepts up to the parameter, pointer-depth and length limits', () => {
    const many = Array.from({ length: MAX_PARAMS }, (_, i) => `int a${i}`).join(', ');
    expect(parsePrototype(`void f(${many})`).params).toHaveLength(MAX_PARAMS);
    expect(parsePrototype(`void f(int a, ${Array.from({ length: MAX_PARAMS - 1 }, () => 'int').join(', ')}, ...)`).params).toHaveLength(MAX_PARAMS);
    expect(parsePrototype(`int ${'*'.repeat(MAX_POINTER_DEPTH)}f(void)`).returns.pointerDepth).toBe(MAX_POINTER_DEPTH);
    const padded = `int f(void)${' '.repeat(MAX_PROTOTYPE_LENGTH - 11)}`;
    expect(padded).toHaveLength(MAX_PROTOTYPE_LENGTH);
    expect(parsePrototype(padded).name).toBe('f');
  });
});

describe('object form', () => {
  it('builds the same Signature as the prototype', () => {
    expect(signatureFromObject({ name: 'add', returns: 'int', args: ['int', 'int'] })).toEqual(parsePrototype('int add(int, int)'));
    expect(signatureFromObject({ name: 'strlen', returns: 'size_t', args: ['const char *s'] })).toEqual(parsePrototype('size_t strlen(const char *s)'));
    expect(signatureFromObject({ name: 'printf', returns: 'int', args: ['const char *'], variadic: true })).toEqual(
      parsePrototype('int printf(const char *, ...)'),
    );
    expect(signatureFromObject({ name: 'getpid', returns: 'int', args: [] })).toEqual(parsePrototype('int getpid(void)'));
    expect(signatureFromObject({ name: 'getpid', returns: 'int', args: [' void '] })).toEqual(parsePrototype('int getpid(void)'));
    expect(signatureFromObject({ name: 'dup', returns: 'char *', args: ['char const*'] }).returns.kind).toBe('string');
  });

  it('rejects malformed objects with ERR_DLSWAP_SIGNATURE', () => {
    const bad = (o: unknown) => rejection(() => signatureFromObject(o as never));
    expect(bad(null)).toMatch(/expected an object, got null/);
    expect(bad('int f(void)')).toMatch(/expected an object, got string/);
    expect(bad({ returns: 'int', args: [] })).toMatch(/'name' must be a string, got undefined/);
    expect(bad({ name: '1f', returns: 'int', args: [] })).toMatch(/'name' must be a C identifier.*"1f"/);
    expect(bad({ name: 'int', returns: 'int', args: [] })).toMatch(/'name' must be a C identifier that is not a keyword/);
    expect(bad({ name: 'f', returns: 5, args: [] })).toMatch(/'returns' must be a string, got number/);
    expect(bad({ name: 'f', returns: 'int', args: 'int' })).toMatch(/'args' must be an array/);
    expect(bad({ name: 'f', returns: 'int', args: [], variadic: 1 })).toMatch(/'variadic' must be a boolean/);
    expect(bad({ name: 'f', returns: 'int', args: [], variadic: true })).toMatch(/variadic function needs at least one fixed parameter/);
    expect(bad({ name: 'f', returns: 'int', args: [7] })).toMatch(/\(args\[0\]\): expected a string, got number/);
    expect(bad({ name: 'f', returns: 'int x', args: [] })).toMatch(/"int x" \(returns\) at column 5: unexpected 'x'/);
    expect(bad({ name: 'f', returns: 'int', args: ['int', 'foo_t'] })).toMatch(/"foo_t" \(args\[1\]\) at column 1: unknown type 'foo_t'/);
    expect(bad({ name: 'f', returns: 'int', args: ['int a', 'int a'] })).toMatch(/duplicate parameter name 'a' in args\[1\]/);
    expect(bad({ name: 'f', returns: 'int', args: ['void', 'int'] })).toMatch(/\(args\[0\]\) at column 1: 'void' is not a parameter type/);
    expect(bad({ name: 'f', returns: 'int', args: ['...'] })).toMatch(/\(args\[0\]\) at column 1: expected a type, found '...'/);
    expect(bad({ name: 'f', returns: 'int', args: ['int;'] })).toMatch(/column 4: unexpected ';'/);
    expect(bad({ name: 'f', returns: 'int', args: Array(MAX_PARAMS + 1).fill('int') })).toMatch(/too many parameters/);
  });
});

describe('kind codes', () => {
  it('maps every kind to its wire code', () => {
    expect(KIND_CODES).toEqual({
      void: 0,
      bool: 1,
      i8: 2,
      u8: 3,
      i16: 4,
      u16: 5,
      i32: 6,
      u32: 7,
      i64: 8,
      u64: 9,
      f32: 10,
      f64: 11,
      pointer: 12,
      string: 13,
      aggregate: 14,
    });
    for (const [k, code] of Object.entries(KIND_CODES)) expect(kindCode(k as Kind)).toBe(code);
    expect(Object.isFrozen(KIND_CODES)).toBe(true);
    expect(rejection(() => kindCode('toString' as Kind))).toMatch(/Unknown type kind "toString"/);
  });

  it('flags the kinds that travel as bigint', () => {
    const big = (Object.keys(KIND_CODES) as Kind[]).filter(kindIsBigInt);
    expect(big).toEqual(['i64', 'u64', 'pointer']);
  });
});

describe('rejections', () => {
  // [input, column, fragment of the message]
  const cases: [string, number, string][] = [
    // Structure.
    ['', 1, 'expected a return type, found the end of the input'],
    ['   ', 4, 'expected a return type'],
    ['int', 4, 'expected a function name, found the end of the input'],
    ['int f', 6, "expected '(' after the function name"],
    ['int f int', 7, "expected '(' after the function name, found 'int'"],
    ['int f(', 7, "expected a parameter type or ')' after '('"],
    ['int f(int', 10, "expected ',' or ')' but the input ended"],
    ['int f(int a,)', 13, "expected a parameter type after ','"],
    ['int f(int a,,int b)', 13, "expected a parameter type after ','"],
    ['int f(,int)', 7, "expected a parameter type or ')' after '('"],
    ['int f(int a int b)', 13, "expected ',' or ')' after the parameter, found 'int'"],
    ['int f(int) extra', 12, "unexpected 'extra' after the parameter list"],
    ['int f(int);;', 12, "unexpected ';' after the parameter list"],
    ['int f(int))', 11, "unexpected ')' after the parameter list"],
    ['f(int)', 1, "expected a return type before the function name 'f'"],
    ['int (void)', 5, "expected a function name before '('"],
    ['int *(void)', 6, "expected a function name before '('"],
    ['int return(void)', 5, "'return' is a keyword and cannot be used as a name"],
    ['int f(int *int)', 12, "'int' is a keyword and cannot be used as a name"],
    ['int f(char *char)', 13, "'char' is a keyword and cannot be used as a name"],
    ['int f(int const x const)', 19, "expected ',' or ')' after the parameter, found 'const'"],
    ['const f(void)', 7, "expected a return type before the function name 'f'"],
    ['const *f(void)', 7, "expected a type after the qualifier, found '*'"],
    ['int f(const)', 12, "expected a type after the qualifier, found ')'"],
    // Types.
    ['foo_t f(void)', 1, "unknown type 'foo_t'"],
    ['int f(foo_t x)', 7, "unknown type 'foo_t'"],
    ['int f(x)', 7, "unknown type 'x'"],
    ['int f(int, foo_t *)', 12, "pass pointers to other types as 'void *'"],
    ['long double f(void)', 1, "'long double' is not supported"],
    ['double long f(void)', 8, "'long double' is not supported"],
    ['int f(long double x)', 7, "'long double' is not supported"],
    ['long long long f(void)', 11, "too many 'long'"],
    ['unsigned float f(void)', 10, "'float' cannot be combined with 'unsigned'"],
    ['float unsigned f(void)', 7, "'unsigned' cannot be combined with 'float'"],
    ['signed double f(void)', 8, "'double' cannot be combined with 'signed'"],
    ['short float f(void)', 7, "'float' cannot be combined with 'short'"],
    ['long float f(void)', 6, "'float' cannot be combined with 'long'"],
    ['unsigned bool f(void)', 10, "'bool' cannot be combined with 'unsigned'"],
    ['unsigned void f(void)', 10, "'void' cannot be combined with 'unsigned'"],
    ['signed unsigned f(void)', 8, "'unsigned' cannot be combined with 'signed'"],
    ['unsigned unsigned f(void)', 10, "duplicate 'unsigned'"],
    ['short long f(void)', 7, "'long' cannot be combined with 'short'"],
    ['long short f(void)', 6, "'short' cannot be combined with 'long'"],
    ['short char f(void)', 7, "'char' cannot be combined with 'short'"],
    ['char int f(void)', 6, "'int' cannot be combined with 'char'"],
    ['int int f(void)', 5, "duplicate 'int'"],
    ['double float f(void)', 8, "'float' cannot be combined with 'double'"],
    ['int double f(void)', 5, "'double' cannot be combined with 'int'"],
    ['float int f(void)', 7, "'int' cannot be combined with 'float'"],
    ['size_t double f(void)', 8, "'double' cannot be combined with 'size_t'"],
    ['unsigned struct s *f(void)', 10, "'struct' cannot be combined with 'unsigned'"],
    ['struct s int *f(void)', 10, "'int' cannot be combined with 'struct'"],
    ['struct (void)', 8, "expected a struct tag name after 'struct', found '('"],
    ['struct f(void)', 9, "expected a function name before '('"],
    ['struct int *f(void)', 8, "expected a struct tag name after 'struct', found 'int'"],
    ['struct s f(void)', 1, "'struct s' by value is not supported; pass a pointer ('struct s *')"],
    ['int f(union u x)', 7, "'union u' by value is not supported"],
    ['int f(enum e x)', 7, "'enum e' by value is not supported; declare it as its underlying integer type"],
    ['int f(restrict int *p)', 7, "'restrict' applies only to pointers"],
    ['int f(int __restrict x)', 11, "'__restrict' applies only to pointers"],
    ['extern int f(void)', 1, "storage-class specifier 'extern' is not allowed"],
    ['static inline int f(void)', 1, "'static'"],
    ['int f(register int x)', 7, "'register'"],
    ['__int128 f(void)', 1, "'__int128' is not supported"],
    ['int f(_Complex double z)', 7, 'complex types are not supported'],
    ['int f(wchar_t *s)', 7, "'wchar_t' is not supported"],
    ['int f(int sizeof)', 11, "'sizeof' is a keyword"],
    // void.
    ['int f(void, int)', 7, "'void' must be the only parameter"],
    ['int f(int, void)', 12, "'void' must be the only parameter"],
    ['int f(void, ...)', 7, "'void' must be the only parameter"],
    ['int f(void x)', 12, "a 'void' parameter cannot have a name ('x')"],
    ['int f(const void)', 7, "a 'void' parameter list cannot be qualified"],
    // Variadic.
    ['int f(...)', 7, "'...' must come after at least one parameter"],
    ['int f(int, ..., int)', 15, "'...' must be the last parameter"],
    ['int f(int, ... x)', 16, "expected ')' after '...', found 'x'"],
    ['int f(int, ...', 15, "expected ')' after '...', found the end of the input"],
    ['int f(int, ..)', 12, "unexpected '.'; a variadic parameter is written '...'"],
    ['int f(int a...)', 12, "expected ',' or ')' after the parameter, found '...'"],
    // Names.
    ['int f(int a, int a)', 18, "duplicate parameter name 'a' (first at column 11)"],
    ['int f(int a, char *b, double a)', 30, "duplicate parameter name 'a'"],
    // Declarators we refuse.
    ['int (*f)(int)', 5, "function pointers are not supported (declare callbacks as 'void *')"],
    ['int f(int (*cb)[3])', 16, 'pointers to arrays are not supported'],
    ['int f(int (*cb)(int)(int))', 21, 'functions returning functions are not supported'],
    ['int f(int (*cb) int)', 17, "expected the parameter list of the function pointer after ')'"],
    ['int f(int (*cb(int))', 15, "expected ')' to close the function pointer declarator"],
    ['void (*signal(int sig, void (*func)(int)))(int)', 6, 'function pointers are not supported'],
    ['int (*f(void))(int)', 5, 'function pointers are not supported'],
    ['int f(int)(int)', 11, 'functions returning function pointers are not supported'],
    ['int f(*p)', 7, "expected a parameter type or ')' after '('"],
    ['int f(int a[3])', 12, "arrays are not supported; declare the parameter as a pointer ('T *')"],
    ['int f(int a[])', 12, 'arrays are not supported'],
    ['int f(int [])', 11, 'arrays are not supported'],
    ['int f(int x : 3)', 13, 'bit-fields are not supported'],
    ['int f(int 3)', 11, "unexpected number '3'"],
    ['int f(int a = 3)', 13, 'default arguments'],
    ['int f(int &r)', 11, 'references are not supported'],
    ['int f(struct s { int x; } *p)', 16, 'bodies are not supported'],
    // Characters.
    ['int f(int) /* c */', 12, 'comments are not supported'],
    ['int f(int) // c', 12, 'comments are not supported'],
    ['int f(int a / 2)', 13, "unexpected character '/'"],
    ['int f(int é)', 11, "unexpected character 'é' (U+00E9)"],
    ['int f(int \u0000)', 11, 'unexpected character U+0000'],
    ['int f(int \u007f)', 11, 'unexpected character U+007F'],
    ['int f(int \u00a0a)', 11, 'unexpected character U+00A0'],
    ['int f(int \ud83d\ude00)', 11, "unexpected character '\ud83d\ude00' (U+1F600)"],
    ['int f(int \ud800)', 11, 'unexpected character U+D800'],
    ['int f(int $x)', 11, "unexpected character '$'"],
    ['int f(int x) @', 14, "unexpected character '@'"],
    ['#include <x.h>', 1, "unexpected character '#'"],
    // Limits.
    [`int ${'*'.repeat(MAX_POINTER_DEPTH + 1)}f(void)`, 5 + MAX_POINTER_DEPTH, `too many '*' (at most ${MAX_POINTER_DEPTH} levels)`],
    [`void f(${Array.from({ length: MAX_PARAMS + 1 }, () => 'int').join(', ')})`, 8 + MAX_PARAMS * 5, `too many parameters (the limit is ${MAX_PARAMS})`],
    [`int f(void)${' '.repeat(MAX_PROTOTYPE_LENGTH)}`, MAX_PROTOTYPE_LENGTH + 1, `characters long; the limit is ${MAX_PROTOTYPE_LENGTH}`],
  ];

  it.each(cases)('%j fails at column %i', (input, col, fragment) => {
    const message = rejection(() => parsePrototype(input));
    expect(message).toContain(`at column ${col}: `);
    expect(message).toContain(fragment);
    // The message quotes the input (or, for long inputs, the part around the failure).
    if (input.length <= 100) expect(message).toContain(`Invalid C prototype ${JSON.stringify(input)} at column ${col}`);
    else expect(message).toMatch(/Invalid C prototype (\.\.\.)?".*"(\.\.\.)? at column/);
  });

  it('rejects values that are not strings', () => {
    for (const v of [undefined, null, 42, {}, ['int f(void)']]) {
      expect(rejection(() => parsePrototype(v as never))).toMatch(/Invalid C prototype: expected a string, got/);
      expect(rejection(() => parseType(v as never))).toMatch(/Invalid C type: expected a string, got/);
    }
  });

  it('rejects malformed lone types', () => {
    expect(rejection(() => parseType(''))).toMatch(/Invalid C type "" at column 1: expected a type, found the end of the input/);
    expect(rejection(() => parseType('int x'))).toMatch(/column 5: unexpected 'x': expected the end of the type/);
    expect(rejection(() => parseType('int (int)'))).toMatch(/column 5: function types are not supported/);
    expect(rejection(() => parseType('int *)'))).toMatch(/column 6: unexpected '\)': expected the end of the type/);
    expect(rejection(() => parseType('struct s'))).toMatch(/column 1: 'struct s' by value is not supported/);
    expect(rejection(() => parseType('int;'))).toMatch(/column 4: unexpected ';'/);
  });

  it('escapes control characters when quoting the input', () => {
    const message = rejection(() => parsePrototype('int f(int \u0001)'));
    expect(message).toContain('"int f(int \\u0001)"');
    expect(message).not.toContain('\u0001');
  });

  it('fails fast on pathological input', () => {
    const inputs = [
      '*'.repeat(100_000),
      '('.repeat(100_000),
      `int f(${'('.repeat(4000)}`,
      `int f(${'*'.repeat(4000)}`,
      `int ${'*'.repeat(4000)}f(void)`,
      `int f(${'int, '.repeat(800)}int)`,
      `int f(int${' '.repeat(4000)}`,
      'x'.repeat(4096),
    ];
    for (const input of inputs) {
      const used = cpuMs(() => rejection(() => parsePrototype(input)));
      // A hang guard in CPU time, far above the quiet figure (~3 ms at most).
      expect(used, input.slice(0, 20)).toBeLessThan(200);
    }
  });
});

describe('type-level inference', () => {
  it('test/signature/prototype_types.test-d.ts compiles without errors (and lib/ compiles with it)', () => {
    const file = path.join(__dirname, 'prototype_types.test-d.ts');
    const text = typeErrors([file, path.join(__dirname, '..', '..', 'lib', 'signature', 'signature.ts'), NODE_GYP_BUILD_TYPES]);
    expect(text).toBe('');
  });
});
