/**
 * Where each import of a library would be found: in its dependencies, in node's executable, in the
 * C/C++ runtime node links, or nowhere. The dependencies are the ones the load would find
 * (native/loader/dependency_plan.cc); nothing is loaded.
 */
import fs from 'node:fs';
import { readElf, type ElfInfo } from '../elf/elf';
import { addon } from '../native';
import { nodeCopyRelocs, nodeExports } from '../elf/node_symbols';

// Libraries that are the C and C++ runtime: node links the same ones, so an import that node also
// exports (its copy of std::cout, a libstdc++ template instance) binds to what the library expects.
const RUNTIME_SONAME = /^(libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|ld-linux|libresolv\.so|libutil\.so)/;

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

export interface SymbolScope {
  /** Imports that node exports and a non-runtime dependency defines: bound to node's under local. */
  interposed: string[];
  interposingDeps: string[];
  /** Non-weak imports that only node's executable defines: unresolvable inside a namespace. */
  nodeOnly: string[];
  /** Non-weak imports nothing defines: every mode fails with "undefined symbol". */
  unresolved: string[];
  missingDeps: string[];
}

export function symbolScope(info: ElfInfo, file: string): SymbolScope {
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
