/**
 * What a build from source needs, and what of it this machine lacks. One owner for the answer that
 * `dlswap build`, a checkout's `npm ci` (scripts/setup-checkout.mjs) and the fixture build give: they
 * import it from dist/ once tsc has run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { TOOLCHAIN_PACKAGES } from '../platform';

/** Whether `command` is an executable file in one of PATH's directories. */
export function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Where a distribution puts ffi.h (Debian's multiarch directory included). */
function ffiHeaderDirs(): string[] {
  const triple = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return ['/usr/include', '/usr/local/include', `/usr/include/${triple}`];
}

/** What is missing for a build from source, named as a user would install it; empty when nothing is. */
export function missingToolchain(): string[] {
  const missing: string[] = [];
  if (!onPath('cmake')) missing.push('cmake');
  if (!['c++', 'g++', 'clang++'].some(onPath)) missing.push('a C++ compiler (g++)');
  if (!['cc', 'gcc', 'clang'].some(onPath)) missing.push('a C compiler (gcc)');
  if (!onPath('make') && !onPath('ninja')) missing.push('make (or ninja)');
  if (!ffiHeaderDirs().some((d) => fs.existsSync(path.join(d, 'ffi.h')))) missing.push('the libffi headers (libffi-dev / libffi-devel)');
  return missing;
}

/** The one message for a missing toolchain: what is missing, what to install, what to run again. */
export function toolchainMessage(missing: string[], retry: string): string {
  return (
    `cannot build dlswap's addon from source: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing.\n` +
    `Install them:\n${Object.entries(TOOLCHAIN_PACKAGES)
      .map(([distro, cmd]) => `  ${`${distro}:`.padEnd(15)} ${cmd}\n`)
      .join('')}then run: ${retry}\n`
  );
}
