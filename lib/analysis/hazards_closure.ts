/**
 * Hazards passed up from the library's dependencies: what a dependency does (start threads, install
 * signal handlers, load modules, need static TLS...) happens when the library is loaded, so the
 * report names it for the library, with the dependency it comes from. The C/C++ runtime node links
 * itself (libc, libstdc++, ld.so...) is left out: it is the same objects in every mode.
 */
import type { ElfInfo } from '../elf/elf';
import { list, type Hazard, type HazardId, type HazardScope, type HazardSeverity } from './hazard';
import { isolationHazards } from './hazards_isolation';
import { mappingHazards } from './hazards_loading';
import { processHazards } from './hazards_process';
import { reloadHazards } from './hazards_reload';
import { threadHazards } from './hazards_threads';
import { isRuntime, type Closure, type SymbolScope } from './symbol_scope';

const NO_SCOPE: SymbolScope = { interposed: [], interposingDeps: [], nodeOnly: [], unresolved: [], missingDeps: [] };

// Hazards that keep an image mapped: for a dependency every generation shares (a system library),
// they keep that one object, not the generation; only fresh-namespace, where each generation loads
// its own copy and its namespace cannot be freed while it stays, pays per generation.
const PINS_ITS_OWN_IMAGE = new Set<HazardId>(['gnu-unique', 'nodelete', 'thread-local-dtor']);

/** What a dependency is reported for, from its ELF alone. */
function imageHazards(info: ElfInfo): Hazard[] {
  return [...reloadHazards(info), ...isolationHazards(info, NO_SCOPE).hazards, ...threadHazards(info), ...processHazards(info, true), ...mappingHazards(info)];
}

export interface InheritedHazard {
  dep: string;
  hazard: Hazard;
}

/** The hazards of every dependency of the closure but the C/C++ runtime, each with where it comes from. */
export function inheritedHazards(closure: Closure): InheritedHazard[] {
  const out: InheritedHazard[] = [];
  for (const d of closure.deps) {
    if (isRuntime(d)) continue;
    for (const h of imageHazards(d.info)) {
      // A private dependency linked -z nodelete is hazards_dependencies.ts's to report.
      if (d.kind === 'private' && h.id === 'nodelete') continue;
      let affects = h.affects;
      if (d.kind !== 'private' && PINS_ITS_OWN_IMAGE.has(h.id)) {
        affects = [...new Set<HazardScope>([...affects.filter((a) => a !== 'unload'), 'fresh-namespace'])];
      }
      out.push({ dep: d.needed, hazard: { ...h, affects } });
    }
  }
  return out;
}

const SEVERITY: HazardSeverity[] = ['info', 'warn', 'error'];

/** One hazard per id: the library's own, with what its dependencies add to it (symbols, modes, severity). */
export function mergeHazards(own: Hazard[], inherited: InheritedHazard[]): Hazard[] {
  const ids: HazardId[] = [];
  for (const h of [...own, ...inherited.map((i) => i.hazard)]) if (!ids.includes(h.id)) ids.push(h.id);
  return ids.map((id) => {
    const mine = own.filter((h) => h.id === id);
    const theirs = inherited.filter((i) => i.hazard.id === id);
    const all = [...mine, ...theirs.map((t) => t.hazard)];
    const worst = all.reduce((a, b) => (SEVERITY.indexOf(b.severity) > SEVERITY.indexOf(a.severity) ? b : a));
    const affects = [...new Set(all.flatMap((h) => h.affects))];
    const symbols = [...new Set(all.flatMap((h) => h.symbols ?? []))];
    const from = [...new Set([...mine.flatMap((h) => h.from ?? []), ...theirs.map((t) => t.dep)])];
    let message: string;
    if (mine.length) {
      message = mine.map((h) => h.message).join(' ');
      if (theirs.length) message += ` Its ${deps(theirs)} too${described(theirs)}.`;
    } else {
      // The words of the worst one, said of the dependency it comes from.
      const lead = theirs.find((t) => t.hazard === worst) ?? theirs[0];
      const others = theirs.filter((t) => t.dep !== lead.dep);
      message = `through its dependency ${lead.dep}: ${lead.hazard.message}${others.length ? ` The same from ${deps(others)}${described(others)}.` : ''}`;
    }
    const h: Hazard = { id, severity: worst.severity, message, affects };
    if (symbols.length) h.symbols = symbols;
    if (from.length) h.from = from;
    return h;
  });
}

function deps(list_: InheritedHazard[]): string {
  const names = [...new Set(list_.map((t) => t.dep))];
  return `${names.length === 1 ? 'dependency' : 'dependencies'} ${list(names, 4)}`;
}

function described(list_: InheritedHazard[]): string {
  const syms = [...new Set(list_.flatMap((t) => t.hazard.symbols ?? []))];
  return syms.length ? ` (${list(syms, 4)})` : '';
}
