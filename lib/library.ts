/**
 * `open(path, options)` and `Library`: one loaded image of a native library, in one isolation mode.
 *
 * The order of open is what makes bad input harmless: stat and open the source, copy it to a private
 * file, read the copy's ELF header (not the source's, which could change under us), check it against
 * the host and the mode, and only then hand it to the dynamic loader. Every failure path removes the
 * copy; a successful open removes it right after the mapping exists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DlswapError } from './errors';
import { readElf, type ElfInfo } from './elf';
import { deepbindHazards, nodeBoundInitFini } from './inspect';
import { checkIsolation, classifyLoadError, isNamespaceExhaustion, isolationCode, preloadedRuntime, type Isolation, TUNABLES_FIX } from './isolation';
import { addon, addonDir, type NativeLibrary } from './native';
import { copyToPrivate, removeCopy } from './temp_area';
import { faultPoint } from './faults';
import { rtldTunables } from './tunables';

export { rtldTunables };
import { func as makeFunc, type BoundFunction, type ErrnoFunction, type FuncOptions, type Prototype } from './func';
import type { AnyFunction, FunctionOf, FunctionOfObject } from './prototype_types';
import type { AnyCallback, CallbackOf, Decoded, Encodable, TypeDefs } from './ctypes_types';
import type { SignatureObject } from './signature';
// Types beyond scalars, callbacks and typed memory (docs/types.md, docs/callbacks.md).
import { attachTypes, typesOf, TypeRegistry } from './ctypes';
import { callbackSignatureOf, makeRegisteredCallback, ownedCallbacks, releaseOwnedCallbacks, type Callback, type CallbackOptions } from './callbacks';
import { allocIn, Allocations, decodeValue, encodeValue, type MemorySource } from './memory';

export interface OpenOptions<D extends TypeDefs = TypeDefs> {
  /** How the library is isolated from node and from other libraries. Default `'namespace'`. */
  isolation?: Isolation;
  /** Open in `deepbind` even when the library is known to crash there. */
  force?: boolean;
  /**
   * Require each open to get its own copies of the library's dependencies (only `fresh-namespace`
   * can honour this; other modes share a dependency already loaded under the same soname).
   */
  privateDependencies?: boolean;
  /** Refuse the file unless its content has this sha256 (hex). */
  sha256?: string;
  /**
   * The structs, unions, enums and typedefs its prototypes name (a registry made by `types()`):
   * `lib.func`, `lib.callback` and `lib.decode` resolve type names in it. docs/types.md.
   */
  types?: TypeRegistry<D>;
}

export interface LibraryInfo {
  /** The path given to open. */
  path: string;
  /** realpath of the source file. */
  realPath: string;
  /** The path the dynamic loader mapped (the private copy; it is unlinked once mapped). */
  mappedPath: string;
  /** Link-map namespace id: 0 for the base namespace (local, deepbind). */
  lmid: number;
  isolation: Isolation;
  /** GNU build-id, hex, or null when the library has none. */
  buildId: string | null;
  /** Size in bytes of the file that was loaded. */
  size: number;
  /** sha256 of the bytes that were loaded, hex. */
  sha256: string;
  soname: string | null;
  /** Dependencies that dlswap loaded from the source directory because of $ORIGIN in RUNPATH/RPATH. */
  originDependencies: string[];
}

/** A thread that keeps an image mapped (see docs/isolation.md, "Threads and unloading"). */
export interface HoldingThread {
  tid: number;
  /** The thread's name (/proc comm). */
  name: string;
  /** 'started by libx.so' (a thread the library started through dlswap's namespace runtime) or 'running its code'. */
  why: string;
}

export interface CloseResult {
  /** True when the image is gone from the process (no RTLD_NOLOAD hit, no mapping left). */
  unloaded: boolean;
  /** Why it is still mapped, when `unloaded` is false. */
  reason?: string;
  /** fresh-namespace only: whether glibc freed the namespace itself. */
  namespaceFreed?: boolean;
  /**
   * Set when threads kept the image mapped: dlclose was not called, because unmapping code a thread
   * runs or will return to crashes the process. dlswap looks again, with backoff, and closes the
   * image once they are gone.
   */
  threads?: HoldingThread[];
  /** With `threads`: settles with the final result once the image was closed after they exited. */
  unmapped?: Promise<CloseResult>;
}

let runtimeConfigured = false;
/** Tells the addon where the namespace runtime is (beside it); before the first namespace is made. */
function configureRuntime(): void {
  if (runtimeConfigured) return;
  addon.configureRuntime(path.join(addonDir(), 'libdlswap_runtime.so'));
  runtimeConfigured = true;
}

let anchorLmid: bigint | null = null;
function anchorNamespace(): bigint {
  if (anchorLmid === null) {
    configureRuntime();
    try {
      anchorLmid = addon.anchorNamespace();
    } catch (e) {
      const text = String((e as { dlerror?: string }).dlerror ?? (e as Error).message);
      if (isNamespaceExhaustion(text)) {
        throw new DlswapError('ERR_DLSWAP_NAMESPACE_EXHAUSTED', `cannot create dlswap's namespace: ${text}. Raise the budget with ${TUNABLES_FIX}.`);
      }
      throw new DlswapError('ERR_DLSWAP_LOAD_FAILED', `cannot create dlswap's namespace: ${text}. Rebuild dlswap (npm rebuild dlswap).`);
    }
  }
  return anchorLmid;
}

function openSource(file: string): { fd: number; realPath: string } {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DlswapError('ERR_DLSWAP_NOT_FOUND', `${file} does not exist. Check the path (relative paths resolve against ${process.cwd()}).`);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new DlswapError('ERR_DLSWAP_ACCESS', `${file} cannot be accessed (${code}). Check the permissions of the file and its directories.`);
    }
    throw new DlswapError('ERR_DLSWAP_NOT_FOUND', `cannot stat ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!st.isFile()) {
    throw new DlswapError('ERR_DLSWAP_NOT_A_FILE', `${file} is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; give the path of a shared library (.so).`);
  }
  if (st.size === 0) {
    throw new DlswapError('ERR_DLSWAP_EMPTY_FILE', `${file} is empty; it is not a shared library (a build that has not finished?).`);
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DlswapError('ERR_DLSWAP_ACCESS', `${file} cannot be read (${code}). Give this user read permission on it.`, { cause: e });
  }
  return { fd, realPath: fs.realpathSync(file) };
}

/** The ELF class and machine this process runs as (no need to read node's 100 MB binary for it). */
function hostMachine(): { class: number; machine: number; machineName: string } {
  if (process.arch === 'arm64') return { class: 64, machine: 183, machineName: 'aarch64' };
  return { class: 64, machine: 62, machineName: 'x86_64' };
}

function checkElf(elf: ElfInfo, file: string): void {
  const host = hostMachine();
  if (elf.truncated) {
    throw new DlswapError('ERR_DLSWAP_BAD_ELF', `${file} is truncated or corrupt: its tables point past the end of the file. Rebuild it.`);
  }
  if (elf.class !== host.class || elf.machine !== host.machine) {
    throw new DlswapError(
      'ERR_DLSWAP_WRONG_ARCH',
      `${file} is a ${elf.class}-bit ${elf.machineName} ELF; this process is ${host.class}-bit ${host.machineName}. Build the library for this machine.`,
    );
  }
  if (elf.type !== 'dyn') {
    throw new DlswapError('ERR_DLSWAP_BAD_ELF', `${file} is an ELF of type '${elf.type}', not a shared library; build it with -shared.`);
  }
}

/** Directories of RUNPATH/RPATH entries that use $ORIGIN, expanded against the source's directory. */
function originDirs(elf: ElfInfo, realPath: string): string[] {
  const origin = path.dirname(realPath);
  const list = [elf.runpath ?? elf.rpath ?? ''].join(':').split(':');
  return list
    .filter((d) => d.includes('$ORIGIN') || d.includes('${ORIGIN}'))
    .map((d) => path.resolve(d.replace(/\$\{ORIGIN\}|\$ORIGIN/g, origin)));
}

function fail(copy: string, e: unknown): never {
  removeCopy(copy);
  throw e;
}

/** Opens a library. Throws a `DlswapError` with a stable code on any bad input. */
export function open<D extends TypeDefs = {}>(file: string, options: OpenOptions<D> = {}): Library<D> {
  if (typeof file !== 'string' || file.length === 0) {
    throw new DlswapError('ERR_DLSWAP_ARG', 'open(path): path must be a non-empty string');
  }
  if (options === null || typeof options !== 'object') {
    throw new DlswapError('ERR_DLSWAP_ARG', 'open(path, options): options must be an object');
  }
  if (options.types !== undefined && !(options.types instanceof TypeRegistry)) {
    throw new DlswapError('ERR_DLSWAP_ARG', 'open(path, options): options.types must be a registry made by types() (see docs/types.md)');
  }
  const mode = checkIsolation(options.isolation);
  if (options.privateDependencies && mode !== 'fresh-namespace') {
    throw new DlswapError(
      'ERR_DLSWAP_MODE_UNSUPPORTED',
      `isolation '${mode}' cannot give each open its own dependencies: libraries loaded into one namespace share a dependency with the same soname. Use isolation 'fresh-namespace'.`,
    );
  }
  if (mode === 'deepbind' && preloadedRuntime()) {
    throw new DlswapError('ERR_DLSWAP_MODE_UNSUPPORTED', "isolation 'deepbind' does not work under AddressSanitizer or an LD_PRELOADed allocator; use 'namespace'.");
  }

  if (mode === 'fresh-namespace') {
    const live = addon.freshNamespaceCount() + (anchorLmid !== null ? 1 : 0);
    if (live >= 15) {
      throw new DlswapError(
        'ERR_DLSWAP_NAMESPACE_EXHAUSTED',
        `cannot open ${file} in a new namespace: ${live} namespaces are in use and glibc allows 15 besides the base one. Close libraries opened with 'fresh-namespace', or use isolation 'namespace'.`,
      );
    }
  }
  const { fd, realPath } = openSource(file);
  let copy;
  try {
    copy = copyToPrivate(file, fd);
  } finally {
    fs.closeSync(fd);
  }
  const copyPath = copy.path;
  try {
    faultPoint('after-copy');
  } catch (e) {
    fail(copyPath, e);
  }
  if (options.sha256 !== undefined && options.sha256.toLowerCase() !== copy.sha256) {
    fail(copyPath, new DlswapError('ERR_DLSWAP_INTEGRITY', `${file} has sha256 ${copy.sha256}, not the pinned ${options.sha256}; refusing to load it.`));
  }

  let elf: ElfInfo;
  try {
    elf = readElf(copyPath);
    checkElf(elf, file);
  } catch (e) {
    const err = e as DlswapError;
    if (typeof err.message === 'string') err.message = err.message.split(copyPath).join(file);
    fail(copyPath, err);
  }
  if (mode === 'deepbind' && !options.force) {
    const hazards = deepbindHazards(elf);
    if (hazards.length > 0) {
      fail(
        copyPath,
        new DlswapError(
          'ERR_DLSWAP_UNSAFE_MODE',
          `${file} imports ${hazards.join(', ')}, which node copy-relocates: under RTLD_DEEPBIND it binds to libstdc++'s uninitialised copy and crashes. Use isolation 'namespace' (or pass { force: true } to open it anyway).`,
        ),
      );
    }
  }

  if (mode === 'local' && !options.force) {
    const bound = nodeBoundInitFini(elf);
    if (bound.length > 0) {
      fail(
        copyPath,
        new DlswapError(
          'ERR_DLSWAP_UNSAFE_MODE',
          `${file} has constructor or destructor entries bound by name to ${bound.join(', ')}, which node exports: in isolation 'local' they would run node's function instead of the library's (libuv's would shut node's thread pool down when the library is closed). Use isolation 'namespace' (or 'deepbind'), or pass { force: true } to open it anyway.`,
        ),
      );
    }
  }

  // Dependencies found through $ORIGIN would be looked up next to the private copy; load them from
  // the source's directory first, into the same namespace, so that the soname match finds them.
  const deps: NativeLibrary[] = [];
  const originDependencies: string[] = [];
  if (mode === 'fresh-namespace') configureRuntime();
  let lmid: bigint = mode === 'namespace' ? anchorNamespace() : -1n;
  const code = isolationCode(mode);
  try {
    const dirs = originDirs(elf, realPath);
    for (const needed of dirs.length ? elf.needed : []) {
      const found = dirs.map((d) => path.join(d, needed)).find((p) => fs.existsSync(p));
      if (!found) continue;
      const dep = new addon.NativeLibrary(found, code, lmid);
      deps.push(dep);
      originDependencies.push(found);
      if (mode === 'fresh-namespace') lmid = dep.info().lmid;
    }
  } catch (e) {
    for (const d of deps.reverse()) d.close();
    fail(copyPath, loadError(e, file, copyPath, mode));
  }

  let native: NativeLibrary;
  try {
    native = new addon.NativeLibrary(copyPath, code, lmid);
  } catch (e) {
    for (const d of deps.reverse()) d.close();
    fail(copyPath, loadError(e, file, copyPath, mode));
  }
  // Mapped: the name stays in the link map and /proc/self/maps (as "(deleted)"), the file goes.
  removeCopy(copyPath);
  const ninfo = native.info();
  const info: LibraryInfo = Object.freeze({
    path: file,
    realPath,
    mappedPath: ninfo.mappedPath,
    lmid: Number(ninfo.lmid),
    isolation: mode,
    buildId: elf.buildId,
    size: copy.size,
    sha256: copy.sha256,
    soname: elf.soname,
    originDependencies,
  });
  const lib = new Library<D>(native, info, elf, deps);
  attachTypes(lib, options.types as TypeRegistry<TypeDefs> | undefined);
  return lib;
}

function loadError(e: unknown, file: string, copyPath: string, mode: Isolation): DlswapError {
  const text = String((e as { dlerror?: string }).dlerror ?? (e as Error).message);
  const err = classifyLoadError(text, file, copyPath, mode);
  if (err.code === 'ERR_DLSWAP_NAMESPACE_EXHAUSTED') noteExhausted();
  return err;
}


function mappedInProcess(file: string): boolean {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    return maps.split('\n').some((line) => {
      const i = line.indexOf('/');
      if (i < 0) return false;
      const p = line.slice(i).replace(/ \(deleted\)$/, '');
      return p === file;
    });
  } catch {
    return false;
  }
}

/** Why an image can stay mapped after dlclose, from what its ELF says. */
function pinReason(elf: ElfInfo): string {
  const reasons: string[] = [];
  if (elf.uniqueSymbols.length) {
    reasons.push(
      `it defines STB_GNU_UNIQUE symbols (${elf.uniqueSymbols.slice(0, 5).join(', ')}${elf.uniqueSymbols.length > 5 ? ', ...' : ''}), which glibc never unloads; build it with -fno-gnu-unique`,
    );
  }
  if (elf.nodelete) reasons.push('it is marked DF_1_NODELETE (linked with -z nodelete)');
  if (elf.imports.includes('__cxa_thread_atexit_impl')) {
    reasons.push('it registers thread_local destructors, which pin it while any thread that used them lives');
  }
  if (reasons.length === 0) reasons.push('another object still holds a reference to it (a dependency of something loaded, or a dlopen elsewhere)');
  return reasons.join('; ');
}

export class Library<D extends TypeDefs = {}> {
  readonly info: LibraryInfo;
  /** @internal */ readonly native: NativeLibrary;
  /** @internal */ readonly elf: ElfInfo;
  readonly #deps: NativeLibrary[];
  #closing: Promise<CloseResult> | null = null;
  #inFlight = 0;
  #idle: (() => void)[] = [];

  /** @internal use open() */
  constructor(native: NativeLibrary, info: LibraryInfo, elf: ElfInfo, deps: NativeLibrary[]) {
    this.native = native;
    this.info = info;
    this.elf = elf;
    this.#deps = deps;
  }

  /** True once close() has been called. */
  get closed(): boolean {
    return this.#closing !== null;
  }

  #requireOpen(): void {
    if (this.#closing) {
      throw new DlswapError('ERR_DLSWAP_CLOSED', `${this.info.path} is closed; open it again to use it.`);
    }
  }

  /** Address of an exported symbol. */
  symbol(name: string): bigint {
    this.#requireOpen();
    if (typeof name !== 'string' || name.length === 0) {
      throw new DlswapError('ERR_DLSWAP_ARG', 'symbol(name): name must be a non-empty string');
    }
    const addr = this.native.symbol(name);
    if (addr === undefined) {
      throw new DlswapError('ERR_DLSWAP_SYMBOL_NOT_FOUND', `symbol '${name}' not found in ${this.info.path}. Check the name (C++ names are mangled unless declared extern "C") and that it is exported.`);
    }
    return addr;
  }

  /** Frees memory the library allocated, with the allocator of the library's own namespace. */
  free(ptr: bigint | null): void {
    this.#requireOpen();
    if (ptr === null || ptr === 0n) return;
    if (typeof ptr !== 'bigint') throw new DlswapError('ERR_DLSWAP_ARG', 'free(ptr): ptr must be a bigint address');
    this.native.free(ptr);
    this.#allocations.remove(ptr);
  }

  // ---- types, callbacks and typed memory (lib/ctypes.ts, lib/callbacks.ts, lib/memory.ts) ----

  readonly #allocations = new Allocations();

  /** The type registry given to open(), if any. */
  get types(): TypeRegistry<D> | undefined {
    return typesOf(this) as TypeRegistry<D> | undefined;
  }

  /**
   * A callback C can keep: `lib.callback('int (*)(int)', fn)`, or with a typedef name or a prototype
   * as its type. Callable from any thread until `release()` or until this library closes (after its
   * async calls drained). docs/callbacks.md.
   */
  callback<const T extends string>(type: T, fn: CallbackOf<T, D>, options?: CallbackOptions): Callback<CallbackOf<T, D>>;
  callback(type: string, fn: AnyCallback, options?: CallbackOptions): Callback<AnyCallback>;
  callback(type: string, fn: AnyCallback, options: CallbackOptions = {}): Callback<AnyCallback> {
    this.#requireOpen();
    const registry = typesOf(this);
    const sig = callbackSignatureOf(type, registry?.scope, registry ? (t) => registry.type(t) : undefined);
    return makeRegisteredCallback(sig, fn as AnyFunction, options, ownedCallbacks(this), `of ${path.basename(this.info.path)}`, type);
  }

  /**
   * Zeroed memory from the library's own allocator (its namespace's libc), for `count` values of a C
   * type (`'struct frame'`) or `count` blocks of a size in bytes. Free it with `lib.free`. Decoding
   * and encoding inside it are bounds-checked.
   */
  alloc(typeOrSize: string | number, count?: number): bigint {
    this.#requireOpen();
    return allocIn(this.native, typesOf(this), typeOrSize, count, this.#allocations);
  }

  /** Reads a value of a C type at an address or in a buffer (see docs/types.md). */
  decode<const T extends string>(source: MemorySource, type: T): Decoded<T, D>;
  decode<const T extends string>(source: MemorySource, type: T, count: number): Decoded<T, D>[];
  decode(source: MemorySource, type: string, count?: number): unknown {
    return decodeValue(typesOf(this), source, type, count, this.#allocations);
  }

  /** Writes a value of a C type at an address or into a buffer (see docs/types.md). */
  encode<const T extends string>(target: MemorySource, type: T, value: Encodable<T, D>): void;
  encode(target: MemorySource, type: string, value: unknown): void {
    encodeValue(typesOf(this), target, type, value, this.#allocations);
  }

  /** fflush(NULL) in the library's own libc (its namespace's, in the namespace modes). */
  flush(): void {
    this.#requireOpen();
    this.native.flush();
  }

  /**
   * A JS function that calls the C function named by `prototype` (`'int add(int a, int b)'` or
   * `{ name, returns, args, variadic? }`), typed from the prototype. See docs/calls.md.
   */
  func<const P extends string>(prototype: P, options?: FuncOptions & { errno?: false }): BoundFunction<FunctionOf<P, D>>;
  func<const P extends string>(prototype: P, options: FuncOptions & { errno: true }): ErrnoFunction<FunctionOf<P, D>>;
  func<const O extends SignatureObject>(prototype: O, options?: FuncOptions & { errno?: false }): BoundFunction<FunctionOfObject<O, D>>;
  func<const O extends SignatureObject>(prototype: O, options: FuncOptions & { errno: true }): ErrnoFunction<FunctionOfObject<O, D>>;
  func(prototype: Prototype, options?: FuncOptions): BoundFunction<AnyFunction> | ErrnoFunction<AnyFunction>;
  func(prototype: Prototype, options?: FuncOptions): BoundFunction<AnyFunction> | ErrnoFunction<AnyFunction> {
    return makeFunc(this, prototype, options);
  }

  /** errno as the library's libc left it after the last call made on this thread. */
  errno(): number {
    return this.native.errno();
  }

  /** @internal counts an async call as a reference; close() waits for these. */
  trackAsync<T>(p: Promise<T>): Promise<T> {
    this.#inFlight++;
    const done = () => {
      if (--this.#inFlight === 0) for (const f of this.#idle.splice(0)) f();
    };
    return p.then(
      (v) => {
        done();
        return v;
      },
      (e) => {
        done();
        throw e;
      },
    );
  }

  /** Async calls in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves when no async call is in flight. */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  /**
   * Closes the library once its async calls have returned, then checks that the image is really
   * gone. Resolves `{ unloaded: true }` or `{ unloaded: false, reason }`. Idempotent.
   */
  close(): Promise<CloseResult> {
    if (!this.#closing) this.#closing = this.#close();
    return this.#closing;
  }

  async #close(): Promise<CloseResult> {
    await this.whenIdle();
    // Callbacks it owns: refused from now on, and waited for while one still runs (its caller
    // returns into this image's code).
    await releaseOwnedCallbacks(this);
    const threads = this.#holders();
    if (threads.length === 0) return this.closeNow();
    const unmapped = new Promise<CloseResult>((resolve) => this.#closeWhenReleased(resolve, 20));
    return { unloaded: false, reason: holdersReason(threads), threads, unmapped };
  }

  /** Threads that closing now could pull code from under: this image's and its $ORIGIN dependencies'. */
  #holders(): HoldingThread[] {
    const copy = path.basename(this.info.mappedPath);
    const mine = path.basename(this.info.path);
    const all = [this.native, ...this.#deps].flatMap((n) => n.holders());
    const seen = new Set<number>();
    return all
      .filter((t) => !seen.has(t.tid) && seen.add(t.tid))
      .map((t) => ({ ...t, why: t.why.split(copy).join(mine) }));
  }

  // Polls rather than waits on the threads: most holders are threads found running the code, which
  // nothing announces the end of. Unref'd, so a library pinned for good does not keep node alive.
  #closeWhenReleased(resolve: (r: CloseResult) => void, delayMs: number): void {
    setTimeout(() => {
      if (this.#holders().length > 0) this.#closeWhenReleased(resolve, Math.min(delayMs * 2, 2_000));
      else resolve(this.closeNow());
    }, delayMs).unref();
  }

  /** @internal synchronous close for callers that already know nothing is in flight or holding it. */
  closeNow(): CloseResult {
    const lmid = BigInt(this.info.lmid);
    const r = this.native.close();
    for (const d of this.#deps.slice().reverse()) d.close();
    const probeLmid = this.info.isolation === 'local' || this.info.isolation === 'deepbind' ? -1n : lmid;
    const still = addon.isLoaded(this.info.mappedPath, probeLmid) || mappedInProcess(this.info.mappedPath);
    const result: CloseResult = still ? { unloaded: false, reason: pinReason(this.elf) } : { unloaded: true };
    if (r.rc !== 0) result.reason = `dlclose failed: ${r.error}`;
    if (this.info.isolation === 'fresh-namespace') result.namespaceFreed = !addon.namespaceAlive(lmid);
    return result;
  }
}

function holdersReason(threads: HoldingThread[]): string {
  const list = threads.slice(0, 5).map((t) => `tid ${t.tid} '${t.name}' (${t.why})`).join(', ');
  const more = threads.length > 5 ? `, and ${threads.length - 5} more` : '';
  return `${threads.length} thread${threads.length === 1 ? ' is' : 's are'} still running or waiting in its code: ${list}${more}. It stays mapped and is closed once they have exited; stop them before closing (a plugin does it in dlswap_fini).`;
}

/** What is left of glibc's namespace budget, as far as this process can tell. */
export interface NamespaceBudget {
  /** Live namespaces created by fresh-namespace opens. */
  freshNamespaces: number;
  /** Whether dlswap's shared anchor namespace exists (isolation 'namespace' creates it). */
  anchor: boolean;
  /** glibc's hard limit on namespaces besides the base one (DL_NNS - 1). */
  hardLimit: number;
  /** The rtld tunables in effect (from GLIBC_TUNABLES; glibc's defaults otherwise). */
  tunables: { nns: number; optionalStaticTls: number };
  /** Namespaces that were live when a dlmopen last failed for lack of static TLS, or null. */
  exhaustedAt: number | null;
}

let exhaustedAt: number | null = null;
/** @internal */
export function noteExhausted(): void {
  exhaustedAt = addon.freshNamespaceCount() + (anchorLmid !== null ? 1 : 0);
}


export function namespaceBudget(): NamespaceBudget {
  return {
    freshNamespaces: addon.freshNamespaceCount(),
    anchor: anchorLmid !== null,
    hardLimit: 15,
    tunables: rtldTunables(),
    exhaustedAt,
  };
}
