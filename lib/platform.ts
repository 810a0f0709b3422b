/**
 * Finding and loading the addon binary, and saying what to do when none fits this machine.
 *
 * The package ships prebuilt binaries (prebuilds/linux-<arch>/, see scripts/prebuilds.mjs) and
 * falls back to a build from source (build/Release) made by `npx dlswap build`. The dynamic
 * loader itself checks a prebuild against this system's glibc; when it refuses, the error here says
 * which glibc the prebuild needs (its dlswap.json) and which one this system has.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DlswapError } from './errors';

/** The package's root (dist/ in a package, lib/ in a checkout, is one level down). Here, not in native.ts: knowing it must not load the addon. */
export const packageRoot = path.resolve(__dirname, '..');

/** What scripts/prebuilds.mjs writes beside a prebuilt addon. */
export interface PrebuildManifest {
  platform: string;
  arch: string;
  libc: 'glibc';
  /** Oldest glibc the binaries run on: the highest GLIBC_x.y symbol version they reference. */
  glibc: string;
  napi: number;
  /** Every file of the prebuild, by its path relative to the manifest's directory. */
  files: Record<string, { size: number; sha256: string }>;
}

export const SUPPORTED_ARCHES = ['x64', 'arm64'] as const;

/** Whether this is a checkout of the repository (lib/*.ts beside dist/), not an installed package. */
export const isCheckout = fs.existsSync(path.join(packageRoot, 'lib', 'index.ts'));

/**
 * The command that builds the addon from source: lib/cli/build.ts in an installed package (which
 * has no install script), the build script in a checkout (where `npx dlswap` would not find this
 * package's own bin).
 */
export const BUILD_COMMAND = isCheckout ? 'npm run build:native' : 'npx dlswap build';

/** The packages that give a machine what a build from source needs, per distribution family. */
export const TOOLCHAIN_PACKAGES = {
  'Debian/Ubuntu': 'sudo apt-get install cmake g++ make libffi-dev',
  'Fedora/RHEL': 'sudo dnf install cmake gcc-c++ make libffi-devel',
} as const;

/** What a build from source needs, in one sentence for an error message. */
export const TOOLCHAIN_HINT =
  'A build from source needs cmake (>= 3.15), a C++17 compiler, make or ninja, and the libffi headers: ' +
  `${Object.entries(TOOLCHAIN_PACKAGES)
    .map(([distro, cmd]) => `${distro}: ${cmd}`)
    .join('; ')}. Then run: ${BUILD_COMMAND}`;

/** glibc's version as this process runs it, or null (musl, or not Linux). */
export function runtimeGlibc(): string | null {
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    return header?.glibcVersionRuntime ?? null;
  } catch {
    return null;
  }
}

/** -1, 0 or 1 as version a is older than, the same as, or newer than b ('2.34' < '2.36'). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The manifest beside a prebuilt addon, or null for a build from source. */
export function prebuildManifest(addonDir: string): PrebuildManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(addonDir, 'dlswap.json'), 'utf8')) as PrebuildManifest;
  } catch {
    return null;
  }
}

/**
 * What is wrong with the prebuild in `dir`, checked against its manifest before anything in it is
 * mapped; null when nothing is (or `dir` holds a build from source, which has no manifest). A file
 * shorter than it was built (a truncated download or copy) would be mapped past its end, and the
 * first touch of a missing page kills the process with SIGBUS: sizes are checked at every load, a
 * stat each. The content hash is checked only when `hash` is set (doctor, and after a load that
 * failed): hashing the addon costs more than the rest of loading the package.
 */
export function prebuildDamage(dir: string, hash: boolean): string | null {
  const manifest = prebuildManifest(dir);
  if (manifest === null || typeof manifest.files !== 'object' || manifest.files === null) return null;
  for (const [name, expected] of Object.entries(manifest.files)) {
    const file = path.join(dir, name);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return `${file} is missing`;
    }
    if (size !== expected.size) return `${file} has ${size} bytes, and dlswap.json says it was built with ${expected.size}`;
    if (hash) {
      const digest = (require('node:crypto') as typeof import('node:crypto')).createHash('sha256').update(fs.readFileSync(file)).digest('hex');
      if (digest !== expected.sha256) return `${file} has sha256 ${digest}, and dlswap.json says it was built with ${expected.sha256}`;
    }
  }
  return null;
}

/** The coded error for a prebuild that `prebuildDamage` found damaged. */
export function damagedPrebuildError(damage: string): DlswapError {
  return new DlswapError(
    'ERR_DLSWAP_NO_BINARY',
    `the prebuilt dlswap binary is damaged: ${damage}. Nothing of it was loaded. Reinstall the package (rm -rf node_modules/dlswap && npm install), or build the addon from source: ${BUILD_COMMAND}.`,
  );
}

/** Refuses, before any binary is looked for, a platform no dlswap binary can serve. */
export function checkPlatform(): void {
  if (process.platform !== 'linux') {
    throw new DlswapError(
      'ERR_DLSWAP_UNSUPPORTED_PLATFORM',
      `dlswap runs on Linux with glibc only (this is ${process.platform}): it needs dlmopen and glibc's loader, which macOS and Windows do not have.`,
    );
  }
  if (!(SUPPORTED_ARCHES as readonly string[]).includes(process.arch)) {
    throw new DlswapError(
      'ERR_DLSWAP_UNSUPPORTED_PLATFORM',
      `dlswap supports x86-64 and aarch64 Linux (process.arch 'x64' or 'arm64'), not '${process.arch}': its call trampolines are written per ABI.`,
    );
  }
}

/**
 * The coded error for an addon that could not be found or loaded. `file` is the binary that was
 * tried (undefined when none was found).
 */
export function addonLoadError(e: unknown, file: string | undefined): DlswapError {
  const message = e instanceof Error ? e.message : String(e);
  if (file === undefined) {
    return new DlswapError(
      'ERR_DLSWAP_NO_BINARY',
      `no dlswap binary for linux-${process.arch} was found: the package has no prebuild for this machine and was not built from source. Build it: ${BUILD_COMMAND}. ${TOOLCHAIN_HINT}`,
      { cause: e },
    );
  }
  const manifest = prebuildManifest(path.dirname(file));
  const glibc = runtimeGlibc();
  if (glibc === null) {
    return new DlswapError(
      'ERR_DLSWAP_UNSUPPORTED_PLATFORM',
      `dlswap needs glibc, and this system's C library is not glibc (musl's dlclose never unloads, and it has no dlmopen): ${message}`,
      { cause: e },
    );
  }
  const needs = /version [`']?GLIBC_(\d+\.\d+(?:\.\d+)?)'? not found/.exec(message)?.[1] ?? manifest?.glibc;
  if (/GLIBC_\d/.test(message) || (needs !== undefined && compareVersions(glibc, needs) < 0)) {
    return new DlswapError(
      'ERR_DLSWAP_UNSUPPORTED_PLATFORM',
      `${file} needs glibc >= ${needs ?? '?'} and this system has glibc ${glibc}. Upgrade the system, or build dlswap from source against this glibc: ${BUILD_COMMAND}. ${TOOLCHAIN_HINT}`,
      { cause: e },
    );
  }
  const damage = prebuildDamage(path.dirname(file), true);
  if (damage !== null) return damagedPrebuildError(damage);
  return new DlswapError(
    'ERR_DLSWAP_NO_BINARY',
    `the dlswap binary ${file} does not load (${message}). It was built for another machine, or is damaged: rebuild it with ${BUILD_COMMAND}. ${TOOLCHAIN_HINT}`,
    { cause: e },
  );
}
