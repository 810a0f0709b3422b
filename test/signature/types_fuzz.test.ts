// Hostile input for the declaration parser and the codecs: random and mutated declarations parse or
// fail with ERR_DLSWAP_SIGNATURE, quickly (never a stack overflow or another error); random JS values
// encode or fail with ERR_DLSWAP_ARG, and what encodes decodes to a value that encodes to the same
// bytes.
import { describe, expect, it } from 'vitest';
import { TypeRegistry, types } from '../../lib/signature/ctypes';
import { decodeValue, encodeToBuffer } from '../../lib/call/memory';
import { cpuMs, mulberry32 } from '../helpers';

const VALID = [
  'struct point { int32_t x, y; }',
  'struct frame { uint32_t w; uint32_t h; uint8_t pix[16]; struct point origin; char name[12]; double scale; }',
  'union val { int64_t i; double d; char s[12]; struct point p; }',
  'enum color { RED, GREEN = 5, BLUE = GREEN << 2 }',
  'typedef struct { char q; double r; } qt',
  'struct __attribute__((packed)) pk { uint8_t a; uint32_t b; }',
  'struct anon { int k; union { int a; float b; }; struct { char c1, c2; }; }',
  'struct ops { int (*cmp)(const void *, const void *); void (*handlers[3])(int); const char *name; }',
  'typedef int (*cmp_fn)(const void *a, const void *b)',
  'struct node { int value; struct node *next; }',
];
const VOCAB = [
  'struct',
  'union',
  'enum',
  'typedef',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ';',
  ',',
  '*',
  '=',
  ':',
  'int',
  'char',
  'long',
  'unsigned',
  'const',
  'double',
  'void',
  'x',
  'y',
  'point',
  '16',
  '0x10',
  '-',
  '<<',
  '|',
  '__attribute__',
  'packed',
  'aligned',
  '/*',
  '*/',
  '...',
  '#',
  '1e3',
  "'a'",
  '"s"',
];

function tokens(text: string): string[] {
  return text.split(/(\s+|[{}()[\];,*=])/).filter((t) => t && !/^\s+$/.test(t));
}

function mutate(rng: () => number, text: string): string {
  const t = tokens(text);
  const n = 1 + Math.floor(rng() * 3);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rng() * (t.length + 1));
    const r = rng();
    if (r < 0.35 && t.length) t.splice(Math.min(i, t.length - 1), 1);
    else if (r < 0.7) t.splice(i, 0, VOCAB[Math.floor(rng() * VOCAB.length)]);
    else if (t.length > 1) {
      const j = Math.floor(rng() * t.length);
      [t[Math.min(i, t.length - 1)], t[j]] = [t[j], t[Math.min(i, t.length - 1)]];
    }
  }
  return t.join(' ');
}

function parses(text: string): boolean {
  try {
    new TypeRegistry().declare(text);
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_DLSWAP_SIGNATURE') throw new Error(`${JSON.stringify(text)} threw ${code ?? (e as Error).constructor.name}: ${(e as Error).message}`);
    return false;
  }
}

describe('declarations', () => {
  it('mutated and random declarations parse or throw ERR_DLSWAP_SIGNATURE, quickly', () => {
    const rng = mulberry32(0x7e57dec1);
    let accepted = 0;
    const used = cpuMs(() => {
      for (let i = 0; i < 6_000; i++) {
        const text =
          i % 3 === 2
            ? Array.from({ length: 1 + Math.floor(rng() * 30) }, () => VOCAB[Math.floor(rng() * VOCAB.length)]).join(' ')
            : mutate(rng, VALID[i % VALID.length]);
        if (parses(text)) accepted++;
      }
    });
    // A hang guard in CPU time, far above the quiet figure (~250 ms).
    expect(used).toBeLessThan(15_000);
    expect(accepted).toBeGreaterThan(60);
  });

  it('pathological nesting and size are refused, not a stack overflow', () => {
    const inputs = [
      `struct s { int ${'('.repeat(20_000)}x${')'.repeat(20_000)}; }`,
      `struct s { ${'struct { '.repeat(5_000)}int x; ${'} a; '.repeat(5_000)}}`,
      `enum e { A = ${'('.repeat(50_000)}1${')'.repeat(50_000)} }`,
      `enum e { A = ${'-'.repeat(100_000)}1 }`,
      `struct s { ${Array.from({ length: 5_000 }, (_, i) => `int m${i};`).join(' ')} }`,
      'x'.repeat(300_000),
    ];
    const used = cpuMs(() => {
      for (const text of inputs) expect(parses(text)).toBe(false);
    });
    // A hang guard in CPU time, far above the quiet figure (~60 ms).
    expect(used).toBeLessThan(3_000);
  });
});

describe('values', () => {
  const t = types(VALID.slice(0, 8).join(';\n'));
  const TYPES = ['struct point', 'struct frame', 'union val', 'enum color', 'qt', 'struct pk', 'struct anon', 'int32_t[3]', 'uint64_t', 'bool', 'float'];

  function randomValue(rng: () => number, depth = 0): unknown {
    const r = rng();
    if (r < 0.1) return Math.floor(rng() * 1000) - 500;
    if (r < 0.15) return [NaN, Infinity, -0, 1.5, 2 ** 40, -(2 ** 31)][Math.floor(rng() * 6)];
    if (r < 0.2) return BigInt(Math.floor(rng() * 1e6)) * (rng() < 0.5 ? -1n : 1n);
    if (r < 0.25) return ['', 'abc', 'a\0b', 'x'.repeat(40), 'RED', 'GREEN', 'PURPLE'][Math.floor(rng() * 7)];
    if (r < 0.3) return [null, undefined, true, false][Math.floor(rng() * 4)];
    if (depth > 2) return Math.floor(rng() * 10);
    if (r < 0.4) return Array.from({ length: Math.floor(rng() * 17) }, () => randomValue(rng, depth + 1));
    const keys = ['x', 'y', 'w', 'h', 'pix', 'origin', 'name', 'scale', 'i', 'd', 's', 'p', 'q', 'r', 'a', 'b', 'c', 'k', 'c1', 'c2', 'toString', '__proto__'];
    const o: Record<string, unknown> = {};
    for (const k of keys) if (rng() < (depth === 0 ? 0.5 : 0.2)) o[k] = randomValue(rng, depth + 1);
    return o;
  }

  it('random values encode or throw ERR_DLSWAP_ARG; what encodes round-trips', () => {
    const rng = mulberry32(0xc0dec);
    let encoded = 0;
    for (let i = 0; i < 20_000; i++) {
      const type = TYPES[i % TYPES.length];
      const value = randomValue(rng);
      let buf: Buffer;
      try {
        buf = encodeToBuffer(t, type, value);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code !== 'ERR_DLSWAP_ARG') throw new Error(`${type} ${String(value)} threw ${code ?? (e as Error).constructor.name}: ${(e as Error).message}`);
        continue;
      }
      encoded++;
      // Decoding reads pointers only as addresses here (no pointer members in these types but
      // char arrays), so the round trip is byte-exact.
      const back = decodeValue(t, buf, type);
      if (type === 'union val') continue; // decoded as every member: re-encoding needs one
      const again = encodeToBuffer(t, type, back);
      expect(again.equals(buf), `${type}: ${JSON.stringify(back, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`).toBe(true);
    }
    expect(encoded).toBeGreaterThan(100);
  });

  it('well-formed values of every type round-trip', () => {
    const samples: [string, unknown][] = [
      ['struct point', { x: -1, y: 2147483647 }],
      ['struct frame', { w: 1, h: 2, pix: Array.from({ length: 16 }, (_, i) => i), origin: { x: 3, y: 4 }, name: 'héllo', scale: 0.25 }],
      ['union val', { d: 1.5 }],
      ['enum color', 'BLUE'],
      ['qt', { q: -3, r: 1e300 }],
      ['struct pk', { a: 255, b: 4294967295 }],
      ['struct anon', { k: 1, a: 2, c1: 3, c2: 4 }],
      ['int32_t[3]', new Int32Array([1, -2, 3])],
      ['uint64_t', 2n ** 64n - 1n],
      ['bool', true],
      ['float', 0.1],
    ];
    for (const [type, value] of samples) {
      const buf = encodeToBuffer(t, type, value);
      const back = decodeValue(t, buf, type) as Record<string, unknown>;
      // A union (and an anonymous one) reads back as every member; encode it from the one given.
      const again = type === 'union val' ? { d: back.d } : type === 'struct anon' ? { k: back.k, a: back.a, c1: back.c1, c2: back.c2 } : back;
      expect(encodeToBuffer(t, type, again).equals(buf), type).toBe(true);
    }
    expect(decodeValue(t, encodeToBuffer(t, 'enum color', 'BLUE'), 'enum color')).toBe(20);
    expect(decodeValue(t, encodeToBuffer(t, 'float', 0.1), 'float')).toBe(Math.fround(0.1));
  });
});
