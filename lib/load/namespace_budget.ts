/**
 * glibc's namespace budget as this process sees it: the namespaces fresh-namespace opens made, the
 * anchor namespace, and where a dlmopen last ran out. open() checks it before loading, and
 * `namespaceBudget()` reports it.
 *
 * Two limits, measured on glibc 2.36 (docs/isolation.md, "How many fresh namespaces"):
 * - at once: 15 namespaces besides the base one (DL_NNS), fewer if static TLS runs out first;
 * - in all: every new namespace's libc takes its static TLS (144 bytes on x86-64) from the surplus
 *   the rtld tunables size (1,664 bytes by default), and glibc gives it back only when the
 *   namespace freed was the last one allocated. A reload opens the new generation before it closes
 *   the old one, so under reloads nothing is ever given back: floor(surplus / 144) namespaces in the
 *   life of the process, 11 with the default tunables (the first open and 10 reloads; one fewer
 *   once isolation 'namespace' made its anchor), 145 with RECOMMENDED_TUNABLES.
 */
import { addon } from '../native';
import { rtldTunables, staticTlsSurplus } from './tunables';
import { MAX_CREATED_NAMESPACES } from '../wire';

/** lmid of the anchor namespace once a load made it (it lives as long as the process). */
let anchorLmid: number | null = null;

/** @internal A load in isolation 'namespace' made (or used) the anchor namespace. */
export function noteAnchor(lmid: number): void {
  anchorLmid = lmid;
}

/** @internal Namespaces besides the base one in use now: fresh-namespace opens and the anchor. */
export function liveNamespaces(): number {
  return addon.freshNamespaceCount() + (anchorLmid !== null ? 1 : 0);
}

/** What is left of glibc's namespace budget, as far as this process can tell. */
export interface NamespaceBudget {
  /** Live namespaces created by fresh-namespace opens. */
  freshNamespaces: number;
  /** Whether dlswap's shared anchor namespace exists (isolation 'namespace' creates it). */
  anchor: boolean;
  /** glibc's hard limit on namespaces besides the base one (DL_NNS - 1). */
  hardLimit: number;
  /** The rtld tunables in effect (from GLIBC_TUNABLES; glibc's defaults otherwise). */
  tunables: { nns: number; optionalStaticTls: number };
  /** Namespaces that were live when a dlmopen last failed for lack of static TLS, or null. */
  exhaustedAt: number | null;
  /** Namespaces dlswap has created in this process so far, the anchor included, freed or not. */
  created: number;
  /**
   * glibc's static TLS surplus for these tunables (bytes), and what each new namespace's libc takes
   * of it (its PT_TLS size).
   */
  staticTls: { surplus: number; perNamespace: number };
  /**
   * How many namespaces the static TLS allows this process to create in all when each is created
   * before the previous one is freed (every fresh-namespace reload): floor(surplus / perNamespace),
   * less what libraries with initial-exec TLS loaded since start took. Namespaces closed newest
   * first give their share back and do not count.
   */
  lifetimeLimit: number;
}

let exhaustedAt: number | null = null;
/** @internal */
export function noteExhausted(): void {
  exhaustedAt = liveNamespaces();
}

function staticTls(): { surplus: number; perNamespace: number; created: number; lifetimeLimit: number } {
  const { nns, optionalStaticTls } = rtldTunables();
  const surplus = staticTlsSurplus(nns, optionalStaticTls);
  const { created, libcStaticTls } = addon.namespacesCreated();
  const perNamespace = libcStaticTls || 144;
  return { surplus, perNamespace, created, lifetimeLimit: Math.floor(surplus / perNamespace) };
}

/** The budget now: what a process that opens many fresh namespaces has left. */
export function namespaceBudget(): NamespaceBudget {
  const tls = staticTls();
  return {
    freshNamespaces: addon.freshNamespaceCount(),
    anchor: anchorLmid !== null,
    hardLimit: MAX_CREATED_NAMESPACES,
    tunables: rtldTunables(),
    exhaustedAt,
    created: tls.created,
    staticTls: { surplus: tls.surplus, perNamespace: tls.perNamespace },
    lifetimeLimit: tls.lifetimeLimit,
  };
}

/**
 * @internal Why a fresh namespace could not be created for lack of static TLS, in numbers: what the
 * NAMESPACE_EXHAUSTED error of a fresh-namespace open says.
 */
export function staticTlsFigure(): string {
  const { surplus, perNamespace, created, lifetimeLimit } = staticTls();
  return (
    `This process has created ${created} namespace${created === 1 ? '' : 's'} (the anchor of isolation 'namespace' counts). ` +
    `Each new namespace's libc takes ${perNamespace} bytes of glibc's static TLS surplus, ${surplus} bytes with the tunables in effect, ` +
    `and glibc takes them back only when the namespace freed is the last one created, which under reloads (the new generation opened before the old one closes) it never is: ` +
    `so a process can create ${lifetimeLimit} that way in all (the first open and ${lifetimeLimit - 1} reloads), however many it closed. A generation closed before the next one is opened gives its share back.`
  );
}
