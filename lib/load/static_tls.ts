/**
 * glibc's "cannot allocate memory in static TLS block": an object with initial-exec thread-local
 * storage (DF_STATIC_TLS: jemalloc, libc itself) asked for more static TLS than the process has
 * left. glibc sizes that room once, at process start, from two tunables (lib/load/tunables.ts); plain
 * dlopen fails the same way, so the refusal itself is right in every mode. What differs per mode is
 * who else shares the room and what to set: the message names the tunable that makes the load work.
 */
import { DlswapError } from '../errors';
import { readElf } from '../elf/elf';
import type { Isolation } from './isolation';
import { DEFAULT_NNS, DEFAULT_OPTIONAL_STATIC_TLS, MAX_NODE_STATIC_TLS_SURPLUS, maxOptionalStaticTls, rtldTunables, staticTlsSurplus } from './tunables';

/** Static TLS glibc's libc takes in every namespace (x86-64 and aarch64, glibc 2.35+). */
const LIBC_STATIC_TLS = 144;

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** The object a static-TLS failure names (the text before ": cannot allocate memory in static TLS block"). */
export function staticTlsObject(dlerror: string): string | null {
  const m = /(?:^|: )([^:]+): cannot allocate memory in static TLS block/.exec(dlerror);
  return m ? m[1].trim() : null;
}

/** Bytes of initial-exec TLS `file` needs, or null when its headers cannot be read. */
function staticTlsOf(file: string): number | null {
  try {
    const elf = readElf(file);
    return elf.tls ? roundUp(elf.tls.memsz, Math.max(elf.tls.align, 1)) : 0;
  } catch {
    return null;
  }
}

/**
 * GLIBC_TUNABLES that give `needed` bytes room in `mode`, hot reloads included (old and new generation
 * at once), within what node itself survives; null when no setting can.
 */
export function staticTlsTunables(needed: number, mode: Isolation): string | null {
  if (mode === 'fresh-namespace') {
    // Each generation is a namespace of its own: its copy of the object and its C library again.
    const cap = maxOptionalStaticTls(16);
    const want = roundUp(Math.max(16384, DEFAULT_OPTIONAL_STATIC_TLS + 8 * (needed + LIBC_STATIC_TLS)), 4096);
    if (2 * (needed + LIBC_STATIC_TLS) > cap) return null;
    return `GLIBC_TUNABLES=glibc.rtld.nns=16:glibc.rtld.optional_static_tls=${Math.min(want, cap)}`;
  }
  // Every generation is a copy of its own with its own TLS, two of them during a reload; glibc does
  // not always reuse the room a closed one left.
  const cap = maxOptionalStaticTls(DEFAULT_NNS);
  const want = roundUp(Math.max(16384, DEFAULT_OPTIONAL_STATIC_TLS + 4 * needed), 4096);
  if (2 * needed + LIBC_STATIC_TLS > cap) return null;
  return `GLIBC_TUNABLES=glibc.rtld.optional_static_tls=${Math.min(want, cap)}`;
}

/**
 * The coded error of a static-TLS failure, or null when it is the namespace budget's (a fresh
 * namespace's own C library found no room: ERR_DLSWAP_NAMESPACE_EXHAUSTED, lib/load/isolation.ts).
 */
export function staticTlsFailure(dlerror: string, userPath: string, mode: Isolation): DlswapError | null {
  const object = staticTlsObject(dlerror);
  if (!object) return null;
  const isLibc = /(^|\/)libc\.so\.\d+$/.test(object);
  if (isLibc && mode === 'fresh-namespace') return null;
  const needed = (object.startsWith('/') ? staticTlsOf(object) : null) ?? (isLibc ? LIBC_STATIC_TLS : null);
  const tunables = rtldTunables();
  const surplus = staticTlsSurplus(tunables.nns, tunables.optionalStaticTls);
  // It would fit an empty surplus: earlier generations used it up, the fresh-namespace budget's case.
  if (mode === 'fresh-namespace' && (needed === null || needed <= surplus)) return null;
  const who = isLibc ? `the C library of dlswap's namespace (${object})` : object === userPath ? userPath : `its dependency ${object}`;
  const size = needed !== null ? `, ${needed} bytes of static TLS per thread` : '';
  const shared =
    mode === 'namespace'
      ? `; dlswap's namespace's C library takes ${LIBC_STATIC_TLS} of them`
      : mode === 'fresh-namespace'
        ? `; each fresh namespace's C library takes ${LIBC_STATIC_TLS} of them, and every generation takes this library's share again`
        : '';
  const room = `glibc keeps ${surplus} bytes of static TLS for everything loaded after the process started (the GLIBC_TUNABLES it started with decide${shared})`;
  const cause =
    needed !== null && needed > surplus
      ? `${who} uses initial-exec thread-local storage${size}, and ${room}`
      : `${who} uses initial-exec thread-local storage${size}, and too little is left of what ${room}`;
  const also = mode === 'fresh-namespace' ? "; or use isolation 'namespace', where one C library serves every generation" : '';
  const tunablesFix = staticTlsTunables(needed ?? 2048, mode);
  const fix = tunablesFix
    ? `Start node with ${tunablesFix} in its environment (glibc reads it once, at process start)${also}.`
    : `No setting makes room for it in node: past ${MAX_NODE_STATIC_TLS_SURPLUS} bytes node's own threads no longer start (their stacks hold the static TLS)${also}.`;
  return new DlswapError('ERR_DLSWAP_STATIC_TLS', `cannot load ${userPath} (isolation '${mode}'): ${cause}. Plain dlopen fails the same way. ${fix}`);
}
