// Pointers, buffers and strings crossing into C: what each JS value becomes, who owns the memory,
// and that UTF-8 arrives (and comes back) byte for byte.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCString } from '../../lib/call/func';
import { open, type Library } from '../../lib/load/library';
import { runChild } from '../helpers';

const libtypes = path.join(__dirname, '..', '..', 'build', 'fixtures', 'libtypes.so');

describe.each(['namespace', 'local'] as const)('memory with isolation %s', (isolation) => {
  let lib: Library;
  beforeAll(() => {
    lib = open(libtypes, { isolation });
  });
  afterAll(async () => {
    await lib?.close();
  });

  describe('pointers and buffers', () => {
    it('pass the data pointer of every kind of binary view', () => {
      const sum = lib.func('uint64_t sum_bytes(const uint8_t *buf, size_t n)');
      const bytes = [1, 2, 3, 250];
      const total = 256n;
      expect(sum(Buffer.from(bytes), 4n)).toBe(total);
      expect(sum(new Uint8Array(bytes), 4n)).toBe(total);
      expect(sum(new Uint8Array(bytes).buffer, 4n)).toBe(total);
      expect(sum(new DataView(new Uint8Array(bytes).buffer), 4n)).toBe(total);
      expect(sum(new Uint16Array([0x0201, 0xfa03]), 4n)).toBe(total);
      // A view's pointer starts at its byteOffset, not at its buffer's start.
      const big = new Uint8Array([9, 9, ...bytes, 9]);
      expect(sum(big.subarray(2, 6), 4n)).toBe(total);
      expect(sum(new DataView(big.buffer, 2, 4), 4n)).toBe(total);
      expect(sum(Buffer.from(big.buffer, 2, 4), 4n)).toBe(total);
      expect(sum(null, 10n)).toBe(0n);
      expect(sum(Buffer.alloc(0), 0n)).toBe(0n);
    });

    it('let C write into JS memory', () => {
      const fill = lib.func('void fill_bytes(uint8_t *buf, size_t n, uint8_t value)');
      const b = Buffer.alloc(8);
      fill(b, 8n, 0x5a);
      expect([...b]).toEqual(Array(8).fill(0x5a));
      const u = new Uint8Array(10);
      fill(u.subarray(3, 6), 3n, 7);
      expect([...u]).toEqual([0, 0, 0, 7, 7, 7, 0, 0, 0, 0]);
      const ab = new ArrayBuffer(4);
      fill(ab, 4n, 1);
      expect([...new Uint8Array(ab)]).toEqual([1, 1, 1, 1]);
      const dv = new DataView(new ArrayBuffer(6), 2, 2);
      fill(dv, 2n, 3);
      expect([...new Uint8Array(dv.buffer)]).toEqual([0, 0, 3, 3, 0, 0]);
      fill(null, 0n, 0);
    });

    it('NULL is null or 0n, and comes back as 0n', () => {
      const isNull = lib.func('int is_null(const void *p)');
      expect(isNull(null)).toBe(1);
      expect(isNull(0n)).toBe(1);
      expect(isNull(Buffer.alloc(1))).toBe(0);
      expect(isNull(1234n)).toBe(0);
      expect(lib.func('void *id_ptr(void *p)')(null)).toBe(0n);
    });

    it("memory the library allocates is freed with the library's own free", () => {
      const alloc = lib.func('void *alloc_bytes(size_t n)');
      const sum = lib.func('uint64_t sum_bytes(const uint8_t *buf, size_t n)');
      const p = alloc(16n);
      expect(typeof p).toBe('bigint');
      expect(p).not.toBe(0n);
      expect(sum(p, 16n)).toBe(16n * 0xabn);
      lib.free(p);
      lib.free(null);
      lib.free(0n);
      // free_bytes is the library's own way: the same allocator.
      lib.func('void free_bytes(void *p)')(alloc(4n));
    });
  });

  describe('strings', () => {
    const samples = ['', 'hello', 'héllo wörld', '日本語のテキスト', 'emoji 😀🎉 mixed', 'a'.repeat(1000), '€'.repeat(3000)];

    it('arrive as NUL-terminated UTF-8, byte for byte', () => {
      const bytes = lib.func('int utf8_bytes(const char *s)');
      const len = lib.func('int str_len(const char *s)');
      for (const s of samples) {
        expect(bytes(s)).toBe(Buffer.byteLength(s, 'utf8'));
        expect(len(s)).toBe(Buffer.byteLength(s, 'utf8'));
      }
    });

    it('come back decoded from UTF-8', () => {
      const echo = lib.func('const char *echo_str(const char *s)');
      for (const s of samples) expect(echo(s)).toBe(s);
      expect(lib.func('const char *greet(void)')()).toBe('hello from types');
    });

    it('copies of any length are exact, whatever character straddles the stack buffer', () => {
      const echo = lib.func('const char *echo_str(const char *s)');
      for (let n = 490; n < 530; n++) {
        for (const tail of ['😀', '€', 'é', 'x']) {
          const s = `${'a'.repeat(n)}${tail}b`;
          expect(echo(s)).toBe(s);
        }
      }
    });

    it('several string arguments in one call each get their own copy', () => {
      const fmt = lib.func('int fmt(char *out, size_t cap, const char *format, ...)');
      const out = Buffer.alloc(4096);
      const a = 'α'.repeat(300);
      const b = 'β'.repeat(300);
      fmt(out, 4096n, '%s|%s', 'const char *', a, 'const char *', b);
      expect(out.toString('utf8', 0, out.indexOf(0))).toBe(`${a}|${b}`);
    });

    it('null in, null out', () => {
      expect(lib.func('int str_len(const char *s)')(null)).toBe(-1);
      expect(lib.func('const char *echo_str(const char *s)')(null)).toBe(null);
      expect(lib.func('const char *null_str(void)')()).toBe(null);
    });

    it('lone surrogates become U+FFFD, as in Buffer.from', () => {
      const echo = lib.func('const char *echo_str(const char *s)');
      expect(echo('a\ud800b')).toBe('a\ufffdb');
      expect(lib.func('int utf8_bytes(const char *s)')('\udfff')).toBe(3);
    });

    it('a string with an embedded NUL is refused: C would silently truncate it', () => {
      const len = lib.func('int str_len(const char *s)');
      expect(() => len('ab\0cd')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG', message: expect.stringMatching(/'s'.*NUL character at byte 2/) }));
      expect(() => len('\0')).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
      expect(() => len(`${'x'.repeat(600)}\0`)).toThrow(expect.objectContaining({ code: 'ERR_DLSWAP_ARG' }));
      // The bytes, NUL included, can still be passed as a Buffer.
      expect(len(Buffer.from('ab\0cd'))).toBe(2);
    });

    it('string parameters also take bytes and addresses', () => {
      const len = lib.func('int str_len(const char *s)');
      expect(len(Buffer.from('four\0'))).toBe(4);
      expect(len(new Uint8Array([104, 105, 0]))).toBe(2);
      const greet = lib.func('void *greet(void)')();
      expect(len(greet)).toBe('hello from types'.length);
    });

    it('an allocated result declared void * can be read, then freed', () => {
      const dup = lib.func('void *dup_upper(const char *s)');
      const p = dup('héllo, wörld');
      expect(readCString(p)).toBe('HéLLO, WöRLD'); // toupper is bytewise: UTF-8 bytes are untouched
      expect(readCString(p, 2)).toBe('H\ufffd'); // cut in the middle of é
      lib.free(p);
      expect(readCString(0n)).toBe(null);
      expect(readCString(null)).toBe(null);
      expect(dup(null)).toBe(0n);
    });

    it('char * results that the library owns become strings', () => {
      // char * (not const) returns are decoded too; whoever allocated them must free them.
      const dup = lib.func('char *dup_upper(const char *s)');
      expect(dup('abc')).toBe('ABC'); // (leaks 4 bytes: declare it void * to free it)
    });
  });
});

describe('pointers are trusted', () => {
  it('a bad address faults in C, as it would in C; the fault ends the call, not the process (docs/faults.md)', () => {
    const r = runChild(`
      const lib = dlswap.open(${JSON.stringify(libtypes)}, { isolation: 'local' });
      try {
        lib.func('uint64_t sum_bytes(const uint8_t *buf, size_t n)')(16n, 8n);
      } catch (e) {
        console.log(e.code, e.fault.signal, e.fault.address);
      }
      console.log('survived');
    `);
    expect(r.stdout).toBe('ERR_DLSWAP_FAULT SIGSEGV 16n\nsurvived\n');
    expect(r.status).toBe(0);
  });
});
