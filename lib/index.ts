/**
 * The public API.
 *
 * Loading it loads the addon (so that a machine it does not fit hears so at once) and the error
 * type; every other module is loaded on its first use (lib/lazy.ts): the loader and the call
 * machinery on the first open(), the hot-reload machinery on the first HotLibrary, the analysis on
 * the first inspect(). bench/startup.mjs measures what `require('dlswap')` costs beside koffi, and
 * test/package/startup.test.ts holds the list of modules it loads.
 */
import './native';
import { lazyClass, lazyFunction, once } from './lazy';
import type * as LibraryModule from './load/library';
import type * as MappedImagesModule from './load/mapped_images';
import type * as FuncModule from './call/func';
import type * as SignatureModule from './signature/signature';
import type * as HotModule from './hot/hot_library';
import type * as HandleModule from './signature/handle';
import type * as NodeSymbolsModule from './elf/node_symbols';
import type * as ElfModule from './elf/elf';
import type * as InspectModule from './analysis/inspect';
import type * as DoctorModule from './analysis/doctor';
import type * as WatchModule from './watch/watch';
import type * as CtypesModule from './signature/ctypes';
import type * as CallbacksModule from './call/callbacks';
import type * as MemoryApiModule from './call/memory_api';
import type * as ContainmentModule from './containment';
import type { TypeDefs } from './signature/ctypes_types';
import type { AnyFunction } from './signature/prototype_types';

export { DlswapError, isDlswapError } from './errors';
export type { DlswapErrorCode } from './errors';
export { ISOLATION_MODES } from './isolation_modes';
export type { Isolation } from './isolation_modes';
export { FAULT_POINTS, RELOAD_FAULT_POINTS, HANDOVER_FAULT_POINTS, WATCH_FAULT_POINTS, injectFault, clearFaults } from './faults';
export type { FaultPoint, FaultAction } from './faults';

const library = once(() => require('./load/library') as typeof LibraryModule);
const mapped = once(() => require('./load/mapped_images') as typeof MappedImagesModule);
const funcs = once(() => require('./call/func') as typeof FuncModule);
const signature = once(() => require('./signature/signature') as typeof SignatureModule);
const hot = once(() => require('./hot/hot_library') as typeof HotModule);
const nodeSymbols = once(() => require('./elf/node_symbols') as typeof NodeSymbolsModule);
const elf = once(() => require('./elf/elf') as typeof ElfModule);
const analysis = once(() => require('./analysis/inspect') as typeof InspectModule);
const doctorModule = once(() => require('./analysis/doctor') as typeof DoctorModule);
const watch = once(() => require('./watch/watch') as typeof WatchModule);
const ctypes = once(() => require('./signature/ctypes') as typeof CtypesModule);
const callbacks = once(() => require('./call/callbacks') as typeof CallbacksModule);
const memory = once(() => require('./call/memory_api') as typeof MemoryApiModule);
const containment = once(() => require('./containment') as typeof ContainmentModule);

// ---- loading (docs/isolation.md) ------------------------------------------------------------------
export const open = lazyFunction('open', () => library().open);
export const openAsync = lazyFunction('openAsync', () => library().openAsync);
export const Library = lazyClass('Library', () => library().Library);
export type Library<D extends TypeDefs = {}> = LibraryModule.Library<D>;
export const namespaceBudget = lazyFunction('namespaceBudget', () => library().namespaceBudget);
export const rtldTunables = lazyFunction('rtldTunables', () => library().rtldTunables);
export type { OpenOptions, OpenAsyncOptions, LibraryInfo, CloseResult, HoldingThread, ElfSummary, NamespaceBudget, LibraryCloseOptions } from './load/library';
export type { DependencyInfo, DependencyKind, DependencyCloseResult } from './load/dependencies';
export type { RestoredHooks } from './load/process_hooks';

// ---- debugging (docs/debugging.md) ---------------------------------------------------------------
export const mappedImages = lazyFunction('mappedImages', () => mapped().mappedImages);
export const imageAt = lazyFunction('imageAt', () => mapped().imageAt);
export type { MappedImage } from './load/mapped_images';

// ---- calls (docs/calls.md) ------------------------------------------------------------------------
export const func = lazyFunction('func', () => funcs().func);
export const rebind = lazyFunction('rebind', () => funcs().rebind);
export const libraryOf = lazyFunction('libraryOf', () => funcs().libraryOf);
export const readCString = lazyFunction('readCString', () => funcs().readCString);
export type { BoundFunction, BoundFunctions, ErrnoFunction, ErrnoResult, FuncOptions, Prototype } from './call/func';
export const parsePrototype = lazyFunction('parsePrototype', () => signature().parsePrototype);
export const parseType = lazyFunction('parseType', () => signature().parseType);
export const signatureFromObject = lazyFunction('signatureFromObject', () => signature().signatureFromObject);
export type { Signature, TypeInfo, Param, Kind, SignatureObject } from './signature/signature';
export type { FunctionOf, FunctionOfObject, PointerArg, StringArg, Int64Arg, UnknownTypeName } from './signature/prototype_types';

// ---- hot reload (docs/hot-reload.md) -------------------------------------------------------------
export const HotLibrary = lazyClass('HotLibrary', () => hot().HotLibrary);
export const Handle = lazyClass('Handle', () => hot().Handle);
export type Handle<T extends string = string> = HandleModule.Handle<T>;
export type HotLibrary<
  F extends Record<string, string> = Record<string, string>,
  D extends TypeDefs = {},
  H extends HotModule.HandleDeclarations = {},
> = HotModule.HotLibrary<F, D, H>;
export type { HandleDeclarations, WithHandles } from './hot/hot_library';
export type {
  HotOptions,
  HotWatchOptions,
  HotFunctions,
  ReloadOptions,
  CloseOptions,
  ReloadReport,
  ReloadPhase,
  SwapPolicy,
  Lease,
  LogEvent,
  LogDroppedEvent,
  GenerationSetup,
  GenerationTeardown,
} from './hot/hot_library';
export type { HotLibraryEvents, HotWatchSkip, ReloadFailedSkip } from './hot/events';
export type { WatcherEvents } from './watch/watch';
export type { GenerationInfo, GenerationState } from './hot/generation';

// ---- analysis (docs/inspect.md, docs/doctor.md) --------------------------------------------------
export const inspect = lazyFunction('inspect', () => analysis().inspect);
export const deepbindHazards = lazyFunction('deepbindHazards', () => nodeSymbols().deepbindHazards);
export const nodeExportCollisions = lazyFunction('nodeExportCollisions', () => nodeSymbols().nodeExportCollisions);
export const nodeInterposedOwnCalls = lazyFunction('nodeInterposedOwnCalls', () => nodeSymbols().nodeInterposedOwnCalls);
export const nodeBoundInitFini = lazyFunction('nodeBoundInitFini', () => nodeSymbols().nodeBoundInitFini);
export type { InspectReport, Hazard, HazardId, Recommendation } from './analysis/inspect';
export const readElf = lazyFunction('readElf', () => elf().readElf);
export const readElfBytes = lazyFunction('readElfBytes', () => elf().readElfBytes);
export type { ElfInfo } from './elf/elf';
export const doctor = lazyFunction('doctor', () => doctorModule().doctor);
export type { DoctorReport } from './analysis/doctor';

// ---- watch (docs/watch.md) -----------------------------------------------------------------------
export const LibraryWatcher = lazyClass('LibraryWatcher', () => watch().LibraryWatcher);
export type LibraryWatcher = WatchModule.LibraryWatcher;
export type { WatchOptions, WatchChange, WatchSkip, WatchSkipReason } from './watch/watch';
export type { BuildStepOptions, BuildStart, BuildSuccess, BuildFailure } from './watch/rebuilder';

// ---- types, callbacks, memory (docs/types.md, docs/callbacks.md) ---------------------------------
export const types = lazyFunction('types', () => ctypes().types);
export const TypeRegistry = lazyClass('TypeRegistry', () => ctypes().TypeRegistry);
export type TypeRegistry<D extends TypeDefs = {}> = CtypesModule.TypeRegistry<D>;
export type { DefsOf } from './signature/ctypes';
export type { TypeDefs, CallbackOf, CallbackRef, Decoded, Encodable, Declared } from './signature/ctypes_types';
export type { CType, RecordCType, EnumCType, ArrayCType, PointerCType, FunctionCType, ScalarCType, Field } from './signature/ctype_model';
export const Callback = lazyClass('Callback', () => callbacks().Callback);
export type Callback<F = AnyFunction> = CallbacksModule.Callback<F>;
export const callbackStats = lazyFunction('callbackStats', () => callbacks().callbackStats);
export type { CallbackOptions, CallbackState } from './call/callbacks';
export const decode = lazyFunction('decode', () => memory().decode);
export const encode = lazyFunction('encode', () => memory().encode);
export const encodeToBuffer = lazyFunction('encodeToBuffer', () => memory().encodeToBuffer);
export const sizeof = lazyFunction('sizeof', () => memory().sizeof);
export const alignof = lazyFunction('alignof', () => memory().alignof);
export const offsetof = lazyFunction('offsetof', () => memory().offsetof);
export const addressOf = lazyFunction('addressOf', () => memory().addressOf);
export const readBytes = lazyFunction('readBytes', () => memory().readBytes);
export type { MemorySource } from './call/memory';

// ---- faults (docs/faults.md) ---------------------------------------------------------------------
export const faultHandlers = lazyFunction('faultHandlers', () => containment().faultHandlers);
export type { FaultInfo, FaultFrame, FaultError } from './containment';
export type { FaultPolicy } from './hot/fault_policy';
