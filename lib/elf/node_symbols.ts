/**
 * What node's own executable exports and copy-relocates, and what a library's symbols do against
 * them in each isolation mode. The load refuses a mode on these answers (lib/load/library.ts) and inspect
 * reports them as hazards; both read node's ELF once per process (selfElf).
 */
import { selfElf, type ElfInfo } from './elf';

// Symbols the static linker defines in every executable and shared object. Node exports them too, but
// each object's references to them are resolved at link time, so they never interpose.
const LINKER_SYMBOLS = new Set([
  '_edata',
  '_end',
  '__bss_start',
  '_init',
  '_fini',
  '__data_start',
  'data_start',
  '_IO_stdin_used',
  '__dso_handle',
  '__TMC_END__',
  '_DYNAMIC',
  '_GLOBAL_OFFSET_TABLE_',
  '__libc_csu_init',
  '__libc_csu_fini',
]);

// glibc exports some copy-relocated variables under several names that share one storage location:
// a library that reads `environ` is hit as much as one that reads `__environ`.
const GLIBC_ALIASES: Record<string, string[]> = {
  __environ: ['environ', '_environ'],
  __timezone: ['timezone'],
  __tzname: ['tzname'],
  __daylight: ['daylight'],
};

let nodeExportSet: Set<string> | undefined;
let copyRelocSet: Set<string> | undefined;

/** @internal What node's executable exports. */
export function nodeExports(): Set<string> {
  nodeExportSet ??= new Set(selfElf().exports);
  return nodeExportSet;
}

/** @internal What node's executable copy-relocates, with glibc's other names for the same storage. */
export function nodeCopyRelocs(): Set<string> {
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
