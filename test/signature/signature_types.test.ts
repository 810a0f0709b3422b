// Prototypes that name declared types and function pointer parameters: what the parser makes of them
// (kinds, spellings, the C type attached), and the errors around them.
import { describe, expect, it } from 'vitest';
import { types } from '../../lib/signature/ctypes';
import { isDlswapError } from '../../lib/errors';
import { MAX_FUNCTION_NESTING, parsePrototype, parseType } from '../../lib/signature/signature';

const t = types(`
  struct point { int32_t x, y; };
  union val { int64_t i; double d; };
  struct __attribute__((packed)) pk { char a; int b; };
  enum color { RED, GREEN = 5, BLUE };
  enum big { B = 0x100000000 };
  typedef struct point point_t;
  typedef int (*cmp_fn)(const void *, const void *);
  typedef int handler_fn(int);
  typedef const char *cstr;
  typedef uint32_t pixel;
  struct fwd;
`);
const scope = t.scope;

function rejection(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(isDlswapError(e, 'ERR_DLSWAP_SIGNATURE')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected a throw');
}

describe('function pointer parameters', () => {
  it('parse with or without a name, and spell back the same', () => {
    const sig = parsePrototype('void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))');
    expect(sig.text).toBe('void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))');
    const p = sig.params[3].type;
    expect(p).toMatchObject({ kind: 'pointer', c: 'int (*)(const void *, const void *)', pointerDepth: 1 });
    expect(p.ctype?.tag).toBe('pointer');
    expect(parsePrototype(sig.text)).toEqual(sig);
    expect(parsePrototype('int f(int cb(int))').params[0].type.c).toBe('int (*)(int)');
    expect(parsePrototype('int f(void (*)(void))').params[0].type.c).toBe('void (*)(void)');
    expect(parsePrototype('int f(char *(*cb)(const char *s, size_t n))').params[0].type.c).toBe('char *(*)(const char *, size_t)');
    expect(parsePrototype('int f(int (**pp)(int))').params[0].type).toEqual({ kind: 'pointer', c: 'int (**)(int)', pointerDepth: 2 });
    expect(parseType('int (*)(int, double)').c).toBe('int (*)(int, double)');
  });

  it('nest, up to a limit', () => {
    expect(parsePrototype('int f(int (*a)(int (*b)(int (*c)(int))))').params[0].type.c).toBe('int (*)(int (*)(int (*)(int)))');
    const deep = `int f(${'int (*)('.repeat(MAX_FUNCTION_NESTING + 1)}int${')'.repeat(MAX_FUNCTION_NESTING + 1)})`;
    expect(rejection(() => parsePrototype(deep))).toMatch(/function pointers nested too deeply/);
  });
});

describe('prototypes naming declared types', () => {
  it('structs by value are aggregates; enums their integer kind; typedefs what they name', () => {
    const sig = parsePrototype('point_t add(struct point a, point_t b, enum color c, pixel p, cstr s, cmp_fn f, handler_fn *h, struct fwd *w)', scope);
    expect(sig.returns).toMatchObject({ kind: 'aggregate', c: 'point_t' });
    expect(sig.params.map((p) => [p.type.kind, p.type.c])).toEqual([
      ['aggregate', 'struct point'],
      ['aggregate', 'point_t'],
      ['u32', 'enum color'],
      ['u32', 'pixel'],
      ['string', 'cstr'],
      ['pointer', 'cmp_fn'],
      ['pointer', 'handler_fn *'],
      ['pointer', 'struct fwd *'],
    ]);
    expect(sig.params[5].type.ctype?.tag).toBe('pointer');
    // A pointer to a declared struct carries its type; an incomplete one stays opaque.
    expect(parsePrototype('int f(const struct point *p)', scope).params[0].type.ctype).toMatchObject({ tag: 'pointer', constTo: true });
    expect(parsePrototype('int f(struct fwd *p)', scope).params[0].type.ctype).toBeUndefined();
    expect(parseType('enum big', 'param', scope).kind).toBe('u64');
    // Variadic: enums are promoted like their integer type.
    expect(parseType('enum color', 'variadic', scope).kind).toBe('u32');
  });

  it('refuses what cannot travel by value', () => {
    expect(rejection(() => parsePrototype('int f(union val v)', scope))).toMatch(/'union val' \(a union\) by value is not supported/);
    expect(rejection(() => parsePrototype('int f(struct pk v)', scope))).toMatch(/'struct pk' is packed/);
    expect(rejection(() => parsePrototype('int f(struct fwd v)', scope))).toMatch(/only declared, without its members/);
    expect(rejection(() => parseType('struct point', 'variadic', scope))).toMatch(/cannot be passed through '...'/);
    expect(rejection(() => parsePrototype('handler_fn f(int)', scope))).toMatch(/a function cannot return a function/);
    expect(rejection(() => parsePrototype('int f(undeclared_t x)', scope))).toMatch(/unknown type 'undeclared_t'.*declare it in the library's types/);
    // Without the scope, the names are unknown, as before.
    expect(rejection(() => parsePrototype('point_t f(void)'))).toMatch(/unknown type 'point_t'/);
    expect(rejection(() => parsePrototype('struct point f(void)'))).toMatch(/'struct point' by value is not supported; pass a pointer/);
  });

  it('a typedef name can still name a parameter after a type, as in C', () => {
    expect(parsePrototype('int f(int pixel)', scope).params[0]).toEqual({ name: 'pixel', type: { kind: 'i32', c: 'int', pointerDepth: 0 } });
  });
});
