'use strict';
/**
 * Independent answers for the conformance suite: everything a library's result is compared with
 * comes from here, from node (crypto, zlib, Intl, Date), from dpkg's record of the installed package,
 * or from a format or algorithm as its specification documents it. Nothing here runs the library
 * under test, and no expected value was copied from a run of it.
 */
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const zlib = require('node:zlib');

/** A wrong answer: the cell reports it with what was expected and what came back. */
class WrongAnswer extends Error {
  constructor(what, got, expected) {
    super(`${what}: got ${show(got)}, expected ${show(expected)}`);
    this.name = 'WrongAnswer';
    this.got = show(got);
    this.expected = show(expected);
  }
}

function show(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `<${Buffer.from(v).toString('hex')}>`;
  if (typeof v === 'string') return JSON.stringify(v.length > 300 ? `${v.slice(0, 300)}...` : v);
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    return String(v);
  }
}

function same(a, b) {
  if ((Buffer.isBuffer(a) || a instanceof Uint8Array) && (Buffer.isBuffer(b) || b instanceof Uint8Array)) {
    return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isPlain(a) && isPlain(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same(a[k], b[k]));
  }
  return Object.is(a, b);
}

const isPlain = (v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** Throws a WrongAnswer unless got equals expected (bytes, arrays, plain objects and primitives, exactly). */
function eq(what, got, expected) {
  if (!same(got, expected)) throw new WrongAnswer(what, got, expected);
}

/** Throws a WrongAnswer unless ok; `got` and `expected` describe the mismatch. */
function check(what, ok, got, expected) {
  if (!ok) throw new WrongAnswer(what, got, expected);
}

// ---- dpkg: versions as Debian recorded them ------------------------------------------------------

const dpkgCache = new Map();
/** The installed version of a Debian package (`dpkg-query -W -f='${Version}'`), e.g. '1:1.2.13.dfsg-1'. */
function dpkgVersion(pkg) {
  if (!dpkgCache.has(pkg)) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template
    dpkgCache.set(pkg, execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' }).trim());
  }
  return dpkgCache.get(pkg);
}

/**
 * The upstream version of a Debian package: no epoch, no Debian revision, no repack suffix
 * ('1:1.2.13.dfsg-1' -> '1.2.13', '6.0.0+dfsg-3' -> '6.0.0', '3.0.19-1~deb12u2' -> '3.0.19').
 */
function upstreamVersion(pkg) {
  return dpkgVersion(pkg)
    .replace(/^\d+:/, '')
    .replace(/-[^-]*$/, '')
    .replace(/[.+~](dfsg|ds|repack)\d*.*$/, '');
}

/** The numeric parts of upstreamVersion: '3.0.19' -> [3, 0, 19]. */
function upstreamParts(pkg) {
  return upstreamVersion(pkg)
    .split('.')
    .map((x) => Number.parseInt(x, 10));
}

// ---- checksums, from their specifications --------------------------------------------------------

let crc32Table;
/** CRC-32 (ISO-HDLC: reflected, polynomial 0xEDB88320, init and xorout 0xFFFFFFFF). */
function crc32(buf) {
  if (!crc32Table) {
    crc32Table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crc32Table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of buf) c = crc32Table[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Adler-32 (RFC 1950). */
function adler32(buf) {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** CRC-64/XZ (ECMA-182 polynomial, reflected: 0xC96C5795D7870F42, init and xorout all ones). */
function crc64xz(buf) {
  const poly = 0xc96c5795d7870f42n;
  const mask = (1n << 64n) - 1n;
  let c = mask;
  for (const x of buf) {
    c ^= BigInt(x);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
  }
  return c ^ mask;
}

const rotl32 = (x, r) => ((x << r) | (x >>> (32 - r))) >>> 0;
const mul32 = (a, b) => Math.imul(a, b) >>> 0;

/** XXH32, as xxhash's specification (doc/xxhash_spec.md) defines it. */
function xxh32(buf, seed = 0) {
  const P1 = 0x9e3779b1,
    P2 = 0x85ebca77,
    P3 = 0xc2b2ae3d,
    P4 = 0x27d4eb2f,
    P5 = 0x165667b1;
  const round = (acc, lane) => mul32(rotl32((acc + mul32(lane, P2)) >>> 0, 13), P1);
  let i = 0;
  let acc;
  if (buf.length >= 16) {
    let v1 = (seed + P1 + P2) >>> 0,
      v2 = (seed + P2) >>> 0,
      v3 = seed >>> 0,
      v4 = (seed - P1) >>> 0;
    for (; i + 16 <= buf.length; i += 16) {
      v1 = round(v1, buf.readUInt32LE(i));
      v2 = round(v2, buf.readUInt32LE(i + 4));
      v3 = round(v3, buf.readUInt32LE(i + 8));
      v4 = round(v4, buf.readUInt32LE(i + 12));
    }
    acc = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) >>> 0;
  } else {
    acc = (seed + P5) >>> 0;
  }
  acc = (acc + buf.length) >>> 0;
  for (; i + 4 <= buf.length; i += 4) acc = mul32(rotl32((acc + mul32(buf.readUInt32LE(i), P3)) >>> 0, 17), P4);
  for (; i < buf.length; i++) acc = mul32(rotl32((acc + mul32(buf[i], P5)) >>> 0, 11), P1);
  acc = mul32(acc ^ (acc >>> 15), P2);
  acc = mul32(acc ^ (acc >>> 13), P3);
  return (acc ^ (acc >>> 16)) >>> 0;
}

/** XXH64, as xxhash's specification (doc/xxhash_spec.md) defines it. */
function xxh64(buf, seed = 0n) {
  const M = (1n << 64n) - 1n;
  const P1 = 0x9e3779b185ebca87n,
    P2 = 0xc2b2ae3d27d4eb4fn,
    P3 = 0x165667b19e3779f9n;
  const P4 = 0x85ebca77c2b2ae63n,
    P5 = 0x27d4eb2f165667c5n;
  const rotl = (x, r) => ((x << r) | (x >> (64n - r))) & M;
  const round = (acc, lane) => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
  const merge = (acc, v) => ((acc ^ round(0n, v)) * P1 + P4) & M;
  let i = 0;
  let acc;
  if (buf.length >= 32) {
    let v1 = (seed + P1 + P2) & M,
      v2 = (seed + P2) & M,
      v3 = seed & M,
      v4 = (seed - P1) & M;
    for (; i + 32 <= buf.length; i += 32) {
      v1 = round(v1, buf.readBigUInt64LE(i));
      v2 = round(v2, buf.readBigUInt64LE(i + 8));
      v3 = round(v3, buf.readBigUInt64LE(i + 16));
      v4 = round(v4, buf.readBigUInt64LE(i + 24));
    }
    acc = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    acc = merge(merge(merge(merge(acc, v1), v2), v3), v4);
  } else {
    acc = (seed + P5) & M;
  }
  acc = (acc + BigInt(buf.length)) & M;
  for (; i + 8 <= buf.length; i += 8) acc = (rotl(acc ^ round(0n, buf.readBigUInt64LE(i)), 27n) * P1 + P4) & M;
  for (; i + 4 <= buf.length; i += 4) acc = (rotl(acc ^ ((BigInt(buf.readUInt32LE(i)) * P1) & M), 23n) * P2 + P3) & M;
  for (; i < buf.length; i++) acc = (rotl(acc ^ ((BigInt(buf[i]) * P5) & M), 11n) * P1) & M;
  acc = ((acc ^ (acc >> 33n)) * P2) & M;
  acc = ((acc ^ (acc >> 29n)) * P3) & M;
  return acc ^ (acc >> 32n);
}

const hash = (alg, data) => crypto.createHash(alg).update(data).digest();
const sha256 = (data) => hash('sha256', data);
const sha256hex = (data) => hash('sha256', data).toString('hex');

// ---- small files in documented formats, made by node -----------------------------------------------

/** A PNG (RFC 2083) of width x height RGBA8 pixels, IDAT compressed by node's zlib. */
function makePng(width, height, rgba) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type: RGBA
  const rows = [];
  for (let y = 0; y < height; y++) rows.push(Buffer.from([0]), rgba.subarray(y * width * 4, (y + 1) * width * 4));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A POSIX ustar archive (one regular file per entry), as POSIX.1-2001 lays it out. */
function makeTar(files) {
  const blocks = [];
  for (const [name, content] of files) {
    const data = Buffer.from(content);
    const h = Buffer.alloc(512);
    const put = (s, off, len) => h.write(s, off, len, 'latin1');
    const oct = (n, len) => `${n.toString(8).padStart(len - 1, '0')}\0`;
    put(name, 0, 100);
    put(oct(0o644, 8), 100, 8);
    put(oct(0, 8), 108, 8);
    put(oct(0, 8), 116, 8);
    put(oct(data.length, 12), 124, 12);
    put(oct(1700000000, 12), 136, 12);
    put('        ', 148, 8); // checksum field counts as spaces while summing
    put('0', 156, 1);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/**
 * A Zstandard frame (RFC 8878) holding `data` in one raw block: magic 0xFD2FB528, a frame header
 * with Single_Segment_flag and a 1-byte Frame_Content_Size, then one last raw block.
 */
function zstdRawFrame(data) {
  if (data.length > 255) throw new Error('zstdRawFrame: at most 255 bytes');
  const block = 1 | (0 << 1) | (data.length << 3); // Last_Block, Raw_Block, Block_Size
  return Buffer.concat([
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, data.length]),
    Buffer.from([block & 0xff, (block >> 8) & 0xff, (block >> 16) & 0xff]),
    data,
  ]);
}

/** An LZ4 block (lz4 Block Format) with one sequence of literals only, as the last sequence must be. */
function lz4LiteralBlock(data) {
  if (data.length >= 15) throw new Error('lz4LiteralBlock: fewer than 15 bytes');
  return Buffer.concat([Buffer.from([data.length << 4]), data]);
}

/** LZ4_COMPRESSBOUND from lz4.h. */
const lz4CompressBound = (n) => n + Math.floor(n / 255) + 16;

/** ZSTD_COMPRESSBOUND from zstd.h. */
const zstdCompressBound = (n) => n + (n >> 8) + (n < 128 << 10 ? ((128 << 10) - n) >> 11 : 0);

/** NUL-terminated UTF-16LE (ICU's UChar strings). */
const utf16z = (s) => Buffer.from(`${s}\0`, 'utf16le');

/** A NUL-terminated UTF-8 C string in a Buffer. */
const cstr = (s) => Buffer.from(`${s}\0`, 'utf8');

/** The text of a NUL-terminated string in a buffer. */
function bufString(buf, encoding = 'utf8') {
  const end = buf.indexOf(0);
  return buf.toString(encoding, 0, end < 0 ? buf.length : end);
}

/** Deterministic pseudo-random bytes (for inputs; any byte values will do). */
function bytes(n, seed = 1) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// ---- numerics and the process, for the thread-pool and plugin-loader libraries -----------------

/** C = A x B for row-major integer-valued matrices (exact in doubles while the sums stay below 2^53). */
function matmul(a, b, m, n, k) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      for (let j = 0; j < n; j++) c[i * n + j] += x * b[p * n + j];
    }
  }
  return c;
}

/** The discrete Fourier transform by its definition, X[k] = sum x[j] e^(-2 pi i jk/n), interleaved re/im. */
function dft(x) {
  const n = x.length / 2;
  const out = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    let re = 0;
    let im = 0;
    for (let j = 0; j < n; j++) {
      const t = (-2 * Math.PI * ((j * k) % n)) / n;
      const c = Math.cos(t);
      const s = Math.sin(t);
      re += x[2 * j] * c - x[2 * j + 1] * s;
      im += x[2 * j] * s + x[2 * j + 1] * c;
    }
    out[2 * k] = re;
    out[2 * k + 1] = im;
  }
  return out;
}

/** The file mapped at `address` in this process (/proc/self/maps), or null. */
function mappingOf(address) {
  const a = BigInt(address);
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m && a >= BigInt(`0x${m[1]}`) && a < BigInt(`0x${m[2]}`)) return m[3] || null;
  }
  return null;
}

/** Names (comm) of this process's threads. */
function threadNames() {
  const names = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      names.push(fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim());
    } catch {
      // exited meanwhile
    }
  }
  return names;
}

module.exports = {
  matmul,
  dft,
  mappingOf,
  threadNames,
  WrongAnswer,
  eq,
  check,
  show,
  dpkgVersion,
  upstreamVersion,
  upstreamParts,
  crc32,
  adler32,
  crc64xz,
  xxh32,
  xxh64,
  hash,
  sha256,
  sha256hex,
  makePng,
  makeTar,
  zstdRawFrame,
  lz4LiteralBlock,
  lz4CompressBound,
  zstdCompressBound,
  utf16z,
  cstr,
  bufString,
  bytes,
};
