/**
 * The private temp area where every open gets its own copy of the library.
 *
 * Why copies: dlopen returns the already-loaded object when the path or the inode matches, so a
 * reload of a rebuilt file could silently get the old code; and writing into a file that is mapped
 * crashes the process. A fresh file per open, created exclusively and never written again, avoids
 * both. The copy is removed as soon as it is mapped.
 *
 * Layout: <tmp>/dlswap-<uid>/ (0700, ours, not a symlink) / <pid>-<starttime>-<random>/ (0700).
 * The start time makes a reused pid distinguishable, so the sweep at startup removes directories
 * of processes that died (SIGKILL leaves no chance to clean up) and never those of live ones.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DlswapError } from './errors';

export interface PrivateCopy {
  /** Path of the copy (inside the private directory). */
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the bytes that were copied, hex. */
  sha256: string;
}

function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from after the parenthesised command name, which may hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/** The base directory: DLSWAP_TMPDIR if set, else the OS temp dir. */
export function tempBase(): string {
  return process.env.DLSWAP_TMPDIR || os.tmpdir();
}

export function userRoot(): string {
  return path.join(tempBase(), `dlswap-${uid()}`);
}

/** Creates or checks the per-user root. Refuses anything an attacker could have prepared. */
function ensurePrivateDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new DlswapError(
        'ERR_DLSWAP_TEMP_AREA',
        `cannot create dlswap's private directory ${dir}: ${(e as Error).message}. Set DLSWAP_TMPDIR to a writable directory.`,
        { cause: e },
      );
    }
  }
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink()) {
    throw new DlswapError('ERR_DLSWAP_TEMP_AREA', `${dir} is a symbolic link; dlswap refuses to use it. Remove it, or set DLSWAP_TMPDIR.`);
  }
  if (!st.isDirectory()) {
    throw new DlswapError('ERR_DLSWAP_TEMP_AREA', `${dir} exists and is not a directory. Remove it, or set DLSWAP_TMPDIR.`);
  }
  if (st.uid !== uid()) {
    throw new DlswapError(
      'ERR_DLSWAP_TEMP_AREA',
      `${dir} is owned by uid ${st.uid}, not by this user (${uid()}); someone else could swap the libraries dlswap loads. Remove it, or set DLSWAP_TMPDIR.`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    // Ours, but too open: tighten rather than refuse (an old umask, a copied directory).
    fs.chmodSync(dir, 0o700);
  }
}

let processDir: string | null = null;
let counter = 0;
// One copy buffer for the process: copies are synchronous, and a fresh megabyte per reload would be
// garbage the collector has to chase under a reload-heavy load.
let copyBuffer: Buffer | null = null;

/** Removes directories left by processes that no longer exist. */
export function sweepStale(root = userRoot()): string[] {
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of entries) {
    const m = /^(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid && path.join(root, name) === processDir) continue;
    if (processStartTime(pid) === m[2]) continue; // still alive: not ours to touch
    fs.rmSync(path.join(root, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function cleanupAtExit(): void {
  if (processDir) {
    try {
      fs.rmSync(processDir, { recursive: true, force: true });
    } catch {
      // exiting: nothing else can be done, and the next process's sweep removes it
    }
  }
}

/** This process's private directory, created (and stale ones swept) on first use. */
export function privateDir(): string {
  if (processDir && fs.existsSync(processDir)) return processDir;
  const root = userRoot();
  ensurePrivateDir(root);
  const start = processStartTime(process.pid) ?? '0';
  const dir = path.join(root, `${process.pid}-${start}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o700 });
  if (processDir === null) process.once('exit', cleanupAtExit);
  processDir = dir;
  sweepStale(root);
  return dir;
}

/**
 * Copies `source` (an already-open fd of it) to a new file in the private directory. The source is
 * read through one fd and checked before and after: a file that changed while it was being copied
 * (a build still writing it) is refused, never loaded half-written.
 */
export function copyToPrivate(source: string, fd: number): PrivateCopy {
  const dir = privateDir();
  const before = fs.fstatSync(fd, { bigint: true });
  const base = path.basename(source).replace(/[^A-Za-z0-9._+-]/g, '_').slice(0, 80) || 'lib';
  const dest = path.join(dir, `${++counter}-${crypto.randomBytes(3).toString('hex')}-${base}`);
  // 'wx+': O_CREAT|O_EXCL: never write into a file that exists (it could be mapped); read back below.
  const out = fs.openSync(dest, 'wx+', 0o700);
  const hash = crypto.createHash('sha256');
  let copied = 0;
  let unchanged = false;
  try {
    const buf = (copyBuffer ??= Buffer.allocUnsafe(256 * 1024));
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, copied);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      let off = 0;
      while (off < n) off += fs.writeSync(out, buf, off, n - off);
      copied += n;
    }
    unchanged = copied === Number(before.size) && sameStat(before, fs.fstatSync(fd, { bigint: true })) && sameContent(fd, out, copied);
  } catch (e) {
    fs.closeSync(out);
    removeCopy(dest);
    throw e;
  }
  fs.closeSync(out);
  if (!unchanged) {
    removeCopy(dest);
    throw new DlswapError(
      'ERR_DLSWAP_INTEGRITY',
      `${source} changed while it was being copied (a build still writing it?). Wait until the write has finished and open it again.`,
    );
  }
  return { path: dest, size: copied, mtimeMs: Number(before.mtimeNs) / 1e6, sha256: hash.digest('hex') };
}

// Nanoseconds, and ctime too: a writer that puts the old mtime back (cp -p, tar, rsync in place)
// cannot put ctime back.
function sameStat(a: fs.BigIntStats, b: fs.BigIntStats): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

let verifyBuffer: Buffer | null = null;
/**
 * Whether the source still holds, byte for byte, what was written to the copy. Timestamps alone do
 * not prove it: before Linux 6.13 they have a clock tick's granularity (4 ms at HZ=250), so a write
 * in the same tick as the first fstat leaves mtime and ctime unchanged. With this check the copy is
 * the content the file had at one instant, never a mix of two versions.
 */
function sameContent(fd: number, copy: number, size: number): boolean {
  const a = (copyBuffer ??= Buffer.allocUnsafe(256 * 1024));
  const b = (verifyBuffer ??= Buffer.allocUnsafe(a.length));
  for (let off = 0; off < size; ) {
    const n = fs.readSync(fd, a, 0, Math.min(a.length, size - off), off);
    if (n === 0) return false;
    for (let m = 0; m < n; ) {
      const k = fs.readSync(copy, b, m, n - m, off + m);
      if (k === 0) return false;
      m += k;
    }
    if (!a.subarray(0, n).equals(b.subarray(0, n))) return false;
    off += n;
  }
  return fs.readSync(fd, a, 0, 1, size) === 0; // and it has not grown
}

export function removeCopy(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Files currently in this process's private directory (for tests and leak checks). */
export function privateFiles(): string[] {
  if (!processDir) return [];
  try {
    return fs.readdirSync(processDir);
  } catch {
    return [];
  }
}
