/**
 * Hazards of process-wide registries that outlive a generation: a library that registers names
 * (flags, types, solvers, quarks) in a dependency every generation shares registers them again with
 * each new generation, in a registry that still holds the old generation's. The list of registries
 * and what a load does about them are lib/load/registries.ts's; this says what it means for the
 * library inspected.
 */
import type { ElfInfo } from '../elf/elf';
import { list, type Hazard } from './hazard';
import type { Closure } from './symbol_scope';
import type { DependencyInfo } from '../load/dependencies';
import { registrations, registryOf, type ProcessRegistry } from '../load/registries';

interface Found {
  registry: ProcessRegistry;
  /** The registry's library (DT_NEEDED name). */
  dep: string;
  symbols: string[];
  /** Who registers: 'the library' or a dependency's name. */
  by: string[];
}

/**
 * Registrations of the images loaded anew with every generation (the library, its private
 * dependencies, and the system libraries a load copies) in registries of the system libraries they
 * would share. `planned`: the dependencies as a load plans them (registries copied).
 */
function findRegistrations(info: ElfInfo, closure: Closure, planned: readonly DependencyInfo[]): Found[] {
  const copied = new Set(planned.filter((d) => d.kind === 'private').map((d) => d.name));
  const registrants = [
    { name: 'the library', info },
    ...closure.deps.filter((d) => d.kind === 'private' || copied.has(d.needed)).map((d) => ({ name: d.needed, info: d.info })),
  ];
  const found: Found[] = [];
  for (const dep of closure.deps) {
    if (dep.kind === 'private') continue;
    const registry = registryOf(dep.info.soname ?? dep.needed);
    if (!registry) continue;
    const symbols = new Set<string>();
    const by: string[] = [];
    for (const r of registrants) {
      if (r.name === dep.needed || (registry.pointsIntoImage && r.info.nodelete)) continue;
      const hit = registrations(registry, r.info.imports).filter((s) => dep.exports.has(s));
      if (!hit.length) continue;
      for (const s of hit) symbols.add(s);
      by.push(r.name);
    }
    if (symbols.size) found.push({ registry, dep: dep.needed, symbols: [...symbols], by });
  }
  return found;
}

const MODES = 'local, deepbind and namespace (the modes where generations share system libraries)';

export function registryHazards(info: ElfInfo, closure: Closure, planned: readonly DependencyInfo[]): Hazard[] {
  const found = findRegistrations(info, closure, planned);
  if (!found.length) return [];
  const each = (f: Found): string => `${f.registry.what} in ${f.dep} (${f.by.join(', ')}: ${list(f.symbols, 3)})`;
  const kept = found.filter((f) => f.registry.pointsIntoImage);
  const copied = found.filter((f) => !f.registry.pointsIntoImage);
  const hazards: Hazard[] = [];
  if (copied.length) {
    const users = planned.filter((d) => d.kind === 'private' && d.registry === null && d.foundVia === 'system').map((d) => d.name);
    const nodelete = planned.filter((d) => d.kind === 'private' && d.foundVia === 'system' && d.nodelete).map((d) => d.name);
    hazards.push({
      id: 'shared-registry',
      severity: 'info',
      message:
        `registers in a process-wide registry of a system library: ${copied.map(each).join('; ')}. Shared by every generation, as it would be in ${MODES}, ` +
        `a second generation would register the same names again, where ${copied.map((f) => f.registry.second).join('; ')}. ` +
        `So a load gives each generation its own copy of ${list(
          copied.map((f) => f.dep),
          3,
        )}` +
        (users.length ? ` and of ${list(users, 3)}, which needs it` : '') +
        `, as of a private dependency: reloads work, and each generation maps its own copy` +
        (nodelete.length
          ? ` (${list(nodelete, 3)} ${nodelete.length === 1 ? 'is' : 'are'} linked -z nodelete: every copy stays mapped for the life of the process, its size per reload)`
          : '') +
        `. Listing it in shareDependencies brings the second registration back; fresh-namespace gives each generation its own copy of every dependency.`,
      symbols: copied.flatMap((f) => f.symbols),
      affects: ['local', 'deepbind', 'namespace'],
      from: copied.map((f) => f.dep),
    });
  }
  if (kept.length) {
    hazards.push({
      id: 'shared-registry',
      severity: 'warn',
      message:
        `registers pointers into its own image in a process-wide registry of a system library: ${kept.map(each).join('; ')}. ` +
        `${kept.map((f) => f.registry.second).join('; ')}. So in ${MODES} a retired generation stays mapped (close() says why), its size per reload; ` +
        `fresh-namespace gives each generation its own copy of the registry and can unmap it.`,
      symbols: kept.flatMap((f) => f.symbols),
      affects: ['local', 'deepbind', 'namespace'],
      from: kept.map((f) => f.dep),
    });
  }
  return hazards;
}
