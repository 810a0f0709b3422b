/**
 * `inspect(path)`: what will happen when a library is opened in each isolation mode, predicted from
 * its ELF file alone (nothing is loaded). See docs/inspect.md for every field and for the reasoning
 * behind the recommendation.
 */
import fs from 'node:fs';
import { asDlswapError } from './errors';
import path from 'node:path';
import { readElf, selfElf, type ElfInfo } from './elf';
import { loadRefusals, matchesHost } from './elf_verdict';
import type { Isolation } from './isolation';
import { addon } from './native';
import { dependencyInfos, type DependencyInfo } from './dependencies';
import { DEFAULT_OPTIONAL_STATIC_TLS, DEFAULT_STATIC_TLS_SURPLUS } from './tunables';

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
  | 'execstack';

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
}

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

const ALL_MODES: Isolation[] = ['local', 'deepbind', 'namespace', 'fresh-namespace'];

// Symbols the static linker defines in every executable and shared object. Node exports them too, but
// each object's references to them are resolved at link time, so they never interpose.
const LINKER_SYMBOLS = new Set([
  '_edata', '_end', '__bss_start', '_init', '_fini', '__data_start', 'data_start', '_IO_stdin_used',
  '__dso_handle', '__TMC_END__', '_DYNAMIC', '_GLOBAL_OFFSET_TABLE_', '__libc_csu_init', '__libc_csu_fini',
]);

// glibc exports some copy-relocated variables under several names that share one storage location:
// a library that reads `environ` is hit as much as one that reads `__environ`.
const GLIBC_ALIASES: Record<string, string[]> = {
  __environ: ['environ', '_environ'],
  __timezone: ['timezone'],
  __tzname: ['tzname'],
  __daylight: ['daylight'],
};

// Libraries that are the C and C++ runtime: node links the same ones, so an import that node also
// exports (its copy of std::cout, a libstdc++ template instance) binds to what the library expects.
const RUNTIME_SONAME = /^(libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|ld-linux|libresolv\.so|libutil\.so)/;

let nodeExportSet: Set<string> | undefined;
let copyRelocSet: Set<string> | undefined;

function nodeExports(): Set<string> {
  nodeExportSet ??= new Set(selfElf().exports);
  return nodeExportSet;
}

function nodeCopyRelocs(): Set<string> {
  if (!copyRelocSet) {
    const s = new Set<string>();
    for (const name of selfElf().copyRelocs) {
      s.add(name);
      for (const alias of GLIBC_ALIASES[name] ?? []) s.add(alias);
    }
    copyRelocSet = s;
  }
  return copyRelocSet;
}

// Copy-relocated symbols that are harmless under RTLD_DEEPBIND, measured inside node: constant data
// (vtables, VTTs, typeinfo, std::nothrow, in6addr_any) is identical in both copies, libc's own
// stdin/stdout/stderr variables keep their initial value, which is the same FILE as node's copy, and
// ld.so sets __libc_stack_end before node's copy is made. What does break is state written after
// startup through the GOT into node's copy only: the iostream objects that ios_base::Init constructs
// (segfault), environ (NULL), tzname/timezone (stale).
const DEEPBIND_BENIGN = new Set(['_ZSt7nothrow', 'in6addr_any', 'in6addr_loopback', 'stdin', 'stdout', 'stderr', '__libc_stack_end']);
const DEEPBIND_BENIGN_PREFIX = /^_ZT[VTIS]/;

/**
 * Imports of `info` that node copy-relocates and that misbehave under RTLD_DEEPBIND (std::cout,
 * std::cerr, environ, tzname, ...): the library binds them to its dependency's own storage, which
 * nothing initialised because the process uses node's copy. The loader refuses deepbind when this is
 * non-empty. Unknown copy-relocated symbols count as hazards.
 */
export function deepbindHazards(info: ElfInfo): string[] {
  const unsafe = new Set(deepbindUnsafeSymbols());
  return info.imports.filter((s) => unsafe.has(s));
}

let deepbindUnsafe: string[] | undefined;
/** Node's copy-relocated symbols (with glibc's aliases) that a library must not import under deepbind. */
export function deepbindUnsafeSymbols(): string[] {
  deepbindUnsafe ??= [...nodeCopyRelocs()].filter((s) => !DEEPBIND_BENIGN.has(s) && !DEEPBIND_BENIGN_PREFIX.test(s));
  return deepbindUnsafe;
}

/**
 * The library's own calls that node would take over in 'local': global symbols it defines and still
 * binds by relocation, under names node exports. The loader refuses 'local' when this is non-empty.
 */
export function nodeInterposedOwnCalls(info: ElfInfo): string[] {
  const node = nodeExports();
  const copies = nodeCopyRelocs();
  return info.selfBoundSymbols.filter((s) => node.has(s) && !LINKER_SYMBOLS.has(s) && !copies.has(s));
}

/** Exports of `info` that node also exports: under RTLD_LOCAL node's definition wins. */
export function nodeExportCollisions(info: ElfInfo): string[] {
  const node = nodeExports();
  const copies = nodeCopyRelocs();
  // A symbol node copy-relocates is meant to resolve to node's copy: that is how copy relocations work.
  return info.exports.filter((s) => node.has(s) && !LINKER_SYMBOLS.has(s) && !copies.has(s));
}

/**
 * Constructor and destructor entries of `info` bound by name to a symbol node exports. Under
 * RTLD_LOCAL the lookup finds node's definition first, so the entry runs node's code: libuv's
 * destructor is `uv_library_shutdown`, and closing libuv opened in 'local' destroyed node's own
 * thread pool. The loader refuses 'local' when this is non-empty.
 */
export function nodeBoundInitFini(info: ElfInfo): string[] {
  const node = nodeExports();
  return info.initFiniSymbols.filter((s) => node.has(s) && !LINKER_SYMBOLS.has(s));
}

const KEY_CREATORS = /^(__)?pthread_key_create$|^tss_create$/;
// Entry points that start a thread, directly or through the library's own thread pool.
const THREAD_STARTERS =
  /^(pthread_create|thrd_create|_ZNSt6thread15_M_start_thread.*|g_thread_(try_)?new|g_thread_pool_new|uv_thread_create(_ex)?|GOMP_parallel(_start)?|GOMP_teams.*)$/;


interface Dependency {
  needed: string;
  realPath: string;
  exports: Set<string>;
}

interface Closure {
  deps: Dependency[];
  /** needed names no directory had (the loader will fail on them too). */
  missing: string[];
  /** Every dependency was found and read: symbol availability can be decided. */
  complete: boolean;
}

const elfCache = new Map<string, { key: string; info: ElfInfo | null }>();

// Dependencies are system libraries shared by every inspected file: read each once per process
// (unless it changed on disk).
function cachedElf(realPath: string): ElfInfo | null {
  let key = '';
  try {
    const st = fs.statSync(realPath);
    key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
  const hit = elfCache.get(realPath);
  if (hit && hit.key === key) return hit.info;
  let info: ElfInfo | null = null;
  try {
    info = readElf(realPath);
  } catch {
    info = null;
  }
  elfCache.set(realPath, { key, info });
  return info;
}

/**
 * The libraries `file` pulls in, each once, found by the loader's own search (the same plan a load
 * makes: native/loader/dependency_plan.cc), with the exports of each.
 */
function dependencyClosure(file: string): Closure {
  const plan = addon.planDependencies(file, [], true);
  const deps: Dependency[] = [];
  const missing: string[] = [];
  for (const d of plan.dependencies) {
    const dep = d.file ? cachedElf(d.file) : null;
    if (!d.file || !dep) {
      missing.push(d.name);
      continue;
    }
    deps.push({ needed: d.name, realPath: d.file, exports: new Set(dep.exports) });
  }
  return { deps, missing, complete: missing.length === 0 && !plan.truncated };
}

let runtime: { paths: Set<string>; exports: Set<string> } | undefined;

/**
 * node's own dependencies (libc, libstdc++, libm, libgcc_s, ld.so): what every mode can resolve
 * against besides the library's dependencies. dlswap's anchor namespace puts its own copies of the
 * same libraries in its global scope, so this stands for that namespace's global scope too.
 */
function runtimeScope(): { paths: Set<string>; exports: Set<string> } {
  if (!runtime) {
    const c = dependencyClosure(fs.realpathSync('/proc/self/exe'));
    const exports = new Set<string>();
    for (const d of c.deps) for (const s of d.exports) exports.add(s);
    runtime = { paths: new Set(c.deps.map((d) => d.realPath)), exports };
  }
  return runtime;
}

interface SymbolScope {
  /** Imports that node exports and a non-runtime dependency defines: bound to node's under local. */
  interposed: string[];
  interposingDeps: string[];
  /** Non-weak imports that only node's executable defines: unresolvable inside a namespace. */
  nodeOnly: string[];
  /** Non-weak imports nothing defines: every mode fails with "undefined symbol". */
  unresolved: string[];
  missingDeps: string[];
}

function symbolScope(info: ElfInfo, file: string): SymbolScope {
  const node = nodeExports();
  const copies = nodeCopyRelocs();
  const closure = dependencyClosure(file);
  const rt = runtimeScope();
  const interposed = new Set<string>();
  const interposingDeps: string[] = [];
  for (const d of closure.deps) {
    if (rt.paths.has(d.realPath) || RUNTIME_SONAME.test(d.needed)) continue;
    const hit = info.imports.filter((s) => node.has(s) && !copies.has(s) && d.exports.has(s));
    if (hit.length) {
      interposingDeps.push(d.needed);
      for (const s of hit) interposed.add(s);
    }
  }
  const nodeOnly: string[] = [];
  const unresolved: string[] = [];
  if (closure.complete) {
    const weak = new Set(info.weakImports);
    const defined = (s: string): boolean => rt.exports.has(s) || closure.deps.some((d) => d.exports.has(s));
    for (const s of info.imports) {
      if (weak.has(s) || defined(s)) continue;
      if (node.has(s)) nodeOnly.push(s);
      else unresolved.push(s);
    }
  }
  return { interposed: [...interposed], interposingDeps, nodeOnly, unresolved, missingDeps: closure.missing };
}

function list(symbols: string[], max = 5): string {
  const shown = symbols.slice(0, max).join(', ');
  return symbols.length > max ? `${shown} and ${symbols.length - max} more` : shown;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function preloadActive(): boolean {
  return /libasan|libtsan|libhwasan|jemalloc|tcmalloc|mimalloc/.test(process.env.LD_PRELOAD ?? '');
}

interface Facts {
  loadable: boolean;
  /** Ids of the hazards that make every mode fail. */
  blockers: HazardId[];
  copyImports: string[];
  collisions: string[];
  interposed: string[];
  nodeOnly: string[];
  unresolved: string[];
  pins: string[];
  staticTls: boolean;
  /** Constructor/destructor entries bound to node's exports: 'local' is refused. */
  initFiniNode: string[];
  /** Its own calls that node's exports would take over: 'local' is refused. */
  ownCallsInterposed: string[];
}

function collectHazards(info: ElfInfo, file: string, dependencies: DependencyInfo[]): { hazards: Hazard[]; facts: Facts } {
  const hazards: Hazard[] = [];
  const facts: Facts = {
    loadable: true, blockers: [], copyImports: [], collisions: [], interposed: [], nodeOnly: [], unresolved: [], pins: [],
    staticTls: false, initFiniNode: [], ownCallsInterposed: [],
  };

  // A truncated table is the report's `truncated` field: the rest of the file is still reported on.
  for (const refusal of loadRefusals(info)) {
    if (refusal.id === 'wrong-arch') {
      const host = refusal.host;
      hazards.push({
        id: 'wrong-arch',
        severity: 'error',
        message: `a ${info.class}-bit ${info.machineName} file; this process is ${host.class}-bit ${host.machineName}, so no mode can load it. Build it for ${host.machineName}.`,
        affects: [...ALL_MODES],
      });
    } else if (refusal.id === 'not-shared-library') {
      const what = refusal.pie ? 'a position-independent executable' : `an ELF of type '${info.type}'`;
      hazards.push({
        id: 'not-shared-library',
        severity: 'error',
        message: `${what}, not a shared library: dlopen refuses it. Link it with -shared.`,
        affects: [...ALL_MODES],
      });
    }
  }
  const sameArch = matchesHost(info);

  // Symbol resolution only means something for a file this process could load.
  const scope: SymbolScope = sameArch
    ? symbolScope(info, file)
    : { interposed: [], interposingDeps: [], nodeOnly: [], unresolved: [], missingDeps: [] };
  facts.unresolved = scope.unresolved;
  if (scope.unresolved.length) {
    facts.loadable = false;
    hazards.push({
      id: 'unresolved-import',
      severity: 'error',
      message: `imports ${plural(scope.unresolved.length, 'symbol')} that neither its dependencies, nor node, nor the C/C++ runtime define (${list(scope.unresolved)}): loading fails with "undefined symbol" in every mode. Link the library that defines ${scope.unresolved.length === 1 ? 'it' : 'them'}.`,
      symbols: scope.unresolved,
      affects: [...ALL_MODES],
    });
  }
  if (scope.missingDeps.length) {
    hazards.push({
      id: 'missing-dependency',
      severity: 'error',
      message: `needs ${list(scope.missingDeps)}, which is in none of the directories the loader searches (RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.conf, the defaults): loading fails with "cannot open shared object file". Install it or add its directory to the library's RUNPATH.`,
      symbols: scope.missingDeps,
      affects: [...ALL_MODES],
    });
    facts.loadable = false;
  }
  facts.nodeOnly = scope.nodeOnly;
  if (scope.nodeOnly.length) {
    hazards.push({
      id: 'needs-node-symbols',
      severity: 'error',
      message: `imports ${plural(scope.nodeOnly.length, 'symbol')} that only node's executable defines (${list(scope.nodeOnly)}): a namespace cannot see node's symbols, so loading fails there with "undefined symbol". Use local or deepbind, or link the library that defines them.`,
      symbols: scope.nodeOnly,
      affects: ['namespace', 'fresh-namespace'],
    });
  }

  if (info.uniqueSymbols.length) {
    facts.pins.push('STB_GNU_UNIQUE symbols');
    hazards.push({
      id: 'gnu-unique',
      severity: 'warn',
      message: `defines ${plural(info.uniqueSymbols.length, 'STB_GNU_UNIQUE symbol')} (${list(info.uniqueSymbols, 3)}): glibc never unloads it, so a reload keeps the old image mapped and its static state alive. Build it with -fno-gnu-unique.`,
      symbols: info.uniqueSymbols.slice(),
      affects: ['unload', 'fresh-namespace'],
    });
  }
  if (info.nodelete) {
    facts.pins.push('DF_1_NODELETE');
    hazards.push({
      id: 'nodelete',
      severity: 'warn',
      message: 'marked DF_1_NODELETE (linked with -z nodelete): dlclose never unmaps it, so every reload leaves the old generation in memory.',
      affects: ['unload', 'fresh-namespace'],
    });
  }
  const tlsDtor = info.imports.filter((s) => s === '__cxa_thread_atexit_impl' || s === '__cxa_thread_atexit');
  if (tlsDtor.length) {
    hazards.push({
      id: 'thread-local-dtor',
      severity: 'warn',
      message: 'registers thread_local destructors: while any thread that touched them is alive, glibc keeps the library loaded. Join the threads (dlswap_fini) or avoid thread_local objects with destructors.',
      symbols: tlsDtor,
      affects: ['unload'],
    });
  }
  if (info.needed.some((n) => /^libstdc\+\+\.so/.test(n))) {
    // libstdc++ is NODELETE and has unique symbols: a namespace that loaded it is never freed.
    facts.pins.push('libstdc++ (a namespace that loads it is never freed)');
  }

  if (info.tls || info.staticTlsModel) {
    const size = info.tls ? `${info.tls.memsz} bytes of TLS per thread (align ${info.tls.align})` : 'no TLS of its own';
    if (info.staticTlsModel) {
      facts.staticTls = true;
      const tooBig = info.tls !== null && info.tls.memsz > DEFAULT_STATIC_TLS_SURPLUS;
      hazards.push({
        id: 'tls',
        severity: tooBig ? 'error' : 'warn',
        message: `${size}, initial-exec model (DF_STATIC_TLS): every loaded copy takes a block of the static TLS surplus (glibc.rtld.optional_static_tls, default ${DEFAULT_OPTIONAL_STATIC_TLS} bytes), in every mode, and glibc does not reliably reuse the blocks of closed generations, so reloads run out ("cannot allocate memory in static TLS block")${tooBig ? `; this one is larger than the whole default surplus (${DEFAULT_STATIC_TLS_SURPLUS} bytes) and fails on the first load` : ''}. Build it with -ftls-model=global-dynamic, or raise the tunable in GLIBC_TUNABLES before node starts.`,
        affects: [...ALL_MODES],
      });
    } else {
      hazards.push({
        id: 'tls',
        severity: 'info',
        message: `${size}, dynamic model: allocated per thread on first use, no static TLS. The namespace modes pay static TLS for each new namespace's own libc instead (fresh-namespace: one per generation).`,
        affects: ['fresh-namespace'],
      });
    }
  }

  facts.copyImports = deepbindHazards(info);
  if (facts.copyImports.length) {
    hazards.push({
      id: 'copy-reloc-import',
      severity: 'error',
      message: `imports ${list(facts.copyImports)}, which node copy-relocates: under RTLD_DEEPBIND the library binds to its dependency's own copy, which the process never initialised (it uses node's): std::cout and std::cerr segfault, environ reads NULL, tzname is stale. Use local or a namespace mode.`,
      symbols: facts.copyImports,
      affects: ['deepbind'],
    });
  }

  facts.collisions = nodeExportCollisions(info);
  facts.ownCallsInterposed = nodeInterposedOwnCalls(info);
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

  facts.initFiniNode = nodeBoundInitFini(info);
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
      message: `creates pthread keys (${list(keys)}): a key the library does not delete before it is unloaded keeps its destructor registered in node's libc, which calls it when a thread that set a value exits, in unmapped code. In the namespace modes dlswap's runtime withholds such destructors around every unload; in local and deepbind it cannot.`,
      symbols: keys,
      affects: ['local', 'deepbind'],
    });
  }

  const starters = info.imports.filter((s) => THREAD_STARTERS.test(s));
  if (starters.length) {
    hazards.push({
      id: 'starts-threads',
      severity: 'warn',
      message: `starts threads (${list(starters)}): close() and reloads keep the image mapped while a thread it started is alive or runs its code, and unmap it once they have exited; stop them before closing (a plugin does it in dlswap_fini). A pool that outlives the call that started it (libgomp) keeps its library mapped for good. The namespace modes see every thread the library starts; local and deepbind see only threads found blocked in its code.`,
      symbols: starters,
      affects: ['unload'],
    });
  }

  facts.interposed = scope.interposed;
  if (scope.interposed.length) {
    hazards.push({
      id: 'node-import-interposition',
      severity: 'warn',
      message: `imports ${plural(scope.interposed.length, 'symbol')} from ${scope.interposingDeps.join(', ')} that node also exports (${list(scope.interposed)}): under RTLD_LOCAL they bind to node's bundled copy, not to the version the library was linked against. Use deepbind or a namespace mode.`,
      symbols: scope.interposed,
      affects: ['local'],
    });
  }

  const copied = dependencies.filter((d) => d.kind === 'private');
  if (copied.length) {
    const names = copied.map((d) => d.name);
    hazards.push({
      id: 'private-dependencies',
      severity: 'info',
      message: `ships ${plural(copied.length, 'dependency')} outside the system library directories (${list(names)}): each open copies ${copied.length === 1 ? 'it' : 'them'} with the library, under a new SONAME, so that every generation runs with its own. \`dependencies\` says where each was found; list one in shareDependencies to share it instead.`,
      symbols: names,
      affects: [],
    });
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

  if (info.textrel) {
    hazards.push({
      id: 'textrel',
      severity: 'warn',
      message: 'has text relocations: the loader must make its code writable, which hardened systems (SELinux, PaX) refuse, and each copy gets private code pages. Rebuild it with -fPIC.',
      affects: [...ALL_MODES],
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
      affects: [...ALL_MODES],
    });
  }
  facts.blockers = hazards.filter((h) => h.severity === 'error' && ALL_MODES.every((m) => h.affects.includes(m))).map((h) => h.id);
  facts.loadable = facts.blockers.length === 0;
  return { hazards, facts };
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

/** Reads the library at `file` (without loading it) and reports its properties and hazards. */
export function inspect(file: string): InspectReport {
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
