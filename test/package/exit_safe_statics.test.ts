// No object of the addon with static storage has a destructor that exit() would run
// (native/common/immortal.h): exit() runs those before _dl_fini runs the libraries' destructors,
// and threads those destructors join then run dlswap's thread-exit code on destroyed state
// (OpenBLAS: SIGBUS at exit). A static with a destructor registers it with __cxa_atexit, from the
// file's static initialiser or from the function that holds it, so the addon's machine code says
// whether one exists. libstdc++, linked into the addon, has a few of its own, which are not ours.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { addonDir } from '../../lib/native';
import { root } from '../helpers';

/** The basenames of the addon's own source files. */
function ownSources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return ownSources(p);
    return e.name.endsWith('.cc') ? [e.name] : [];
  });
}

it("no function of the addon's own code registers a destructor with __cxa_atexit", () => {
  const addon = path.join(addonDir(), 'dlswap.node');
  const asm = execFileSync('objdump', ['-d', '-C', '--no-show-raw-insn', addon], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const sources = new Set(ownSources(path.join(root, 'native')));
  const registering = new Set<string>();
  let fn = '';
  let ownFunctions = 0;
  for (const line of asm.split('\n')) {
    const label = /^[0-9a-f]+ <(.*)>:$/.exec(line);
    if (label) {
      fn = label[1];
      if (fn.startsWith('dlswap::')) ownFunctions++;
      continue;
    }
    if (/\b(call|jmp)\s.*<__cxa_atexit(@plt)?>/.test(line)) registering.add(fn);
  }
  // The symbols are there to judge by (an addon stripped of them would pass for nothing).
  expect(ownFunctions).toBeGreaterThan(100);
  const ours = [...registering].filter((f) => f.includes('dlswap::') || sources.has(/^_GLOBAL__sub_I_(.*)$/.exec(f)?.[1] ?? ''));
  expect(ours).toEqual([]);
});
