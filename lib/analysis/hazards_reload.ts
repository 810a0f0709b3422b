/**
 * Hazards of what each reload leaves behind: an old image glibc will not unmap, and static TLS it
 * does not give back.
 */
import type { ElfInfo } from '../elf/elf';
import { list, plural, type Hazard } from './hazard';
import { ISOLATION_MODES } from '../load/isolation';
import { staticTlsTunables } from '../load/static_tls';
import { DEFAULT_OPTIONAL_STATIC_TLS, rtldTunables, staticTlsSurplus } from '../load/tunables';

export function reloadHazards(info: ElfInfo): Hazard[] {
  const hazards: Hazard[] = [];
  if (info.uniqueSymbols.length) {
    hazards.push({
      id: 'gnu-unique',
      severity: 'warn',
      message: `defines ${plural(info.uniqueSymbols.length, 'STB_GNU_UNIQUE symbol')} (${list(info.uniqueSymbols, 3)}): glibc never unloads it, so a reload keeps the old image mapped and its static state alive. Build it with -fno-gnu-unique.`,
      symbols: info.uniqueSymbols.slice(),
      affects: ['unload', 'fresh-namespace'],
    });
  }
  if (info.nodelete) {
    hazards.push({
      id: 'nodelete',
      severity: 'warn',
      message: 'marked DF_1_NODELETE (linked with -z nodelete): dlclose never unmaps it, so every reload leaves the old generation in memory.',
      affects: ['unload', 'fresh-namespace'],
    });
  }
  const tlsDtor = info.imports.filter((s) => s === '__cxa_thread_atexit_impl' || s === '__cxa_thread_atexit');
  if (tlsDtor.length) {
    hazards.push({
      id: 'thread-local-dtor',
      severity: 'warn',
      message:
        'registers thread_local destructors: while any thread that touched them is alive, glibc keeps the library loaded. Join the threads (dlswap_fini) or avoid thread_local objects with destructors.',
      symbols: tlsDtor,
      affects: ['unload'],
    });
  }
  if (info.tls || info.staticTlsModel) {
    const size = info.tls ? `${info.tls.memsz} bytes of TLS per thread (align ${info.tls.align})` : 'no TLS of its own';
    if (info.staticTlsModel) {
      // The surplus this process started with (GLIBC_TUNABLES), which is what a load here gets.
      const tunables = rtldTunables();
      const surplus = staticTlsSurplus(tunables.nns, tunables.optionalStaticTls);
      const tooBig = info.tls !== null && info.tls.memsz > surplus;
      const fix = staticTlsTunables(info.tls?.memsz ?? 0, 'namespace');
      hazards.push({
        id: 'tls',
        severity: tooBig ? 'error' : 'warn',
        message: `${size}, initial-exec model (DF_STATIC_TLS): every loaded copy takes a block of the static TLS surplus (glibc.rtld.optional_static_tls, default ${DEFAULT_OPTIONAL_STATIC_TLS} bytes), in every mode, and glibc does not reliably reuse the blocks of closed generations, so reloads run out ("cannot allocate memory in static TLS block")${tooBig ? `; this one is larger than the whole surplus this process has (${surplus} bytes) and is refused on the first load (ERR_DLSWAP_STATIC_TLS)` : ''}. Build it with -ftls-model=global-dynamic, or start node with ${fix ?? 'more room in GLIBC_TUNABLES'}.`,
        affects: [...ISOLATION_MODES],
      });
    } else {
      hazards.push({
        id: 'tls',
        severity: 'info',
        message: `${size}, dynamic model: allocated per thread on first use, no static TLS. The namespace modes pay static TLS for each new namespace's own libc instead (fresh-namespace: one per generation).`,
        affects: ['fresh-namespace'],
      });
    }
  }
  return hazards;
}
