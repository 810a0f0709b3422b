/**
 * `inspect(path)`: what will happen when a library is opened in each isolation mode, predicted from
 * its ELF file alone (nothing is loaded). See docs/inspect.md for every field and for the reasoning
 * behind the recommendation.
 */
import fs from 'node:fs';
import { asDlswapError } from '../errors';
import { readElf, type ElfInfo } from '../elf/elf';
import { matchesHost } from '../elf/elf_verdict';
import { HAZARD_ORDER, list, type Hazard, type HazardId } from './hazard';
import { inheritedHazards, mergeHazards } from './hazards_closure';
import { dependencyHazards } from './hazards_dependencies';
import { isolationHazards, type IsolationFacts } from './hazards_isolation';
import { loadingHazards, mappingHazards } from './hazards_loading';
import { processHazards } from './hazards_process';
import { registryHazards } from './hazards_registry';
import { reloadHazards } from './hazards_reload';
import { threadHazards } from './hazards_threads';
import { ISOLATION_MODES, type Isolation } from '../load/isolation';
import { addon } from '../native';
import { dependencyInfos, type DependencyInfo } from '../load/dependencies';
import { resolveLibrary } from '../load/search';
import { registryRules } from '../load/registries';
import { nodeExports } from '../elf/node_symbols';
import { dependencyClosure, symbolScope, type Closure, type SymbolScope } from './symbol_scope';

export type { Hazard, HazardId, HazardScope, HazardSeverity } from './hazard';
// The predicates inspect reports with, public under this module's name.
export { deepbindHazards, nodeBoundInitFini, nodeExportCollisions, nodeInterposedOwnCalls } from '../elf/node_symbols';

export interface Recommendation {
  /** null when the file cannot be loaded by this process at all (see the error hazards). */
  isolation: Isolation | null;
  reason: string;
}

export interface InspectReport {
  schema: 1;
  path: string;
  realPath: string;
  size: number;
  class: 32 | 64;
  endian: 'little' | 'big';
  /** Machine name ('x86_64', 'aarch64', ...). */
  machine: string;
  /** e_machine. */
  machineCode: number;
  type: ElfInfo['type'];
  matchesHost: boolean;
  soname: string | null;
  needed: string[];
  rpath: string | null;
  runpath: string | null;
  buildId: string | null;
  /**
   * Its direct and indirect dependencies as a load would treat them: which get a private copy per
   * generation and why, which are system libraries or missing.
   */
  dependencies: DependencyInfo[];
  /** Number of exported (defined, visible) dynamic symbols. */
  exports: number;
  /** Number of imported (undefined) dynamic symbols. */
  imports: number;
  /** Some table of the file pointed outside it and was skipped: counts may be low. */
  truncated: boolean;
  hazards: Hazard[];
  recommendation: Recommendation;
}

// isolation.ts's preloadedRuntime() without libhwasan decides whether open() refuses deepbind;
// making the two one would change what one of them answers under HWASan, so both stay for now.
function preloadActive(): boolean {
  return /libasan|libtsan|libhwasan|jemalloc|tcmalloc|mimalloc/.test(process.env.LD_PRELOAD ?? '');
}

interface Facts extends IsolationFacts {
  loadable: boolean;
  /** Ids of the hazards that make every mode fail. */
  blockers: HazardId[];
  nodeOnly: string[];
}

/**
 * Every family's hazards, the library's own and those passed up from its dependencies, one per id in
 * the report's order (docs/inspect.md), and what the recommendation weighs.
 */
function collectHazards(info: ElfInfo, dependencies: DependencyInfo[], closure: Closure | null): { hazards: Hazard[]; facts: Facts } {
  // Symbol resolution only means something for a file this process could load.
  const scope: SymbolScope = closure ? symbolScope(info, closure) : { interposed: [], interposingDeps: [], nodeOnly: [], unresolved: [], missingDeps: [] };
  const isolation = isolationHazards(info, scope);
  const own = [
    ...loadingHazards(info, scope),
    ...reloadHazards(info),
    ...isolation.hazards,
    ...threadHazards(info),
    ...processHazards(info),
    ...(closure ? registryHazards(info, closure, dependencies) : []),
    ...dependencyHazards(dependencies),
    ...mappingHazards(info),
  ];
  const hazards = mergeHazards(own, closure ? inheritedHazards(closure) : []).sort((a, b) => HAZARD_ORDER.indexOf(a.id) - HAZARD_ORDER.indexOf(b.id));
  const blockers = hazards.filter((h) => h.severity === 'error' && ISOLATION_MODES.every((m) => h.affects.includes(m))).map((h) => h.id);
  return { hazards, facts: { ...isolation.facts, loadable: blockers.length === 0, blockers, nodeOnly: scope.nodeOnly } };
}

/**
 * Which mode to use (docs/inspect.md explains the order). `namespace`, dlswap's default, whenever it
 * can load the library; `fresh-namespace` instead when generations need their own private
 * dependencies and nothing pins a namespace; `local` or `deepbind` only for a library that needs
 * node's own symbols, which no namespace can see.
 */
function baseRecommendation(facts: Facts, hazards: Hazard[]): Recommendation {
  if (!facts.loadable) {
    return { isolation: null, reason: `no mode can load it in this process (${facts.blockers.join(', ')}); fix that first.` };
  }
  const interposed = [...facts.collisions, ...facts.interposed];
  if (facts.nodeOnly.length) {
    const needs = `it needs ${list(facts.nodeOnly, 3)} from node itself, which a namespace cannot see`;
    const localRefused = [...facts.initFiniNode, ...facts.ownCallsInterposed];
    if (localRefused.length) {
      if (facts.copyImports.length === 0 && !preloadActive()) {
        return {
          isolation: 'deepbind',
          reason: `${needs}, and under local its own references to ${list(localRefused, 3)} would run node's definitions; deepbind binds them to the library's own.`,
        };
      }
      return {
        isolation: null,
        reason: `${needs}, local would run node's ${list(localRefused, 3)} in place of its own, and deepbind is ruled out (${facts.copyImports.length ? `it imports ${list(facts.copyImports, 3)}` : 'LD_PRELOAD holds an allocator or sanitizer'}): no mode can serve it safely. Rebuild it with -Wl,-Bsymbolic.`,
      };
    }
    if (interposed.length === 0) {
      return { isolation: 'local', reason: `${needs}; node exports none of its other symbols, so local is safe.` };
    }
    if (facts.copyImports.length === 0 && !preloadActive()) {
      return {
        isolation: 'deepbind',
        reason: `${needs}, and under local node would interpose ${list(interposed, 3)}; deepbind binds the library to its own definitions first and still finds node's.`,
      };
    }
    return {
      isolation: 'local',
      reason: `${needs}, and deepbind is ruled out (${facts.copyImports.length ? `it imports ${list(facts.copyImports, 3)}` : 'LD_PRELOAD holds an allocator or sanitizer'}); under local node interposes ${list(interposed, 3)}: rebuild the library with -Wl,-Bsymbolic or hidden visibility.`,
    };
  }
  // What local would expose it to besides node's symbols: the hazards that affect local and not namespace.
  const localTraps = hazards.filter((h) => h.severity !== 'info' && h.affects.includes('local') && !h.affects.includes('namespace')).map((h) => h.id);
  const alternatives = facts.initFiniNode.length
    ? `under local its constructors or destructors would run node's ${list(facts.initFiniNode, 3)}`
    : facts.ownCallsInterposed.length
      ? `under local its own calls to ${list(facts.ownCallsInterposed, 3)} would run node's`
      : interposed.length > 0
        ? `under local node would interpose ${list(interposed, 3)}`
        : localTraps.length
          ? `node exports none of its symbols today, but under local it would meet ${list(localTraps, 4)} (see the hazards)`
          : "node exports none of its symbols today, so local would work too (and share node's heap)";
  return {
    isolation: 'namespace',
    reason: `the default: the library sees none of node's ~${Math.round(nodeExports().size / 1000)}k exports, whatever node version runs it; ${alternatives}. Memory it allocates must be freed by the library (lib.free).`,
  };
}

// The modes tried, in this order, when the first choice is ruled out by an error hazard.
const FALLBACKS: Isolation[] = ['namespace', 'fresh-namespace', 'deepbind', 'local'];

/**
 * The first choice (baseRecommendation), unless one of the hazards says the library fails or
 * crashes in that mode: then the first mode of FALLBACKS that no error hazard rules out (and that
 * the first choice's own reasoning allows: deepbind not when it is ruled out there, the namespaces
 * not for a library that needs node's symbols); `null` when none is left.
 */
function recommend(facts: Facts, hazards: Hazard[]): Recommendation {
  const first = baseRecommendation(facts, hazards);
  if (!first.isolation) return first;
  const against = (m: Isolation): Hazard[] => hazards.filter((h) => h.severity === 'error' && h.affects.includes(m));
  const ruledOut = against(first.isolation);
  if (!ruledOut.length) return first;
  const why = (hs: Hazard[]): string => hs.map((h) => h.id + (h.from?.length ? ` (from ${list(h.from, 2)})` : '')).join(', ');
  const allowed = (m: Isolation): boolean => {
    if (m === first.isolation) return false;
    if (facts.nodeOnly.length && (m === 'namespace' || m === 'fresh-namespace')) return false;
    if (m === 'deepbind' && (facts.copyImports.length > 0 || preloadActive())) return false;
    if (m === 'local' && (facts.initFiniNode.length > 0 || facts.ownCallsInterposed.length > 0)) return false;
    return against(m).length === 0;
  };
  const next = FALLBACKS.find(allowed);
  const not = `not ${first.isolation}: ${why(ruledOut)} (see the hazards)`;
  if (!next) {
    return {
      isolation: null,
      reason: `${not}, and every other mode is ruled out too (${FALLBACKS.filter((m) => m !== first.isolation)
        .map((m) => `${m}: ${why(against(m)) || 'see above'}`)
        .join('; ')}): no mode can serve it safely as it is.`,
    };
  }
  const cost =
    next === 'fresh-namespace'
      ? 'each generation gets its own namespace, with its own copy of every dependency; the process has room for about ten such namespaces at a time (docs/isolation.md)'
      : next === 'namespace'
        ? "the library sees none of node's exports"
        : "it shares node's namespace: check the hazards that affect it there";
  return { isolation: next, reason: `${not}; ${next} is the first mode that none of its hazards rules out: ${cost}.` };
}

/**
 * Reads the library at `file` (without loading it) and reports its properties and hazards. A name
 * without '/' (a soname such as 'libz.so.1') is searched for as open() searches for it.
 */
export function inspect(file: string): InspectReport {
  file = resolveLibrary(file);
  const info = readElf(file);
  let realPath: string;
  try {
    realPath = fs.realpathSync(file);
  } catch (e) {
    // Removed (or its directory changed) since it was read.
    throw asDlswapError(e, 'ERR_DLSWAP_NOT_FOUND', `${file} disappeared while it was being inspected`);
  }
  const sameArch = matchesHost(info);
  const dependencies = sameArch ? dependencyInfos(addon.planDependencies(file, [], false, registryRules()).dependencies) : [];
  const { hazards, facts } = collectHazards(info, dependencies, sameArch ? dependencyClosure(file) : null);
  return {
    schema: 1,
    path: file,
    realPath,
    size: info.fileSize,
    class: info.class,
    endian: info.endian,
    machine: info.machineName,
    machineCode: info.machine,
    type: info.type,
    matchesHost: sameArch,
    soname: info.soname,
    needed: info.needed,
    rpath: info.rpath,
    runpath: info.runpath,
    buildId: info.buildId,
    dependencies,
    exports: info.exports.length,
    imports: info.imports.length,
    truncated: info.truncated,
    hazards,
    recommendation: recommend(facts, hazards),
  };
}
