/**
 * The four isolation modes, by name: what `isolation` may be (checked by lib/options.ts, loaded by
 * lib/load/, reported by lib/analysis/). Shared by the options check and the loader, so that neither
 * imports the other for it; what each mode does at load is lib/load/isolation.ts's.
 * See docs/isolation.md for what each mode isolates and what it breaks.
 */
export type Isolation = 'local' | 'deepbind' | 'namespace' | 'fresh-namespace';

export const ISOLATION_MODES: readonly Isolation[] = ['local', 'deepbind', 'namespace', 'fresh-namespace'];
