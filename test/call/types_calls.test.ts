// Structs by pointer (in, out, in/out, arrays), by value (every classification the ABIs have), unions,
// packed structs, enums, pointer members (strings, nested structs), typed memory and the library's
// allocator, in every isolation mode; and the errors bad values get.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { types, type DefsOf } from '../../lib/signature/ctypes';
import { isDlswapError } from '../../lib/errors';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { open, type Library } from '../../lib/load/library';
import { addressOf, decode, encode, encodeToBuffer, sizeof } from '../../lib/call/memory_api';
import { fixture, underAsan } from '../helpers';

const DECLS = `
struct point { int32_t x, y; };
struct rect { int32_t x, y, w, h; };
struct frame { uint32_t w; uint32_t h; uint8_t pix[16]; struct point origin; char name[12]; double scale; };
struct person { const char *name; int age; struct person *friend_; };
struct __attribute__((packed)) pk { uint8_t a; uint32_t b; uint16_t c; };
union val { int64_t i; double d; char s[12]; };
enum color { RED, GREEN = 5, BLUE };
struct big { double a, b, c; int64_t d; };
struct mixed { float f; int32_t i; double d; };
struct hfa { float a, b, c, d; };
struct nested { struct point p; uint8_t tag[3]; double w; };
`;

const T = types(DECLS);
type Defs = DefsOf<typeof T>;

function makeTypes(): typeof T {
  return T;
}

function rejection(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

const modes = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

describe.each(modes)('structs, unions and enums with isolation %s', (isolation) => {
  let lib: Library<Defs>;
  beforeAll(() => {
    lib = open(fixture('libffi_v1.so'), { isolation, types: makeTypes() });
  });
  afterAll(async () => {
    await lib?.close();
  });

  it('a struct pointer argument from an object', () => {
    const area = lib.func('int rect_area(const struct rect *r)');
    expect(area({ x: 1, y: 2, w: 3, h: 4 })).toBe(12);
    expect(area(null)).toBe(-1);
    // A Buffer holding the bytes still works, as does an address.
    const buf = encodeToBuffer('struct rect', { x: 0, y: 0, w: 5, h: 6 }, { types: lib.types });
    expect(area(buf)).toBe(30);
  });

  it('a non-const struct pointer is an in/out parameter: the object is updated in place', () => {
    const grow = lib.func('void rect_grow(struct rect *r, int by)');
    const r = { x: 1, y: 2, w: 3, h: 4 };
    grow(r, 2);
    expect(r).toEqual({ x: -1, y: 0, w: 7, h: 8 });
  });

  it('an out-parameter filled by C: arrays, nested structs, char arrays, doubles', () => {
    const fill = lib.func('int frame_fill(struct frame *out, uint32_t w, uint32_t h)');
    const f = { w: 0, h: 0, pix: new Array<number>(16).fill(0), origin: { x: 0, y: 0 }, name: '', scale: 0 };
    const origin = f.origin;
    expect(fill(f, 3, 4)).toBe(12);
    expect(f).toEqual({ w: 3, h: 4, pix: Array.from({ length: 16 }, (_, i) => i * 3), origin: { x: -1, y: 7 }, name: 'f3x4', scale: 0.5 });
    expect(f.origin).toBe(origin); // nested objects are updated, not replaced
    // The same values read back through C.
    const sum = lib.func('uint32_t frame_checksum(const struct frame *f)');
    const copy = JSON.parse(JSON.stringify(f));
    expect(sum(copy)).toBe(sum(f));
  });

  it('an array of structs for a struct pointer, updated in place when not const', () => {
    const sum = lib.func('int sum_points(const struct point *pts, int n)');
    expect(
      sum(
        [
          { x: 1, y: 2 },
          { x: 3, y: 4 },
          { x: 5, y: 6 },
        ],
        3,
      ),
    ).toBe(12 + 34 + 56);
    const swap = lib.func('void points_swap(struct point *pts, int n)');
    const pts = [
      { x: 1, y: 2 },
      { x: 3, y: 4 },
    ];
    swap(pts, 2);
    expect(pts).toEqual([
      { x: 2, y: 1 },
      { x: 4, y: 3 },
    ]);
  });

  it('pointer members: strings and nested structs live as long as the call', () => {
    const describe = lib.func('int person_describe(const struct person *p, char *out, size_t cap)');
    const out = Buffer.alloc(64);
    const n = describe({ name: 'Ada', age: 36, friend_: { name: 'Charles', age: 40, friend_: null } }, out, 64n);
    expect(out.toString('utf8', 0, n)).toBe('Ada (36), friend of Charles');
    const rename = lib.func('void person_rename(struct person *p)');
    const p: { name: string | null; age: number; friend_: unknown } = { name: 'x', age: 1, friend_: null };
    rename(p as never);
    expect(p).toEqual({ name: 'renamed by C', age: 2, friend_: 0n });
  });

  it('structs by value, as parameters and results, in every classification', () => {
    expect(lib.func('struct point point_add(struct point a, struct point b)')({ x: 1, y: 2 }, { x: 10, y: 20 })).toEqual({ x: 11, y: 22 });
    expect(lib.func('struct rect rect_make(int32_t x, int32_t y, int32_t w, int32_t h)')(1, 2, 3, 4)).toEqual({ x: 1, y: 2, w: 3, h: 4 });
    expect(lib.func('int rect_area_v(struct rect r)')({ x: 0, y: 0, w: 6, h: 7 })).toBe(42);
    expect(lib.func('struct big big_scale(struct big v, double k)')({ a: 1, b: 2, c: 3, d: 4n }, 2)).toEqual({ a: 2, b: 4, c: 6, d: 8n });
    expect(lib.func('struct mixed mixed_bump(struct mixed m)')({ f: 1, i: 2, d: 3 })).toEqual({ f: 2.5, i: 3, d: 6 });
    expect(lib.func('float hfa_sum(struct hfa h)')({ a: 1, b: 2, c: 3, d: 4 })).toBe(10);
    expect(lib.func('struct hfa hfa_rev(struct hfa h)')({ a: 1, b: 2, c: 3, d: 4 })).toEqual({ a: 4, b: 3, c: 2, d: 1 });
    expect(lib.func('struct nested nested_shift(struct nested n, int32_t dx)')({ p: { x: 1, y: 2 }, tag: [7, 8, 9], w: 0.5 }, 3)).toEqual({
      p: { x: 4, y: 2 },
      tag: [8, 8, 9],
      w: 3.5,
    });
    const many = lib.func('double many_structs(struct point a, struct hfa b, struct point c, struct mixed d, struct point e, struct big f, int g)');
    const pt = { x: 1, y: 2 };
    expect(many(pt, { a: 1, b: 0, c: 0, d: 2 }, pt, { f: 0.5, i: 1, d: 2 }, pt, { a: 3, b: 0, c: 0, d: 4n }, 5)).toBe(3 + 3 + 3 + 3 + 3.5 + 3 + 4 + 5);
  });

  it('struct results and struct arguments of async calls', async () => {
    const add = lib.func('struct point point_add(struct point a, struct point b)');
    const rs = await Promise.all([add.async({ x: 1, y: 1 }, { x: 2, y: 2 }), add.async({ x: 5, y: 5 }, { x: -5, y: 1 })]);
    expect(rs).toEqual([
      { x: 3, y: 3 },
      { x: 0, y: 6 },
    ]);
    const grow = lib.func('void rect_grow(struct rect *r, int by)');
    const r = { x: 0, y: 0, w: 1, h: 1 };
    await grow.async(r, 1);
    expect(r).toEqual({ x: -1, y: -1, w: 3, h: 3 });
  });

  it('enums: numbers or enumerator names in, numbers out', () => {
    const next = lib.func('enum color next_color(enum color c)');
    expect(next('RED')).toBe(5);
    expect(next(5)).toBe(6);
    expect(next('BLUE')).toBe(0);
    expect(lib.types!.constants).toMatchObject({ RED: 0, GREEN: 5, BLUE: 6 });
    const e = rejection(() => next('PURPLE' as never));
    expect(e.code).toBe('ERR_DLSWAP_ARG');
    expect(e.message).toMatch(/next_color\(\): argument 'c' \(#1, enum color\) expects a number or one of RED, GREEN, BLUE; got the string "PURPLE"/);
  });

  it('unions: encoded from exactly one member, decoded as every member', () => {
    const read = lib.func('double val_read(const union val *v, int kind)');
    expect(read({ i: 42n }, 0)).toBe(42);
    expect(read({ d: 2.5 }, 1)).toBe(2.5);
    expect(read({ s: 'hello' }, 2)).toBe(5);
    const set = lib.func('void val_set_double(union val *v, double d)');
    const v: Record<string, unknown> = { d: 0 };
    set(v as never, 1.25);
    expect(v).toEqual({ d: 1.25 });
    expect(rejection(() => read({ i: 1n, d: 2 }, 0)).message).toMatch(/is a union: give exactly one of its members \(i, d, s\); got 2/);
    expect(rejection(() => read({} as never, 0)).message).toMatch(/got 0/);
  });

  it('packed structs', () => {
    expect(lib.types!.sizeof('struct pk')).toBe(7);
    expect(lib.func('uint32_t packed_sum(const struct pk *p)')({ a: 1, b: 100000, c: 2 })).toBe(100003);
  });

  it("typed memory: the library's allocator, bounds-checked decode and encode", () => {
    const p = lib.alloc('struct frame');
    expect(typeof p).toBe('bigint');
    expect(lib.decode(p, 'struct frame')).toMatchObject({ w: 0, h: 0, name: '', scale: 0 }); // zeroed
    lib.encode(p, 'struct frame', { w: 2, h: 3, pix: new Uint8Array(16), origin: { x: 1, y: 1 }, name: 'abc', scale: 1 });
    expect(lib.func('uint32_t frame_checksum(const struct frame *f)')(p)).toBe(
      lib.func('uint32_t frame_checksum(const struct frame *f)')({ w: 2, h: 3, pix: new Array(16).fill(0), origin: { x: 1, y: 1 }, name: 'abc', scale: 1 }),
    );
    // Reads and writes past the allocation are refused.
    const past = rejection(() => lib.decode(p, 'struct frame', 2));
    expect(past.code).toBe('ERR_DLSWAP_OUT_OF_BOUNDS');
    expect(past.message).toMatch(/run 56 bytes past its end/);
    expect(rejection(() => lib.encode(p + 52n, 'struct point', { x: 1, y: 2 })).code).toBe('ERR_DLSWAP_OUT_OF_BOUNDS');
    expect(lib.decode(p + 24n, 'struct point')).toEqual({ x: 1, y: 1 });
    lib.free(p);
    // Memory the library allocated itself is freed with the library's free.
    const q = lib.func('struct frame *frame_new(uint32_t w, uint32_t h)')(5, 6);
    expect(lib.decode(q, 'struct frame')).toMatchObject({ w: 5, h: 6, name: 'f5x6' });
    lib.free(q);
    const arr = lib.alloc('int32_t', 4);
    lib.encode(arr, 'int32_t[4]', [1, 2, 3, 4]);
    expect(lib.decode(arr, 'int32_t', 4)).toEqual([1, 2, 3, 4]);
    expect(rejection(() => lib.decode(arr, 'int32_t', 5)).code).toBe('ERR_DLSWAP_OUT_OF_BOUNDS');
    lib.free(arr);
  });
});

describe('bad values', () => {
  let lib: Library<Defs>;
  beforeAll(() => {
    lib = open(fixture('libffi_v1.so'), { types: makeTypes() });
  });
  afterAll(async () => {
    await lib?.close();
  });

  it('a missing member', () => {
    const e = rejection(() => lib.func('int rect_area(const struct rect *r)')({ x: 1, y: 2, w: 3 } as never));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_DLSWAP_ARG');
    expect(e.message).toBe("rect_area(): argument 'r' (#1, const struct rect *): member 'h' (int32_t) is missing");
  });

  it('wrong member types and out-of-range values, with the path of nested members', () => {
    const sum = lib.func('uint32_t frame_checksum(const struct frame *f)');
    const ok = { w: 1, h: 1, pix: new Array(16).fill(0), origin: { x: 0, y: 0 }, name: '', scale: 1 };
    const cases: [unknown, RegExp, typeof TypeError | typeof RangeError][] = [
      [{ ...ok, w: -1 }, /member 'w' \(uint32_t\) expects an integer in \[0, 4294967295\]; got -1/, RangeError],
      [{ ...ok, w: 1.5 }, /member 'w' \(uint32_t\) expects an integer .*; got 1.5/, RangeError],
      [{ ...ok, w: '1' }, /member 'w' \(uint32_t\) expects an integer .*; got the string "1"/, TypeError],
      [{ ...ok, origin: { x: 0, y: 2 ** 31 } }, /member 'origin.y' \(int32_t\) expects an integer/, RangeError],
      [{ ...ok, origin: 5 }, /member 'origin' \(struct point\) expects an object with its members; got 5/, TypeError],
      [{ ...ok, pix: [1, 2] }, /member 'pix' \(uint8_t\[16\]\) expects an array of exactly 16 elements/, RangeError],
      [{ ...ok, pix: [...new Array(15).fill(0), 256] }, /member 'pix\[15\]' \(uint8_t\) expects an integer in \[0, 255\]; got 256/, RangeError],
      [{ ...ok, name: 'a name that is too long' }, /member 'name' \(char\[12\]\) holds at most 12 bytes/, RangeError],
      [{ ...ok, name: 'a\0b' }, /member 'name' \(char\[12\]\) is a string containing a NUL character/, RangeError],
      [{ ...ok, scale: 1n }, /member 'scale' \(double\) expects a number; got 1n/, TypeError],
    ];
    for (const [value, message, type] of cases) {
      const e = rejection(() => sum(value as never));
      expect(e.code, String(message)).toBe('ERR_DLSWAP_ARG');
      expect(e.message).toMatch(message);
      expect(e.message).toMatch(/^frame_checksum\(\): argument 'f' \(#1, const struct frame \*\): /);
      expect(e).toBeInstanceOf(type);
    }
  });

  it('a struct by value needs an object', () => {
    const add = lib.func('struct point point_add(struct point a, struct point b)');
    expect(rejection(() => add(null as never, { x: 1, y: 1 })).message).toMatch(
      /point_add\(\): argument 'a' \(#1, struct point\) expects an object with the members of 'struct point' \(or the address of its bytes\); got null/,
    );
    expect(rejection(() => add(Buffer.alloc(4) as never, { x: 1, y: 1 })).message).toMatch(/got a buffer of 4 bytes; 'struct point' is 8/);
    expect(rejection(() => (add as unknown as (...a: unknown[]) => unknown)({ x: 1, y: 1 })).message).toMatch(/point_add\(\) takes 2 arguments, got 1/);
  });

  it('async calls reject with the same errors, and call nothing', async () => {
    const area = lib.func('int rect_area(const struct rect *r)');
    await expect(area.async({ x: 1 } as never)).rejects.toThrow(/member 'y' \(int32_t\) is missing/);
  });

  it('declarations that are not C, or C that dlswap refuses, name the column', () => {
    const bad: [string, RegExp][] = [
      ['struct s { int x }', /column 18: expected ';' after the member, found '}'/],
      ['struct s { int x; int x; }', /duplicate member 'x' in 'struct s'/],
      ['struct s { struct s inner; }', /member 'inner' contains 'struct s' itself; use a pointer/],
      ['struct s { struct undeclared u; }', /member 'u' has the incomplete type 'struct undeclared'/],
      ['struct s { int f(int); }', /member 'f' has a function type/],
      ['struct s { } ', /'struct s' has no members/],
      ['struct s { int x; } __attribute__((deprecated))', /attribute 'deprecated' is not supported/],
      ['enum e { A, A }', /enumerator 'A' is already declared/],
      ['enum e { A = 1 / 0 }', /division by zero/],
      ['typedef int int32_t', /'int32_t' is a built-in type name/],
      ['#define X 1', /preprocessor directives are not supported/],
      ['struct s { int a[0x100000000]; }', /array length 4294967296 is out of range/],
      ['int x;', /'x' would declare a variable or function; only types can be declared here/],
    ];
    for (const [text, message] of bad) {
      const e = rejection(() => types(text));
      expect(isDlswapError(e, 'ERR_DLSWAP_SIGNATURE'), text).toBe(true);
      expect(e.message, text).toMatch(message);
    }
  });

  it('a failed declaration adds nothing to the registry', () => {
    const t = types('struct fwd;');
    expect(() => t.declare('struct fwd { int x; }; struct bad { int y }')).toThrow();
    expect(() => t.sizeof('struct fwd')).toThrow(/declared without its members/);
    t.declare('struct fwd { int x; }');
    expect(t.sizeof('struct fwd')).toBe(4);
  });

  it('unions and packed structs by value are refused (pass a pointer)', () => {
    expect(rejection(() => lib.func('double val_read(union val v, int kind)')).message).toMatch(
      /'union val' \(a union\) by value is not supported; pass a pointer/,
    );
    expect(rejection(() => lib.func('uint32_t packed_sum(struct pk p)')).message).toMatch(/'struct pk' is packed: packed structs by value are not supported/);
    expect(rejection(() => lib.func('int snprintf(char *out, size_t cap, const char *f, ...)')('' as never, 0n, '', 'struct point', {})).message).toMatch(
      /structs cannot be passed through '...'/,
    );
  });
});

describe('typed memory without a library', () => {
  it('encode into a buffer, decode back; strings in pointer members live with the buffer', () => {
    const t = makeTypes();
    const buf = encodeToBuffer('struct person', { name: 'Grace', age: 85, friend_: null }, { types: t });
    expect(buf.length).toBe(24);
    expect(decode(buf, 'struct person', undefined, { types: t })).toEqual({ name: 'Grace', age: 85, friend_: 0n });
    expect(sizeof('struct frame', { types: t })).toBe(56);
    expect(rejection(() => decode(Buffer.alloc(4), 'int64_t')).code).toBe('ERR_DLSWAP_OUT_OF_BOUNDS');
  });

  it('raw addresses cannot own strings: refused', () => {
    const t = makeTypes();
    const buf = Buffer.alloc(24);
    const addr = addressOf(buf);
    const e = rejection(() => encode(addr, 'struct person', { name: 'x', age: 1, friend_: null }, { types: t }));
    expect(e.message).toMatch(/member 'name' \(const char \*\) got a string, which needs memory that lives as long as the value/);
    encode(addr, 'struct person', { name: null, age: 7, friend_: null }, { types: t });
    expect(buf.readInt32LE(8)).toBe(7);
  });
});
