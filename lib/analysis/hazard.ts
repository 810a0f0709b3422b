/**
 * A hazard: one thing inspect predicts will go wrong, or cost something, in some isolation modes.
 * The families that find them are the hazards_*.ts files.
 */
import type { Isolation } from '../load/isolation';

export type HazardId =
  | 'wrong-arch'
  | 'not-shared-library'
  | 'missing-dependency'
  | 'unresolved-import'
  | 'needs-node-symbols'
  | 'gnu-unique'
  | 'nodelete'
  | 'thread-local-dtor'
  | 'tls'
  | 'copy-reloc-import'
  | 'node-export-collision'
  | 'node-import-interposition'
  | 'init-fini-node-binding'
  | 'pthread-key-destructors'
  | 'starts-threads'
  | 'private-dependencies'
  | 'textrel'
  | 'execstack'
  | 'threads-stopped-by-destructor'
  | 'loads-modules'
  | 'signal-handlers'
  | 'exit-handlers'
  | 'global-locale'
  | 'shared-registry';

/** The order of the report's hazards: the table of docs/inspect.md. */
export const HAZARD_ORDER: readonly HazardId[] = [
  'wrong-arch',
  'not-shared-library',
  'missing-dependency',
  'unresolved-import',
  'needs-node-symbols',
  'gnu-unique',
  'nodelete',
  'thread-local-dtor',
  'tls',
  'copy-reloc-import',
  'node-export-collision',
  'node-import-interposition',
  'init-fini-node-binding',
  'pthread-key-destructors',
  'starts-threads',
  'threads-stopped-by-destructor',
  'loads-modules',
  'shared-registry',
  'signal-handlers',
  'exit-handlers',
  'global-locale',
  'private-dependencies',
  'textrel',
  'execstack',
];

export type HazardSeverity = 'info' | 'warn' | 'error';

/** An isolation mode a hazard applies to, or 'unload' (dlclose will not unmap the library). */
export type HazardScope = Isolation | 'unload';

export interface Hazard {
  id: HazardId;
  /** How bad it is in the modes it affects: error = fails or crashes there, warn = works with a cost or a trap, info = worth knowing. */
  severity: HazardSeverity;
  message: string;
  /** The symbols involved, when the hazard is about symbols. */
  symbols?: string[];
  affects: HazardScope[];
  /**
   * The dependencies (DT_NEEDED names) it was found in, when it comes from the library's closure
   * rather than (or as well as) from the library itself. Absent for the library's own hazards.
   */
  from?: string[];
}

/** Up to `max` symbols of a message, and how many more there are. */
export function list(symbols: string[], max = 5): string {
  const shown = symbols.slice(0, max).join(', ');
  return symbols.length > max ? `${shown} and ${symbols.length - max} more` : shown;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
