// ESM entry: re-exports the CommonJS build, so that ESM and CommonJS consumers share one instance
// of the addon and of dlswap's process-wide state (temp area, namespaces).
import { createRequire } from 'node:module';

const cjs = createRequire(import.meta.url)('../dist/index.js');

export default cjs;
export const {
  DlswapError,
  isDlswapError,
  open,
  Library,
  namespaceBudget,
  rtldTunables,
  ISOLATION_MODES,
  func,
  rebind,
  libraryOf,
  readCString,
  parsePrototype,
  parseType,
  signatureFromObject,
  HotLibrary,
  inspect,
  deepbindHazards,
  nodeExportCollisions,
  readElf,
  readElfBytes,
  doctor,
  LibraryWatcher,
  FAULT_POINTS,
  RELOAD_FAULT_POINTS,
  HANDOVER_FAULT_POINTS,
  WATCH_FAULT_POINTS,
  injectFault,
  clearFaults,
  types,
  TypeRegistry,
  Callback,
  callbackStats,
  decode,
  encode,
  encodeToBuffer,
  sizeof,
  alignof,
  offsetof,
  addressOf,
  readBytes,
} = cjs;
