// The typed memory API under bad input: oversized layouts, double frees, huge lengths, detached
// buffers, out-of-range numbers and bigints. Each named case first, then a seeded random walk over
// the whole API (bounded by iterations, never by time): every operation either works or throws an
// Error with an ERR_DLSWAP_* code, and the process survives. Addresses given to the API are only
// ever ones the walk owns (a live lib.alloc block, a freed one, one inside either): any other
// address is trusted, as in C, and out of this test's scope.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, type Library } from '../../lib/load/library';
import { addressOf, alignof, decode, encode, encodeToBuffer, offsetof, readBytes, sizeof } from '../../lib/call/memory_api';
import { readCString } from '../../lib/call/func';
import { isDlswapError } from '../../lib/errors';
import { types } from '../../lib/signature/ctypes';
import { MAX_BY_VALUE_SIZE, MAX_VALUE_SIZE } from '../../lib/signature/value_limits';
import { Allocations } from '../../lib/call/memory';
import { fixture, mulberry32 } from '../helpers';

const LIB = fixture('libtypes.so');
const SEED = 0x5eed_1e55;
const ITERATIONS = 3_000;

const T = types(`
  struct small { int32_t a; uint8_t b[3]; double d; };
  struct huge { char a[0x7fffffff]; };
  struct big { uint8_t a[100000000]; };
  struct edge { uint8_t a[${MAX_BY_VALUE_SIZE}]; };
  struct over { uint8_t a[${MAX_BY_VALUE_SIZE + 1}]; };
  struct wide { char c; } __attribute__((aligned(268435456)));
  struct strs { const char *s; struct small *p; };
`);
const TYPE_NAMES = [
  'int8_t',
  'uint16_t',
  'int32_t',
  'uint64_t',
  'double',
  'float',
  'bool',
  'char',
  'void *',
  'const char *',
  'struct small',
  'struct huge',
  'struct big',
  'struct edge',
  'struct over',
  'struct wide',
  'struct strs',
  'uint8_t[16]',
  'char[8]',
  'int[3]',
  'void',
  'struct nope',
  'int (*)(int)',
  '',
  'int[',
  'uint8_t[0x7fffffff]',
];

function expectTyped(what: string, run: () => unknown): { ok: boolean; code?: string } {
  try {
    run();
    return { ok: true };
  } catch (e) {
    expect(isDlswapError(e), `${what}: ${String((e as Error)?.stack ?? e)}`).toBe(true);
    return { ok: false, code: (e as { code: string }).code };
  }
}

describe.each(['namespace', 'local'] as const)('typed memory under bad input (%s)', (isolation) => {
  let lib: Library;
  beforeAll(() => {
    lib = open(LIB, { isolation, types: T });
  });
  afterAll(async () => {
    await lib?.close();
  });

  it('oversized layouts are refused before anything is built for them, at once', () => {
    const code = (f: () => unknown) => expectTyped('', f).code;
    // By value: a function and a callback, 2 GiB and 100 MB structs (node used to run out of heap).
    expect(code(() => lib.func('int id_i32(struct huge h)'))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => lib.func('struct big id_i32(void)'))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => lib.func('int id_i32(struct over o)'))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => lib.callback('void (*)(struct huge)', () => undefined))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => lib.func('int id_i32(struct edge e)'))).toBeUndefined(); // at the limit: accepted
    // Converted to or from JS values at once.
    expect(code(() => decode(Buffer.alloc(8), 'struct huge', undefined, { types: T }))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => lib.decode(Buffer.alloc(8), 'uint8_t', MAX_VALUE_SIZE + 1))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => encodeToBuffer('struct big', {}, { types: T }))).toBe('ERR_DLSWAP_TOO_LARGE');
    expect(code(() => lib.encode(Buffer.alloc(8), 'struct wide', { c: 1 }))).toBe('ERR_DLSWAP_TOO_LARGE');
    // A pointer to one takes addresses (a call's frame never holds it), and objects are refused.
    const f = lib.func('int is_null(const struct huge *p)');
    expect(f(null)).toBe(1);
    expect(code(() => f({ a: 'x' } as never))).toBe('ERR_DLSWAP_ARG');
    // Still measurable and allocatable.
    expect(sizeof('struct huge', { types: T })).toBe(0x7fffffff);
  });

  it('lib.free twice, or inside a block, is refused; the block is never given to the allocator twice', () => {
    const p = lib.alloc(32);
    lib.free(p);
    expect(expectTyped('', () => lib.free(p)).code).toBe('ERR_DLSWAP_FREED');
    expect(expectTyped('', () => lib.free(p)).code).toBe('ERR_DLSWAP_FREED');
    expect(expectTyped('', () => lib.decode(p, 'int32_t')).code).toBe('ERR_DLSWAP_FREED');
    expect(expectTyped('', () => lib.encode(p + 4n, 'int32_t', 1)).code).toBe('ERR_DLSWAP_FREED');
    const q = lib.alloc('struct small', 2);
    expect(expectTyped('', () => lib.free(q + 8n)).code).toBe('ERR_DLSWAP_ARG');
    lib.free(q);
    // With calls in between, and many frees after: still held back, still refused.
    const dupUpper = lib.func('void *dup_upper(const char *s)');
    for (let i = 0; i < 50; i++) lib.free(dupUpper('x'.repeat(i + 1)));
    expect(expectTyped('', () => lib.free(q)).code).toBe('ERR_DLSWAP_FREED');
    // Past the hold limit the oldest go back to the allocator: a new block may then reuse an address.
    for (let i = 0; i < Allocations.HOLD_BLOCKS + 8; i++) lib.free(lib.alloc(16));
    expect(expectTyped('', () => lib.free(lib.alloc(16))).ok).toBe(true);
  });

  it('readBytes, readCString and addressOf: huge, negative and detached are typed errors', () => {
    const p = lib.alloc(16);
    try {
      expect(expectTyped('', () => readBytes(p, 2 ** 40)).code).toBe('ERR_DLSWAP_TOO_LARGE');
      expect(expectTyped('', () => readBytes(p, 2n ** 64n)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => readBytes(p, -1)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => readBytes(p, NaN)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => readBytes(0n, 4)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => readBytes(-1n, 4)).code).toBe('ERR_DLSWAP_ARG');
      // Where no memory can be: refused rather than read (a crash) or freed (an abort).
      for (const bad of [1n, 0xfffn, 2n ** 63n]) {
        expect(expectTyped('', () => readBytes(bad, 4)).code).toBe('ERR_DLSWAP_ARG');
        expect(expectTyped('', () => decode(bad, 'int32_t')).code).toBe('ERR_DLSWAP_ARG');
        expect(expectTyped('', () => encode(bad, 'int32_t', 1)).code).toBe('ERR_DLSWAP_ARG');
        expect(expectTyped('', () => readCString(bad)).code).toBe('ERR_DLSWAP_ARG');
        expect(expectTyped('', () => lib.free(bad)).code).toBe('ERR_DLSWAP_ARG');
      }
      expect(expectTyped('', () => lib.free(p + 3n)).code).toBe('ERR_DLSWAP_ARG'); // inside a block
      expect(expectTyped('', () => lib.free(0x7f00_0000_0003n)).code).toBe('ERR_DLSWAP_ARG'); // misaligned
      expect(readBytes(p, 16n)).toHaveLength(16);
      expect(expectTyped('', () => readCString(p, -1)).code).toBe('ERR_DLSWAP_ARG');
      expect(readCString(p, 4)).toBe('');
      const ab = new ArrayBuffer(8);
      const view = new Uint8Array(ab);
      structuredClone(ab, { transfer: [ab] });
      expect(expectTyped('', () => addressOf(ab)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => addressOf(view)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => lib.encode(view, 'int32_t', 1)).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => decode(ab, 'int32_t')).code).toBe('ERR_DLSWAP_ARG');
      expect(expectTyped('', () => addressOf({} as never)).code).toBe('ERR_DLSWAP_ARG');
      expect(addressOf(Buffer.alloc(4))).toBeGreaterThan(0n);
    } finally {
      lib.free(p);
    }
  });

  it(`a seeded random walk of ${ITERATIONS} operations: typed errors only`, () => {
    const rand = mulberry32(SEED);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)];
    const int = (n: number) => Math.floor(rand() * n);
    const live: { p: bigint; size: number }[] = [];
    const freed: bigint[] = [];
    const buffers = (): unknown => {
      const kind = int(7);
      if (kind === 0) {
        const ab = new ArrayBuffer(int(64));
        const view = rand() < 0.5 ? new Uint16Array(ab, 0, Math.floor(ab.byteLength / 2)) : ab;
        if (rand() < 0.5) structuredClone(ab, { transfer: [ab] });
        return view;
      }
      if (kind === 1) return Buffer.alloc(int(64));
      if (kind === 2) return new DataView(new ArrayBuffer(64), int(32), int(32));
      if (kind === 3) return new Float64Array(int(8));
      return pick([null, undefined, 0, 'buf', {}, [], Symbol('s'), -1n]);
    };
    const numbers = (): unknown =>
      pick([
        0,
        1,
        2,
        3,
        7,
        16,
        64,
        -1,
        1.5,
        NaN,
        Infinity,
        -Infinity,
        2 ** 31,
        2 ** 32,
        2 ** 40,
        2 ** 53,
        2 ** 60,
        Number.MAX_SAFE_INTEGER,
        1e308,
        '4',
        null,
        undefined,
        4n,
        -4n,
        2n ** 64n,
        2n ** 70n,
        {},
      ]);
    const addresses = (): unknown => {
      const r = int(6);
      if (r === 0 && live.length) return pick(live).p;
      if (r === 1 && live.length) {
        // Inside a block (decode and encode then check the end against it).
        const b = pick(live);
        return b.p + BigInt(int(b.size));
      }
      if (r === 2 && freed.length) return pick(freed);
      // Addresses no mapping can hold (below 64 KiB, past the user address space) are refused, not read.
      return pick([0n, 1n, 0x1000n, 12345n, 2n ** 63n, 0xffff_8000_0000_0000n, -1n, 2n ** 64n, 2n ** 64n + 1n, 1, 'p', null, undefined]);
    };
    const values = (): unknown =>
      pick([0, 1, -1, 255, 256, 2 ** 31, NaN, 1n, -1n, 2n ** 64n, 'text', '', null, {}, { a: 1, b: [1, 2, 3], d: 1.5 }, [1, 2, 3], true, new Uint8Array(16)]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < ITERATIONS; i++) {
      const op = int(11);
      const what = `#${i} op ${op}`;
      if (process.env.FUZZ_TRACE) fs.writeSync(2, `${what}\n`);
      let r: { ok: boolean; code?: string };
      switch (op) {
        case 0: {
          let p: unknown;
          const typeOrSize = rand() < 0.5 ? pick(TYPE_NAMES) : numbers();
          let count = rand() < 0.3 ? undefined : numbers();
          // Sizes the allocator can quickly give (up to 1 MiB: an instrumented calloc zeroes what it
          // gives) or certainly cannot (2^50 and up); between them, overcommit decides, and a test
          // should not take gigabytes to find out.
          const unit =
            typeof typeOrSize === 'number'
              ? typeOrSize
              : expectTyped('', () => lib.types!.sizeof(typeOrSize as string)).ok
                ? lib.types!.sizeof(typeOrSize as string)
                : 1;
          const total = unit * (typeof count === 'number' ? count : 1);
          if (total > 2 ** 20 && total < 2 ** 50) count = typeof count === 'number' ? 1 : count;
          if (unit > 2 ** 20 && unit < 2 ** 50) {
            r = { ok: false, code: 'skipped' };
            break;
          }
          r = expectTyped(what, () => (p = lib.alloc(typeOrSize as never, count as never)));
          if (r.ok && typeof p === 'bigint') {
            const unit = typeof typeOrSize === 'number' ? typeOrSize : lib.types!.sizeof(typeOrSize as string);
            live.push({ p, size: unit * ((count as number | undefined) ?? 1) });
          }
          break;
        }
        case 1: {
          // Frees only what the walk owns: a live block, a freed one, an interior, or a non-address.
          const k = int(4);
          let target: unknown = pick([0n, null, -1n, 'p', 2n ** 64n, 1n, 12345n, 0x10001n, 2n ** 63n]);
          let index = -1;
          if (k === 0 && live.length) {
            index = int(live.length);
            target = live[index].p;
          } else if (k === 1 && freed.length) target = pick(freed);
          else if (k === 2 && live.some((b) => b.size > 1)) target = pick(live.filter((b) => b.size > 1)).p + 1n;
          if (process.env.FUZZ_TRACE)
            fs.writeSync(2, `free ${String(target)} k=${k} live=${live.map((b) => `${b.p}+${b.size}`).join(',')} freed=${freed.join(',')}\n`);
          r = expectTyped(what, () => lib.free(target as never));
          if (r.ok && index >= 0) freed.push(...live.splice(index, 1).map((b) => b.p));
          break;
        }
        case 2:
          r = expectTyped(what, () => lib.decode(pick([addresses, buffers])() as never, pick(TYPE_NAMES), rand() < 0.5 ? undefined : (numbers() as never)));
          break;
        case 3:
          r = expectTyped(what, () => lib.encode(pick([addresses, buffers])() as never, pick(TYPE_NAMES), values()));
          break;
        case 4:
          r = expectTyped(what, () =>
            decode(buffers() as never, pick(TYPE_NAMES), rand() < 0.5 ? undefined : (numbers() as never), rand() < 0.8 ? { types: T } : (values() as never)),
          );
          break;
        case 5:
          r = expectTyped(what, () => encodeToBuffer(pick(TYPE_NAMES), values(), { types: T }));
          break;
        case 6: {
          // Reads only inside the walk's live blocks (or at non-addresses).
          const a = addresses();
          const inLive = typeof a === 'bigint' && live.some((b) => b.p === a);
          r = expectTyped(what, () =>
            readBytes(inLive ? a : (pick([0n, 1n, 2n ** 63n, 'x']) as never), inLive ? pick([0, 1, -1, NaN, 2 ** 40, 2n ** 64n, 1n]) : (numbers() as never)),
          );
          break;
        }
        case 7:
          r = expectTyped(what, () => addressOf(buffers() as never));
          break;
        case 8:
          r = expectTyped(what, () => [
            sizeof(pick(TYPE_NAMES), { types: T }),
            alignof(pick(TYPE_NAMES), { types: T }),
            offsetof(pick(TYPE_NAMES), pick(['a', 'b', 'd', 'a.x', '', 's']), { types: T }),
          ]);
          break;
        case 9: {
          const a = addresses();
          const inLive = typeof a === 'bigint' && live.some((b) => b.p === a);
          r = expectTyped(what, () => readCString(inLive ? (a as bigint) : (pick([null, 1n, 0x1000n, 2n ** 63n]) as never), inLive ? 1 : (numbers() as never)));
          break;
        }
        default:
          r = expectTyped(what, () => encode(buffers() as never, pick(TYPE_NAMES), values(), { types: T }));
      }
      const key = r.ok ? 'ok' : r.code!;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    for (const b of live) lib.free(b.p);
    // The walk reached both outcomes and the interesting refusals.
    expect(counts.ok).toBeGreaterThan(100);
    for (const code of ['ERR_DLSWAP_ARG', 'ERR_DLSWAP_TOO_LARGE', 'ERR_DLSWAP_FREED', 'ERR_DLSWAP_SIGNATURE', 'ERR_DLSWAP_OUT_OF_BOUNDS'])
      expect(counts[code], `${code} in ${JSON.stringify(counts)}`).toBeGreaterThan(0);
    // Nothing of the process's own was touched: its descriptors are all still there.
    expect(fs.readdirSync('/proc/self/fd').length).toBeGreaterThan(0);
  }, 900_000); // a hang guard: the walk is bounded by its iterations (seconds; minutes under valgrind)
});
