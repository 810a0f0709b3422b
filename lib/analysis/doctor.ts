/**
 * `doctor()`: what this machine and this process allow dlswap to do — glibc, the rtld tunables,
 * node's copy relocations, the temp area, the addon build, and the namespace capacity measured in a
 * child process.
 *
 * It must work when the addon itself does not load (that is one of the things it diagnoses), so
 * everything that needs the addon is loaded lazily and its failure becomes part of the report.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ElfInfo } from '../elf/elf';
import type { Addon } from '../native';
import { checkTempDir, type TempDirCheck } from './doctor_temp_dir';
import { findProbeLibrary, probeInChild, probeRuntimeInChild } from './doctor_probes';
import { BUILD_COMMAND, damagedPrebuildError, packageRoot, prebuildDamage, runtimeGlibc } from '../platform';
import { parseTunables, RECOMMENDED_TUNABLES, rtldTunables, staticTlsSurplus } from '../load/tunables';
import { MAX_CREATED_NAMESPACES } from '../wire';

export type CheckStatus = 'ok' | 'info' | 'warn' | 'error';

export interface DoctorCheck {
  id: 'glibc' | 'addon' | 'temp-dir' | 'namespaces' | 'static-tls' | 'copy-relocations' | 'namespace-runtime';
  status: CheckStatus;
  message: string;
}

export interface DoctorReport {
  schema: 1;
  node: { version: string; execPath: string; arch: string; napiVersion: number | null };
  glibc: { version: string | null };
  /** GLIBC_TUNABLES as this process was started with (glibc reads it once, at startup). */
  tunables: {
    raw: string | null;
    values: Record<string, string>;
    /** glibc.rtld.nns in effect (default 4). */
    nns: number;
    /** glibc.rtld.optional_static_tls in effect (default 512). */
    optionalStaticTls: number;
  };
  copyRelocations: { count: number; symbols: string[]; deepbindUnsafe: string[] } | null;
  tempDir: TempDirCheck;
  addon: {
    loaded: boolean;
    path: string | null;
    /** The Node-API version the addon was built for. */
    napiVersion: number | null;
    asan: boolean | null;
    buildId: string | null;
    error: string | null;
  };
  staticTls: {
    nns: number;
    optionalStaticTls: number;
    /** glibc's static TLS surplus, computed with glibc's formula from the two tunables. */
    surplusEstimate: number;
    /** Static TLS one namespace's libc takes (its PT_TLS, rounded to its alignment). */
    libcTlsBlock: number | null;
    /** How many dlmopen namespaces the surplus covers (glibc's hard limit is 15). */
    estimatedNamespaces: number | null;
  };
  namespaces: {
    probed: boolean;
    library: string | null;
    max: number;
    /** Namespaces a fresh process could create (measured in a child process). */
    opened: number | null;
    error: string | null;
    limitedBy: 'static-tls' | 'namespace-limit' | 'other' | null;
    ms: number | null;
  };
  /**
   * The namespace runtime (docs/isolation.md): the first object of every namespace dlswap makes,
   * which shares pthread keys, thread creation and thread_local destructors with node's libc.
   */
  runtime: {
    library: string | null;
    /** libc functions it replaces inside a namespace (forwarded to node's libc). */
    forwards: string[];
    /** Measured in a child: a key created in a namespace comes from node's key table. */
    keysFromNodeTable: boolean | null;
    /** Measured in a child: isalpha() works on a libuv pool thread inside a namespace. */
    ctypeOnPoolThreads: boolean | null;
    error: string | null;
  };
  checks: DoctorCheck[];
}

export interface DoctorOptions {
  /** Run the namespace probe in a child process (default true). */
  probe?: boolean;
  /** How many namespaces the probe tries (default 32: above glibc's limit of 15, so it finds it). */
  probeMax?: number;
  /** Library the probe dlmopen's: a plain C library (default: the basic fixture, else libz). */
  probeLibrary?: string;
  probeTimeoutMs?: number;
}

/** The libc this process runs on, from /proc/self/maps. */
function mappedLibc(): string | null {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const m = /\s(\/\S*\/libc\.so\.6)\s*$/m.exec(maps) ?? /\s(\/\S*\/libc[-.][^\s/]*\.so[^\s/]*)\s*$/m.exec(maps);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

interface AddonModules {
  addon: Addon;
  addonPath: string;
  readElf: (p: string) => ElfInfo;
}

async function loadAddon(): Promise<{ mods: AddonModules | null; error: string | null }> {
  // A damaged prebuild is never mapped here (a wrong byte can crash the process that maps it):
  // doctor hashes it first, which require('dlswap') does only after a failed load.
  const prebuild = path.join(packageRoot, 'prebuilds', `linux-${process.arch}`);
  const damage =
    process.env.DLSWAP_ADDON_DIR || fs.existsSync(path.join(packageRoot, 'build', 'Release', 'dlswap.node')) ? null : prebuildDamage(prebuild, true);
  if (damage !== null) return { mods: null, error: damagedPrebuildError(damage).message };
  try {
    const native = await import('../native');
    const elf = await import('../elf/elf');
    return {
      mods: { addon: native.addon, addonPath: native.addonFile(), readElf: elf.readElf },
      error: null,
    };
  } catch (e) {
    return { mods: null, error: (e as Error).message };
  }
}

export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const napi = Number(process.versions.napi);
  const rawTunables = process.env.GLIBC_TUNABLES ?? null;
  const values = parseTunables(rawTunables ?? undefined);
  const { nns, optionalStaticTls } = rtldTunables(rawTunables ?? undefined);

  const glibc = runtimeGlibc();
  checks.push(
    glibc
      ? { id: 'glibc', status: 'ok', message: `glibc ${glibc}` }
      : {
          id: 'glibc',
          status: 'error',
          message: 'this process does not run on glibc (no glibcVersionRuntime): dlmopen namespaces and RTLD_DEEPBIND need glibc.',
        },
  );

  const { mods, error: addonError } = await loadAddon();
  const addonInfo: DoctorReport['addon'] = {
    loaded: Boolean(mods),
    path: mods?.addonPath ?? null,
    napiVersion: null,
    asan: null,
    buildId: null,
    error: addonError,
  };
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { binary?: { napi_versions?: number[] } };
    addonInfo.napiVersion = pkg.binary?.napi_versions?.[0] ?? null;
  } catch {
    // not fatal: the version is informational
  }
  let copyRelocations: DoctorReport['copyRelocations'] = null;
  let libcTlsBlock: number | null = null;
  if (mods) {
    try {
      const self = mods.readElf(mods.addonPath);
      addonInfo.asan = self.needed.some((n) => /^libasan\.so/.test(n));
      addonInfo.buildId = self.buildId;
    } catch (e) {
      addonInfo.error = `cannot read ${mods.addonPath}: ${(e as Error).message}`;
    }
    try {
      const { deepbindHazards } = await import('../elf/node_symbols');
      const { nodeCopyRelocatedSymbols } = await import('../elf/elf');
      const symbols = nodeCopyRelocatedSymbols();
      const asImports = { imports: symbols } as ElfInfo;
      copyRelocations = { count: symbols.length, symbols, deepbindUnsafe: deepbindHazards(asImports) };
    } catch {
      copyRelocations = null;
    }
    const libc = mappedLibc();
    if (libc) {
      try {
        const tls = mods.readElf(libc).tls;
        if (tls) libcTlsBlock = Math.ceil(tls.memsz / Math.max(1, tls.align)) * Math.max(1, tls.align);
      } catch {
        libcTlsBlock = null;
      }
    }
  }
  checks.push(
    mods
      ? {
          id: 'addon',
          status: addonInfo.asan && !/libasan/.test(process.env.LD_PRELOAD ?? '') ? 'warn' : 'ok',
          message: `${addonInfo.path}${addonInfo.asan ? ' (AddressSanitizer build: run node with LD_PRELOAD=$(gcc -print-file-name=libasan.so))' : ''}`,
        }
      : { id: 'addon', status: 'error', message: `the native addon does not load: ${addonError}` },
  );

  const tempDir = checkTempDir();
  checks.push({
    id: 'temp-dir',
    status: !tempDir.writable || tempDir.noexec ? 'error' : tempDir.private ? 'ok' : 'warn',
    message: tempDir.problem ?? `${tempDir.base} (${tempDir.source}) is writable and private`,
  });

  const surplusEstimate = staticTlsSurplus(nns, optionalStaticTls);
  const estimatedNamespaces = libcTlsBlock ? Math.min(MAX_CREATED_NAMESPACES, Math.floor(surplusEstimate / libcTlsBlock)) : null;
  checks.push({
    id: 'static-tls',
    status: estimatedNamespaces !== null && estimatedNamespaces < MAX_CREATED_NAMESPACES ? 'info' : 'ok',
    message:
      estimatedNamespaces === null
        ? `static TLS surplus about ${surplusEstimate} bytes`
        : `static TLS surplus about ${surplusEstimate} bytes; each new namespace's libc takes ${libcTlsBlock}: room for about ${estimatedNamespaces} namespaces${
            estimatedNamespaces < MAX_CREATED_NAMESPACES ? `. For more (fresh-namespace), start node with ${RECOMMENDED_TUNABLES}` : ''
          }`,
  });

  const max = options.probeMax ?? 32;
  const namespaces: DoctorReport['namespaces'] = { probed: false, library: null, max, opened: null, error: null, limitedBy: null, ms: null };
  if (options.probe !== false && mods) {
    const library = options.probeLibrary ?? findProbeLibrary();
    namespaces.library = library;
    if (!library) {
      namespaces.error = 'no probe library found (neither the fixtures nor libz.so.1)';
    } else if (typeof mods.addon.probeNamespaces !== 'function') {
      namespaces.error = 'this build of the addon has no probeNamespaces';
    } else {
      namespaces.probed = true;
      const r = await probeInChild(mods.addonPath, library, max, options.probeTimeoutMs ?? 60_000);
      namespaces.opened = r.opened;
      namespaces.error = r.error;
      namespaces.ms = r.ms;
      if (r.error) {
        namespaces.limitedBy = /static TLS/.test(r.error) ? 'static-tls' : /no more namespaces/.test(r.error) ? 'namespace-limit' : 'other';
      }
    }
  }
  if (namespaces.probed) {
    const n = namespaces.opened;
    const where = namespaces.error ? `, then: ${namespaces.error}` : '';
    checks.push({
      id: 'namespaces',
      status: n === null || n === 0 ? 'error' : n < 4 ? 'warn' : 'ok',
      message:
        n === null
          ? `the namespace probe failed: ${namespaces.error}`
          : n === 0
            ? `no namespace can be created (${namespaces.error}): isolation 'namespace' and 'fresh-namespace' will fail; use 'local' or 'deepbind'.`
            : `a fresh process can create ${n} namespaces${where}`,
    });
  }
  const runtime: DoctorReport['runtime'] = { library: null, forwards: [], keysFromNodeTable: null, ctypeOnPoolThreads: null, error: null };
  if (mods) {
    const native = await import('../native');
    runtime.library = path.join(native.addonDir(), 'libdlswap_runtime.so');
    try {
      // Not libc's: its own entry points (dlswap_*) and what dlswap's copies call instead of dladdr,
      // dlopen... (dlsw*, native/runtime/origin_abi.h).
      runtime.forwards = mods
        .readElf(runtime.library)
        .exports.filter((e) => !e.startsWith('dlswap_') && !/^dlsw[A-Z_]/.test(e))
        .sort();
    } catch (e) {
      runtime.error = `cannot read ${runtime.library}: ${(e as Error).message}`;
    }
    const library = options.probeLibrary ?? findProbeLibrary();
    if (options.probe !== false && library && !runtime.error) {
      const r = await probeRuntimeInChild(library, options.probeTimeoutMs ?? 60_000);
      runtime.keysFromNodeTable = r.keys;
      runtime.ctypeOnPoolThreads = r.ctype;
      runtime.error = r.error;
    }
    const measured = runtime.keysFromNodeTable !== null;
    const healthy = runtime.keysFromNodeTable !== false && runtime.ctypeOnPoolThreads !== false && !runtime.error;
    checks.push({
      id: 'namespace-runtime',
      status: healthy ? 'ok' : 'error',
      message: runtime.error
        ? `the namespace runtime does not work here: ${runtime.error}. Rebuild dlswap: ${BUILD_COMMAND}.`
        : !healthy
          ? `on this glibc the namespace runtime ${runtime.keysFromNodeTable === false ? "did not give a namespace node's key table" : 'left ctype uninitialised on a pool thread'}: libraries that use pthread keys or ctype in a namespace may crash. Use 'local' or 'deepbind' for them, and report this with the output of dlswap doctor --json.`
          : `shares ${runtime.forwards.length} libc functions with node's libc inside every namespace (pthread keys, thread creation, thread_local destructors)${measured ? "; measured: keys come from node's table, ctype works on pool threads" : ''}`,
    });
  }

  if (copyRelocations) {
    checks.push({
      id: 'copy-relocations',
      status: 'info',
      message: `node copy-relocates ${copyRelocations.count} symbols; ${copyRelocations.deepbindUnsafe.length} of them break a library under deepbind (${copyRelocations.deepbindUnsafe.slice(0, 4).join(', ')}${copyRelocations.deepbindUnsafe.length > 4 ? ', ...' : ''})`,
    });
  }

  return {
    schema: 1,
    node: { version: process.version, execPath: process.execPath, arch: process.arch, napiVersion: Number.isFinite(napi) ? napi : null },
    glibc: { version: glibc },
    tunables: { raw: rawTunables, values, nns, optionalStaticTls },
    copyRelocations,
    tempDir,
    addon: addonInfo,
    staticTls: { nns, optionalStaticTls, surplusEstimate, libcTlsBlock, estimatedNamespaces },
    namespaces,
    runtime,
    checks,
  };
}
