/**
 * Where each import of a library would be found: in its dependencies, in node's executable, in the
 * C/C++ runtime node links, or nowhere. The dependencies are the ones the load would find
 * (native/loader/dependency_plan.cc); nothing is loaded.
 */
import fs from 'node:fs';
import { readElf, type ElfInfo } from '../elf/elf';
import { addon } from '../native';
import { nodeCopyRelocs, nodeExports } from '../elf/node_symbols';
import type { DependencyKind } from '../load/dependencies';

// Libraries that are the C and C++ runtime: node links the same ones, so an import that node also
// exports (its copy of std::cout, a libstdc++ template instance) binds to what the library expects.
const RUNTIME_SONAME = /^(libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libstdc\+\+\.so|libgcc_s\.so|ld-linux|libresolv\.so|libutil\.so)/;

/** One library of the closure, read. */
export interface ClosureDependency {
  needed: string;
  realPath: string;
  exports: Set<string>;
  info: ElfInfo;
  /** What a load does with it: a private copy per generation, or one system object (lib/load/dependencies.ts). */
  kind: DependencyKind;
  /** The library or dependency whose DT_NEEDED named it first; null for the library itself. */
  requiredBy: string | null;
  /** Part of the C/C++ runtime node itself links (libc, libstdc++, ld.so...): the same objects in every mode. */
  runtime: boolean;
}

/** What `file` pulls in, found by the loader's own search. */
export interface Closure {
  deps: ClosureDependency[];
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
export function dependencyClosure(file: string): Closure {
  const plan = addon.planDependencies(file, [], true);
  const deps: ClosureDependency[] = [];
  const missing: string[] = [];
  for (const d of plan.dependencies) {
    const dep = d.file ? cachedElf(d.file) : null;
    if (!d.file || !dep) {
      missing.push(d.name);
      continue;
    }
    deps.push({
      needed: d.name,
      realPath: d.file,
      exports: new Set(dep.exports),
      info: dep,
      kind: d.kind,
      requiredBy: d.requiredBy,
      runtime: RUNTIME_SONAME.test(d.name),
    });
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

/** One of the C/C++ runtime libraries node links itself: shared with node in local and deepbind, and present in every namespace. */
export function isRuntime(d: ClosureDependency): boolean {
  return d.runtime || runtimeScope().paths.has(d.realPath);
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

export function symbolScope(info: ElfInfo, closure: Closure): SymbolScope {
  const node = nodeExports();
  const copies = nodeCopyRelocs();
  const rt = runtimeScope();
  const interposed = new Set<string>();
  const interposingDeps: string[] = [];
  for (const d of closure.deps) {
    if (isRuntime(d)) continue;
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
