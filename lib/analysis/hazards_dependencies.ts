/**
 * Hazards of the dependencies a library ships: each generation gets its own copy of them
 * (native/loader/dependency_plan.cc), and a copy that cannot be unloaded stays with every reload.
 */
import type { DependencyInfo } from '../load/dependencies';
import { list, plural, type Hazard } from './hazard';

export function dependencyHazards(dependencies: DependencyInfo[]): Hazard[] {
  const hazards: Hazard[] = [];
  const copied = dependencies.filter((d) => d.kind === 'private');
  // System libraries copied for a registry are hazards_registry.ts's to explain.
  const shipped = copied.filter((d) => d.foundVia !== 'system');
  if (shipped.length) {
    const names = shipped.map((d) => d.name);
    hazards.push({
      id: 'private-dependencies',
      severity: 'info',
      message: `ships ${plural(shipped.length, 'dependency')} outside the system library directories (${list(names)}): each open copies ${shipped.length === 1 ? 'it' : 'them'} with the library, under a new SONAME, so that every generation runs with its own. \`dependencies\` says where each was found; list one in shareDependencies to share it instead.`,
      symbols: names,
      affects: [],
    });
  }
  if (copied.length) {
    const pinned = copied.filter((d) => d.nodelete).map((d) => d.name);
    if (pinned.length) {
      hazards.push({
        id: 'nodelete',
        severity: 'warn',
        message: `its private ${list(pinned)} ${pinned.length === 1 ? 'is' : 'are'} marked DF_1_NODELETE: every generation's copy stays mapped after the generation is closed, its size in memory and in the private area for each reload.`,
        symbols: pinned,
        affects: ['unload'],
      });
    }
  }
  return hazards;
}
