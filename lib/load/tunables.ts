/**
 * GLIBC_TUNABLES as glibc's loader reads it ("name=value:name=value"), once, at process start, and
 * the static TLS surplus the two rtld tunables size.
 * No addon import here: doctor() must work when the addon does not load.
 */
import { MAX_NAMESPACES } from '../wire';

/** What to start node with for the whole namespace budget: glibc's 15 namespaces, static TLS for each. */
export const RECOMMENDED_TUNABLES = 'GLIBC_TUNABLES=glibc.rtld.nns=16:glibc.rtld.optional_static_tls=16384';

/** glibc's defaults for the two rtld tunables that size the namespace budget. */
export const DEFAULT_NNS = 4;
export const DEFAULT_OPTIONAL_STATIC_TLS = 512;

// glibc's constants (elf/dl-tls.c, glibc >= 2.32).
const LIBC_IE_TLS = 144;
const OTHER_IE_TLS = 144;

/**
 * glibc's static TLS surplus: room reserved for libraries dlopen'ed later that need static TLS, the
 * libc of every new namespace first. The formula keeps the historic 1664 bytes for the defaults.
 */
export function staticTlsSurplus(nns: number, optionalStaticTls: number): number {
  const n = Math.min(Math.max(nns, 1), MAX_NAMESPACES);
  return (n - 1) * LIBC_IE_TLS + n * OTHER_IE_TLS + optionalStaticTls + LIBC_IE_TLS;
}

/**
 * The largest surplus node itself survives. Node 20 starts its inspector thread with a small stack,
 * out of which glibc carves every thread's static TLS: past about 27 KiB that thread's pthread_create
 * fails with EINVAL and node prints "pthread_create: Invalid argument" at startup (measured with node
 * 20 on glibc 2.36: a surplus of 27,136 bytes starts cleanly, 28,160 does not).
 */
export const MAX_NODE_STATIC_TLS_SURPLUS = 27136;

/** The largest glibc.rtld.optional_static_tls node survives with `nns` namespaces, in 4 KiB steps. */
export function maxOptionalStaticTls(nns: number): number {
  return Math.floor((MAX_NODE_STATIC_TLS_SURPLUS - staticTlsSurplus(nns, 0)) / 4096) * 4096;
}

/** The whole surplus the default tunables give, shared by every library that needs static TLS. */
export const DEFAULT_STATIC_TLS_SURPLUS = staticTlsSurplus(DEFAULT_NNS, DEFAULT_OPTIONAL_STATIC_TLS);

export function parseTunables(raw: string | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const part of (raw ?? '').split(':')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    values[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return values;
}

function tunableNumber(values: Record<string, string>, key: string, dflt: number): number {
  const v = Number(values[key]);
  return values[key] !== undefined && Number.isFinite(v) && v >= 0 ? v : dflt;
}

/** The rtld tunables in effect (glibc's defaults where GLIBC_TUNABLES does not set them). */
export function rtldTunables(raw = process.env.GLIBC_TUNABLES): { nns: number; optionalStaticTls: number } {
  const values = parseTunables(raw);
  return {
    nns: tunableNumber(values, 'glibc.rtld.nns', DEFAULT_NNS),
    optionalStaticTls: tunableNumber(values, 'glibc.rtld.optional_static_tls', DEFAULT_OPTIONAL_STATIC_TLS),
  };
}
