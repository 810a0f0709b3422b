/**
 * The plugin ABI of include/dlswap.h, as the TypeScript side sees it. Every entry point is optional
 * and is resolved on the loader thread (native/loader/load_job.cc, handover_job.cc), next to the code
 * that calls it: looking one up from here would cost a dlsym per reload for an answer the loader
 * already has. What the loader found is read once per generation, by `resolvePluginAbi`.
 */
import { addon, type LoadResult, type PluginHostHandle } from '../native';

/** The entry points of include/dlswap.h, with their C prototypes (test/hot/hot_phases.test.ts keeps them equal). */
export const PLUGIN_ENTRY_POINTS = {
  dlswap_abi_version: 'uint32_t dlswap_abi_version(void)',
  dlswap_init: 'int dlswap_init(const dlswap_host *host)',
  dlswap_fini: 'void dlswap_fini(void)',
  dlswap_version: 'const char *dlswap_version(void)',
  dlswap_state_export: 'size_t dlswap_state_export(void *buf, size_t cap)',
  dlswap_state_import: 'int dlswap_state_import(const void *buf, size_t len)',
} as const;

/** DLSWAP_ABI_VERSION of the addon's build: the version the host speaks. */
export const HOST_ABI_VERSION = addon.PLUGIN_ABI_VERSION;

/** What one generation's plugin entry points said while it was verified. */
export interface PluginAbi {
  /** What dlswap_abi_version() returned (0 without it: a plain library). */
  readonly abiVersion: number;
  /** What dlswap_version() returned, or null without it. */
  readonly version: string | null;
  /** dlswap_init returned 0 (or there is none to run and nothing is owed): dlswap_fini is due. */
  readonly initialized: boolean;
}

/** The plugin ABI of a successful load, as the loader resolved and ran it. */
export function resolvePluginAbi(result: LoadResult): PluginAbi {
  return Object.freeze({
    abiVersion: result.abi ?? 0,
    version: result.hasVersion ? (result.version ?? null) : null,
    initialized: result.initialized === true,
  });
}

/**
 * The dlswap_host handed to generation `id`'s dlswap_init. `onLog` gets each line the plugin logs;
 * `onDropped`, how many lines were dropped since its last call when the plugin logged faster than
 * this thread took them (the queue's bound: WIRE.logQueue), and how many the host dropped in all.
 */
export function createPluginHost(
  id: number,
  userData: bigint,
  onLog: (level: number, message: string) => void,
  onDropped: (dropped: number, total: number) => void,
): PluginHostHandle {
  const host: PluginHostHandle = new addon.PluginHost(BigInt(id), HOST_ABI_VERSION, userData, (level, message, dropped) =>
    dropped === undefined ? onLog(level, message) : onDropped(dropped, host.dropped),
  );
  return host;
}

// Hosts of plugins whose init or fini overran: the plugin may still hold and use the struct from the
// thread it is stuck on, so it is never freed.
const quarantinedHosts: PluginHostHandle[] = [];

/** Keeps `host` alive for good: plugin code that overran may still use it. */
export function quarantineHost(host: PluginHostHandle): void {
  quarantinedHosts.push(host);
}
