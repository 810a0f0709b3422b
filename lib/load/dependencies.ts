/**
 * A library's dependencies as dlswap sees them: which ones each generation gets a private copy of,
 * which are shared, and what retiring a generation did to each. The search and the copies are native
 * (native/loader/dependency_plan.cc, closure_copy.cc); what they mean to a user is decided here.
 * docs/isolation.md, "Private dependencies per generation".
 */
import type { NativeDependency } from '../native';

export type DependencyKind = 'private' | 'shared' | 'system' | 'missing';

/** One dependency of a loaded library (`lib.info.dependencies`) or of an inspected file. */
export interface DependencyInfo {
  /** The name a DT_NEEDED entry gives. */
  name: string;
  /**
   * `private`: copied with each generation under a name of its own (a system library too, when it
   * holds a process-wide registry the generation registers in); `shared`: listed in
   * `shareDependencies`, one object for every generation; `system`: in a system library directory,
   * one object for the process; `missing`: in no directory the loader searches.
   */
  kind: DependencyKind;
  /** Why it is of that kind, in words. */
  reason: string;
  /** Where the dynamic loader would find it on its own, as it would name it; null when missing. */
  path: string | null;
  /** realpath of `path`. */
  file: string | null;
  /** Which part of the search found it. */
  foundVia: 'RPATH' | 'RUNPATH' | 'LD_LIBRARY_PATH' | 'path' | 'system' | null;
  /** The RPATH/RUNPATH/LD_LIBRARY_PATH entry, as written ($ORIGIN kept). */
  searchEntry: string | null;
  /** A file of the requester's own RUNPATH that LD_LIBRARY_PATH hid (the loader takes LD_LIBRARY_PATH first). */
  shadowed: string | null;
  /** The dependency whose DT_NEEDED named it first; null when the library itself does. */
  requiredBy: string | null;
  soname: string | null;
  buildId: string | null;
  /** Linked with -z nodelete: its copies are never unmapped. */
  nodelete: boolean;
  /**
   * A system library copied per generation because it holds this process-wide registry, which the
   * library (or a private dependency) registers in ("gflags' flag registry"); null otherwise.
   * docs/isolation.md, "Process-wide registries".
   */
  registry: string | null;
  /** Names of its own dependencies. */
  needs: string[];
  /** A private dependency's copy in the private area (unlinked once mapped). */
  copy: string | null;
  /** The SONAME (or file name) the copy was given, unique in the process. */
  privateName: string | null;
  /** After a load: the file the dynamic loader bound it to. */
  boundTo?: string | null;
}

/** What a retirement did to one dependency image of the generation. */
export interface DependencyCloseResult {
  name: string;
  kind: 'private' | 'shared';
  /** The private copy, or the shared file. */
  file: string | null;
  unloaded: boolean;
  /** Why it is still mapped. */
  reason?: string;
}

/** The public form of the loader's plan (the index of the loaded image stays internal). */
export function dependencyInfos(deps: NativeDependency[]): DependencyInfo[] {
  return deps.map((d) => {
    const { image: _image, uniqueSymbols: _unique, ...info } = d;
    return Object.freeze({ ...info, needs: Object.freeze([...info.needs]) as string[] });
  });
}

/** Per loaded dependency image, whether the retirement unmapped it, and if not, why. */
export function dependencyCloseResults(deps: NativeDependency[], mapped: boolean[], keptMapped: boolean): DependencyCloseResult[] {
  const out: DependencyCloseResult[] = [];
  for (const d of deps) {
    if (d.image === null || (d.kind !== 'private' && d.kind !== 'shared')) continue;
    const still = mapped[d.image] ?? false;
    const r: DependencyCloseResult = { name: d.name, kind: d.kind, file: d.kind === 'private' ? d.copy : d.file, unloaded: !still };
    if (still) r.reason = stillMappedReason(d, keptMapped);
    out.push(r);
  }
  return out;
}

function stillMappedReason(d: NativeDependency, keptMapped: boolean): string {
  if (keptMapped) return 'the generation is kept mapped, and with it what it needs';
  if (d.kind === 'shared') return 'shared on purpose (shareDependencies): it stays while another library still uses it';
  if (d.nodelete) {
    return 'it is marked DF_1_NODELETE (linked with -z nodelete; a shipped OpenSSL is): each generation leaves its copy mapped, its size in memory and in the private area, for the life of the process';
  }
  if (d.uniqueSymbols > 0) return 'it defines STB_GNU_UNIQUE symbols, which glibc never unloads; build it with -fno-gnu-unique';
  return 'another loaded object still needs it';
}

const warned = new Set<string>();

/**
 * Never silent: a dependency that LD_LIBRARY_PATH takes from somewhere else than the library's own
 * RUNPATH is what the dynamic loader would load too, and dlswap copies that one; but it is not what
 * the library ships, so it is announced once per process with both files named.
 */
export function warnShadowed(library: string, deps: readonly DependencyInfo[]): void {
  for (const d of deps) {
    if (!d.shadowed || !d.path) continue;
    const key = `${d.path}\0${d.shadowed}`;
    if (warned.has(key)) continue;
    warned.add(key);
    process.emitWarning(
      `${library}: its dependency ${d.name} is loaded from ${d.path} (LD_LIBRARY_PATH), not from ${d.shadowed}, which its RUNPATH points to: LD_LIBRARY_PATH comes first for the dynamic loader. Unset LD_LIBRARY_PATH for node to load the one the library ships.`,
      { code: 'DLSWAP_DEPENDENCY_SHADOWED' },
    );
  }
}
