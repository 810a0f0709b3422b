/**
 * Hazards of what the library shares with node in each isolation mode: node's exports and copy
 * relocations that take over its symbols, and node's libc that holds its keys.
 */
import type { ElfInfo } from '../elf/elf';
import { list, plural, type Hazard } from './hazard';
import { deepbindHazards, nodeBoundInitFini, nodeExportCollisions, nodeInterposedOwnCalls } from '../elf/node_symbols';
import type { SymbolScope } from './symbol_scope';

const KEY_CREATORS = /^(__)?pthread_key_create$|^tss_create$/;

/** What the recommendation weighs besides the hazards (lib/analysis/inspect.ts). */
export interface IsolationFacts {
  /** Imports that break under deepbind. */
  copyImports: string[];
  /** Its exports that node also exports. */
  collisions: string[];
  /** Its own calls that node's exports would take over: 'local' is refused. */
  ownCallsInterposed: string[];
  /** Constructor/destructor entries bound to node's exports: 'local' is refused. */
  initFiniNode: string[];
  /** Imports a dependency defines that node's exports take over under 'local'. */
  interposed: string[];
}

export function isolationHazards(info: ElfInfo, scope: SymbolScope): { hazards: Hazard[]; facts: IsolationFacts } {
  const hazards: Hazard[] = [];
  const facts: IsolationFacts = {
    copyImports: deepbindHazards(info),
    collisions: nodeExportCollisions(info),
    ownCallsInterposed: nodeInterposedOwnCalls(info),
    initFiniNode: nodeBoundInitFini(info),
    interposed: scope.interposed,
  };
  if (facts.copyImports.length) {
    hazards.push({
      id: 'copy-reloc-import',
      severity: 'error',
      message: `imports ${list(facts.copyImports)}, which node copy-relocates: under RTLD_DEEPBIND the library binds to its dependency's own copy, which the process never initialised (it uses node's): std::cout and std::cerr segfault, environ reads NULL, tzname is stale. Use local or a namespace mode.`,
      symbols: facts.copyImports,
      affects: ['deepbind'],
    });
  }

  if (facts.collisions.length) {
    const own = facts.ownCallsInterposed;
    hazards.push({
      id: 'node-export-collision',
      severity: own.length ? 'error' : 'warn',
      message: own.length
        ? `calls ${plural(own.length, 'symbol')} of its own through the dynamic linker that node also exports (${list(own)}): under RTLD_LOCAL node's definitions come first in the lookup, so those calls would run node's code, another version of it; dlswap refuses 'local' for it. Use deepbind or a namespace mode, or build with -Wl,-Bsymbolic or hidden visibility.`
        : `exports ${plural(facts.collisions.length, 'symbol')} that node also exports (${list(facts.collisions)}): the library does not call them itself through the dynamic linker, but anything loaded after it in 'local' that looks them up gets node's. Use deepbind or a namespace mode, or build with hidden visibility.`,
      symbols: own.length ? own : facts.collisions,
      affects: ['local'],
    });
  }

  if (facts.initFiniNode.length) {
    hazards.push({
      id: 'init-fini-node-binding',
      severity: 'error',
      message: `has constructor or destructor entries bound by name to ${list(facts.initFiniNode)}, which node exports: under RTLD_LOCAL they would run node's function instead of the library's (libuv's destructor would shut node's thread pool down). dlswap refuses 'local' for it; use a namespace mode or deepbind.`,
      symbols: facts.initFiniNode,
      affects: ['local'],
    });
  }

  const keys = info.imports.filter((s) => KEY_CREATORS.test(s));
  if (keys.length) {
    hazards.push({
      id: 'pthread-key-destructors',
      severity: 'warn',
      message: `creates pthread keys (${list(keys)}): a key the library does not delete before it is unloaded keeps its destructor registered in node's libc, which calls it when a thread that set a value exits, in unmapped code. In the namespace modes dlswap's runtime withholds such destructors around every unload; in local and deepbind a generation that leaves such a key after its destructors ran is kept mapped for good (close() names the key): its size per reload.`,
      symbols: keys,
      affects: ['local', 'deepbind'],
    });
  }

  if (scope.interposed.length) {
    hazards.push({
      id: 'node-import-interposition',
      severity: 'warn',
      message: `imports ${plural(scope.interposed.length, 'symbol')} from ${scope.interposingDeps.join(', ')} that node also exports (${list(scope.interposed)}): under RTLD_LOCAL they bind to node's bundled copy, not to the version the library was linked against. Use deepbind or a namespace mode.`,
      symbols: scope.interposed,
      affects: ['local'],
    });
  }
  return { hazards, facts };
}
