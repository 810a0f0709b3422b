/**
 * Bare sonames: `open('libz.so.1')` finds the library where dlopen would, since a name without a
 * slash is not a path. The order is the dynamic loader's for a caller without RPATH/RUNPATH:
 * LD_LIBRARY_PATH, then /etc/ld.so.cache (what `ldconfig -p` lists; read directly, no process is
 * started), then the default directories. A file for another machine is passed over, as the loader
 * does. What was found shows as `lib.info.realPath`.
 *
 * The addon searches too (native/loader/dependency_plan.cc), for a library's dependencies, but it
 * is not the owner here: it answers only through planDependencies on a whole file, searches on a
 * requester's behalf (RPATH/RUNPATH, LD_LIBRARY_PATH as the process started, ld.so.conf's
 * directories, no cache), and this search reads process.env.LD_LIBRARY_PATH at call time and the
 * cache by soname. Handing it over needs a native export and changes what a bare name finds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DlswapError } from '../errors';
import { debug } from '../debug';
import { matchesHost, startsWithElfMagic } from '../elf/elf_verdict';

const TRIPLET: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** The directories searched after the cache (glibc's defaults, with Debian's multiarch ones first). */
export function defaultDirs(): string[] {
  const t = TRIPLET[process.arch];
  return [...(t ? [`/lib/${t}`, `/usr/lib/${t}`] : []), '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
}

let cache: { mtimeMs: number; entries: Map<string, string[]> } | null = null;

/** soname -> paths, from /etc/ld.so.cache (glibc's "glibc-ld.so.cache1.1" format); empty if unreadable. */
export function ldCache(file = '/etc/ld.so.cache'): Map<string, string[]> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return new Map();
  }
  if (cache && cache.mtimeMs === st.mtimeMs && file === '/etc/ld.so.cache') return cache.entries;
  const entries = new Map<string, string[]>();
  try {
    const b = fs.readFileSync(file);
    const base = b.indexOf('glibc-ld.so.cache1.1');
    if (base >= 0 && base + 48 <= b.length) {
      const n = b.readUInt32LE(base + 20);
      const str = (off: number): string | null => {
        const at = base + off;
        const end = b.indexOf(0, at);
        return at < b.length && end > at ? b.toString('utf8', at, end) : null;
      };
      for (let i = 0; i < n; i++) {
        const e = base + 48 + i * 24;
        if (e + 24 > b.length) break;
        const key = str(b.readUInt32LE(e + 4));
        const value = str(b.readUInt32LE(e + 8));
        if (!key || !value) continue;
        const list = entries.get(key);
        if (list) list.push(value);
        else entries.set(key, [value]);
      }
    }
  } catch {
    // an unreadable or foreign cache: the directories are still searched
  }
  if (file === '/etc/ld.so.cache') cache = { mtimeMs: st.mtimeMs, entries };
  return entries;
}

/** A regular file whose ELF header is 64-bit and for this machine. */
function loadable(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    if (!fs.fstatSync(fd).isFile()) return false;
    const h = Buffer.alloc(20);
    if (fs.readSync(fd, h, 0, 20, 0) < 20) return false;
    // EI_CLASS 2 is ELFCLASS64; e_machine is read little-endian, the byte order of both hosts.
    return startsWithElfMagic(h) && matchesHost({ class: h[4] === 2 ? 64 : 32, machine: h.readUInt16LE(18) });
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Whether `file` names a library to search for rather than a path (no '/' in it). */
export function isBareName(file: string): boolean {
  return !file.includes('/');
}

/** Where the dynamic loader would find `name`, and every place looked at (in order). */
export function findLibrary(name: string): { path: string | null; searched: string[] } {
  const searched: string[] = [];
  const tryAt = (p: string) => {
    searched.push(p);
    return loadable(p);
  };
  for (const dir of (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    const p = path.join(dir, name);
    if (tryAt(p)) return { path: p, searched };
  }
  for (const p of ldCache().get(name) ?? []) {
    if (tryAt(p)) return { path: p, searched };
  }
  for (const dir of defaultDirs()) {
    const p = path.join(dir, name);
    if (tryAt(p)) return { path: p, searched };
  }
  return { path: null, searched };
}

/**
 * The file to load for what the user gave: a path as it is, a bare name searched for. Throws
 * ERR_DLSWAP_NOT_FOUND, saying where it looked, when a bare name is nowhere.
 */
export function resolveLibrary(file: string): string {
  if (!isBareName(file)) return file;
  const found = findLibrary(file);
  debug('resolve %s: %s (looked at %d places)', file, found.path ?? 'not found', found.searched.length);
  if (found.path) return found.path;
  const here = fs.existsSync(file)
    ? ` There is a ${file} in the current directory: open './${file}' to load it (a name without '/' is searched for, as dlopen does, never in the current directory).`
    : '';
  throw new DlswapError(
    'ERR_DLSWAP_NOT_FOUND',
    `${file} was not found where the dynamic loader looks for a name without '/': LD_LIBRARY_PATH${process.env.LD_LIBRARY_PATH ? ` (${process.env.LD_LIBRARY_PATH})` : ' (not set)'}, /etc/ld.so.cache, and ${defaultDirs().join(', ')}. Install the library (then run ldconfig), add its directory to LD_LIBRARY_PATH, or give its path.${here}`,
  );
}
