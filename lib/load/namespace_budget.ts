/**
 * glibc's namespace budget as this process sees it: the namespaces fresh-namespace opens made, the
 * anchor namespace, and where a dlmopen last ran out. open() checks it before loading, and
 * `namespaceBudget()` reports it.
 */
import { addon } from '../native';
import { rtldTunables } from './tunables';
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
}

let exhaustedAt: number | null = null;
/** @internal */
export function noteExhausted(): void {
  exhaustedAt = liveNamespaces();
}

/** The budget now: what a process that opens many fresh namespaces has left. */
export function namespaceBudget(): NamespaceBudget {
  return {
    freshNamespaces: addon.freshNamespaceCount(),
    anchor: anchorLmid !== null,
    hardLimit: MAX_CREATED_NAMESPACES,
    tunables: rtldTunables(),
    exhaustedAt,
  };
}
