/**
 * GLIBC_TUNABLES as glibc's loader reads it ("name=value:name=value"), once, at process start.
 * No addon import here: doctor() must work when the addon does not load.
 */

/** glibc's defaults for the two rtld tunables that size the namespace budget. */
export const DEFAULT_NNS = 4;
export const DEFAULT_OPTIONAL_STATIC_TLS = 512;

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
