/**
 * What a shared library file says about itself, read without loading it (native/elf/elf_reader.cc).
 * Loading runs the library's constructors and can pin it or crash the process; this only reads bytes.
 */
import { addon } from '../native';

export interface ElfTls {
  /** Bytes of TLS per thread (the PT_TLS segment's memory size). */
  memsz: number;
  /** Bytes of initialised TLS data (.tdata). */
  filesz: number;
  align: number;
}

export interface ElfInfo {
  class: 32 | 64;
  endian: 'little' | 'big';
  /** e_machine (EM_X86_64 = 62, EM_AARCH64 = 183, ...). */
  machine: number;
  /** 'x86_64', 'aarch64', 'i386', 'arm', 'riscv64', ... or 'unknown-<n>'. */
  machineName: string;
  type: 'dyn' | 'exec' | 'rel' | 'core' | 'other';
  fileSize: number;
  soname: string | null;
  needed: string[];
  rpath: string | null;
  runpath: string | null;
  /** Lowercase hex of the NT_GNU_BUILD_ID note. */
  buildId: string | null;
  /** DT_FLAGS. */
  flags: number;
  /** DT_FLAGS_1. */
  flags1: number;
  /** DF_1_NODELETE: dlclose never unmaps it. */
  nodelete: boolean;
  /** DT_TEXTREL or DF_TEXTREL. */
  textrel: boolean;
  /** PT_GNU_STACK with PF_X (true), without (false); null when absent (executable on most arches). */
  execstack: boolean | null;
  /** PT_TLS, or null. */
  tls: ElfTls | null;
  /** DF_STATIC_TLS: initial-exec TLS, served from the static TLS surplus when dlopen'ed. */
  staticTlsModel: boolean;
  /**
   * Entries of DT_FINI_ARRAY. The compiler's own (__do_global_dtors_aux) is one: more than one means
   * destructors of the library's own (C++ static objects register theirs with __cxa_atexit instead).
   */
  finiArrayEntries: number;
  /** Defined dynamic symbols (global/weak/unique; default/protected visibility), deduplicated. */
  exports: string[];
  /** Undefined dynamic symbols, without version suffix, deduplicated. */
  imports: string[];
  /** The imports bound STB_WEAK: the loader leaves them null when nothing defines them. */
  weakImports: string[];
  /** Defined STB_GNU_UNIQUE symbols: they keep the library mapped after dlclose. */
  uniqueSymbols: string[];
  /** Symbols with R_*_COPY relocations (an executable's copies of library data, e.g. node's std::cerr). */
  copyRelocs: string[];
  /**
   * Symbols that constructor or destructor array entries are bound to by name (libuv's destructor is
   * `uv_library_shutdown`): each such entry calls whichever definition the dynamic loader finds first.
   */
  initFiniSymbols: string[];
  /**
   * Symbols it defines and still binds by relocation (its own calls through the PLT, its own data
   * through the GOT): the dynamic loader may bind those references to an earlier definition.
   */
  selfBoundSymbols: string[];
  /** Some table pointed outside the file (or over the size cap) and was skipped. */
  truncated: boolean;
}

/**
 * Reads an ELF file. Throws an Error with `code` ERR_DLSWAP_NOT_FOUND, _NOT_A_FILE, _ACCESS,
 * _EMPTY_FILE, _NOT_ELF or _BAD_ELF; the message names the path and what to do.
 */
export function readElf(path: string): ElfInfo {
  return addon.readElf(path);
}

/**
 * readElf on bytes already read: what is checked is exactly these bytes, whatever happens to the
 * file afterwards (the watcher hashes and checks the same buffer). `name` stands for the file in
 * messages. Same error codes as readElf.
 */
export function readElfBytes(bytes: Uint8Array, name: string): ElfInfo {
  return addon.readElfBytes(bytes, name);
}

let self: ElfInfo | undefined;

/**
 * The running node executable. It is ~100 MB with ~74,000 exports: read once per process.
 * /proc/self/exe names the binary actually running, whatever `process.execPath` says.
 */
export function selfElf(): ElfInfo {
  self ??= readElf('/proc/self/exe');
  return self;
}

// Beside readElf for its callers; what a library must match is decided with the rest of the verdict.
export { hostMachine } from './elf_verdict';

/**
 * Symbols that node's executable holds copy relocations for (std::cout, std::cerr, stdout, environ...).
 * A library opened with RTLD_DEEPBIND that uses one of these binds to its dependency's own, never
 * initialised, copy instead of node's: that is the DEEPBIND crash.
 */
export function nodeCopyRelocatedSymbols(): string[] {
  return selfElf().copyRelocs.slice();
}
