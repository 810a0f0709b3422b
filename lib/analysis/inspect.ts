/**
 * `inspect(path)`: what will happen when a library is opened in each isolation mode, predicted from
 * its ELF file alone (nothing is loaded). See docs/inspect.md for every field and for the reasoning
 * behind the recommendation.
 */
import fs from 'node:fs';
import { asDlswapError } from '../errors';
import { readElf, type ElfInfo } from '../elf/elf';
import { matchesHost } from '../elf/elf_verdict';
import { list, type Hazard, type HazardId } from './hazard';
import { dependencyHazards } from './hazards_dependencies';
import { isolationHazards, type IsolationFacts } from './hazards_isolation';
import { loadingHazards, mappingHazards } from './hazards_loading';
import { reloadHazards } from './hazards_reload';
import { ISOLATION_MODES, type Isolation } from '../load/isolation';
import { addon } from '../native';
import { dependencyInfos, type DependencyInfo } from '../load/dependencies';
import { resolveLibrary } from '../load/search';
import { nodeExports } from '../elf/node_symbols';
import { symbolScope, type SymbolScope } from './symbol_scope';

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

/** Every family's hazards, in the report's order, and what the recommendation weighs. */
function collectHazards(info: ElfInfo, file: string, dependencies: DependencyInfo[]): { hazards: Hazard[]; facts: Facts } {
  // Symbol resolution only means something for a file this process could load.
  const scope: SymbolScope = matchesHost(info)
    ? symbolScope(info, file)
    : { interposed: [], interposingDeps: [], nodeOnly: [], unresolved: [], missingDeps: [] };
  const isolation = isolationHazards(info, scope);
  const hazards = [
    ...loadingHazards(info, scope),
    ...reloadHazards(info),
    ...isolation.hazards,
    ...dependencyHazards(dependencies),
    ...mappingHazards(info),
  ];
  const blockers = hazards.filter((h) => h.severity === 'error' && ISOLATION_MODES.every((m) => h.affects.includes(m))).map((h) => h.id);
  return { hazards, facts: { ...isolation.facts, loadable: blockers.length === 0, blockers, nodeOnly: scope.nodeOnly } };
}

/**
 * Which mode to use (docs/inspect.md explains the order). `namespace`, dlswap's default, whenever it
 * can load the library; `fresh-namespace` instead when generations need their own private
 * dependencies and nothing pins a namespace; `local` or `deepbind` only for a library that needs
 * node's own symbols, which no namespace can see.
 */
function recommend(facts: Facts): Recommendation {
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
  const alternatives = facts.initFiniNode.length
    ? `under local its constructors or destructors would run node's ${list(facts.initFiniNode, 3)}`
    : facts.ownCallsInterposed.length
      ? `under local its own calls to ${list(facts.ownCallsInterposed, 3)} would run node's`
    : interposed.length === 0
      ? 'node exports none of its symbols today, so local would work too (and share node\'s heap)'
      : `under local node would interpose ${list(interposed, 3)}`;
  return {
    isolation: 'namespace',
    reason: `the default: the library sees none of node's ~${Math.round(nodeExports().size / 1000)}k exports, whatever node version runs it; ${alternatives}. Memory it allocates must be freed by the library (lib.free).`,
  };
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
  const dependencies = sameArch ? dependencyInfos(addon.planDependencies(file, [], false).dependencies) : [];
  const { hazards, facts } = collectHazards(info, file, dependencies);
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
    recommendation: recommend(facts),
  };
}
