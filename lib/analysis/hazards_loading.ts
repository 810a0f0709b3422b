/**
 * Hazards of whether the file loads in this process at all, in which modes, and what loading it
 * asks of the system: the ELF verdict (lib/elf/elf_verdict.ts), where its imports resolve
 * (lib/analysis/symbol_scope.ts), and the code pages it wants writable or executable.
 */
import type { ElfInfo } from '../elf/elf';
import { loadRefusals } from '../elf/elf_verdict';
import { list, plural, type Hazard, type HazardId, type HazardScope } from './hazard';
import { ISOLATION_MODES } from '../load/isolation';
import type { SymbolScope } from './symbol_scope';

/** What stops the file from loading: the verdict, then imports nothing or only node defines. */
export function loadingHazards(info: ElfInfo, scope: SymbolScope): Hazard[] {
  const hazards: Hazard[] = [];
  // A truncated table is the report's `truncated` field: the rest of the file is still reported on.
  for (const refusal of loadRefusals(info)) {
    if (refusal.id === 'wrong-arch') {
      const host = refusal.host;
      hazards.push({
        id: 'wrong-arch',
        severity: 'error',
        message: `a ${info.class}-bit ${info.machineName} file; this process is ${host.class}-bit ${host.machineName}, so no mode can load it. Build it for ${host.machineName}.`,
        affects: [...ISOLATION_MODES],
      });
    } else if (refusal.id === 'not-shared-library') {
      const what = refusal.pie ? 'a position-independent executable' : `an ELF of type '${info.type}'`;
      hazards.push({
        id: 'not-shared-library',
        severity: 'error',
        message: `${what}, not a shared library: dlopen refuses it. Link it with -shared.`,
        affects: [...ISOLATION_MODES],
      });
    }
  }

  // Each of these fails the load with the loader's own words, in the modes it affects.
  const unresolvable = (id: HazardId, symbols: string[], message: string, affects: HazardScope[]) =>
    hazards.push({ id, severity: 'error', message, symbols, affects });
  if (scope.unresolved.length) {
    unresolvable(
      'unresolved-import',
      scope.unresolved,
      `imports ${plural(scope.unresolved.length, 'symbol')} that neither its dependencies, nor node, nor the C/C++ runtime define (${list(scope.unresolved)}): loading fails with "undefined symbol" in every mode. Link the library that defines ${scope.unresolved.length === 1 ? 'it' : 'them'}.`,
      [...ISOLATION_MODES],
    );
  }
  if (scope.missingDeps.length) {
    unresolvable(
      'missing-dependency',
      scope.missingDeps,
      `needs ${list(scope.missingDeps)}, which is in none of the directories the loader searches (RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.conf, the defaults): loading fails with "cannot open shared object file". Install it or add its directory to the library's RUNPATH.`,
      [...ISOLATION_MODES],
    );
  }
  if (scope.nodeOnly.length) {
    unresolvable(
      'needs-node-symbols',
      scope.nodeOnly,
      `imports ${plural(scope.nodeOnly.length, 'symbol')} that only node's executable defines (${list(scope.nodeOnly)}): a namespace cannot see node's symbols, so loading fails there with "undefined symbol". Use local or deepbind, or link the library that defines them.`,
      ['namespace', 'fresh-namespace'],
    );
  }
  return hazards;
}

/** What mapping it asks of the loader that hardened systems refuse. */
export function mappingHazards(info: ElfInfo): Hazard[] {
  const hazards: Hazard[] = [];
  if (info.textrel) {
    hazards.push({
      id: 'textrel',
      severity: 'warn',
      message:
        'has text relocations: the loader must make its code writable, which hardened systems (SELinux, PaX) refuse, and each copy gets private code pages. Rebuild it with -fPIC.',
      affects: [...ISOLATION_MODES],
    });
  }
  const x86 = info.machineName === 'x86_64' || info.machineName === 'i386';
  if (info.execstack === true || (info.execstack === null && x86)) {
    hazards.push({
      id: 'execstack',
      severity: 'warn',
      message:
        info.execstack === true
          ? 'asks for an executable stack (PT_GNU_STACK with PF_X): loading it makes every thread stack of node executable, and hardened or newer glibc refuse it. Link it with -z noexecstack.'
          : 'has no PT_GNU_STACK header, which the loader treats as a request for an executable stack on x86. Link it with -z noexecstack.',
      affects: [...ISOLATION_MODES],
    });
  }
  return hazards;
}
