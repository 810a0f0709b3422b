#!/usr/bin/env node
// Checks a prebuild on its own architecture's glibc and loader: natively for the host's, under
// qemu-user for another (the arm64 one on an x86-64 machine). Runs scripts/qemu-smoke.c, which
// loads the runtime, the addon (against a stub of the Node-API symbols) and the plugins, and calls
// the plugins. Node itself does not run under Debian 12's qemu-user (it spins after startup), so
// the addon's JavaScript-facing tests cannot run there.
//
//   node scripts/test-prebuild-qemu.mjs [--arch arm64|x64]
//
// Needs prebuilds/linux-<arch> (scripts/prebuilds.mjs), and for arm64 the cross compiler
// (g++-aarch64-linux-gnu) and qemu-user (apt-get install qemu-user).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { arch as hostArch, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { arch: { type: 'string', default: 'arm64' } } });
const arch = values.arch;
const triple = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[arch];
if (!triple) {
  process.stderr.write(`test-prebuild-qemu: unknown --arch '${arch}'\n`);
  process.exit(2);
}
const native = arch === hostArch();
const dir = join(root, 'prebuilds', `linux-${arch}`);
if (!existsSync(join(dir, 'node.napi.glibc.node'))) {
  process.stderr.write(`test-prebuild-qemu: ${dir} has no prebuild: run node scripts/prebuilds.mjs --arch ${arch}\n`);
  process.exit(1);
}
const tool = (name) => (native ? name : `${triple}-${name}`);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    process.stderr.write(`$ ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}\n`);
    process.exit(1);
  }
  return r.stdout;
}

const work = mkdtempSync(join(tmpdir(), 'dlswap-qemu-'));
try {
  // A stub for every Node-API function the addon imports: loading binds them, nothing calls them.
  const undefinedSymbols = run(tool('nm'), ['-D', '--undefined-only', join(dir, 'node.napi.glibc.node')])
    .split('\n')
    .map((l) => l.trim().split(/\s+/).pop())
    .filter((s) => s && /^(napi_|node_api_|uv_)/.test(s));
  writeFileSync(join(work, 'stub.c'), `#include <stdlib.h>\n${undefinedSymbols.map((s) => `void ${s}(void) { abort(); }`).join('\n')}\n`);
  run(tool('gcc'), ['-shared', '-fPIC', '-o', join(work, 'libnapi_stub.so'), join(work, 'stub.c')]);
  run(tool('gcc'), ['-O2', '-o', join(work, 'qemu-smoke'), join(root, 'scripts', 'qemu-smoke.c'), '-ldl']);
  const cmd = native ? join(work, 'qemu-smoke') : `qemu-${triple.split('-')[0]}`;
  const args = native ? [dir, join(work, 'libnapi_stub.so')] : ['-L', `/usr/${triple}`, join(work, 'qemu-smoke'), dir, join(work, 'libnapi_stub.so')];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  process.stdout.write(`linux-${arch}${native ? '' : ' under qemu-user'}: ${undefinedSymbols.length} Node-API symbols stubbed\n${r.stdout}${r.stderr}`);
  // Fault containment's own machinery on this architecture (scripts/guard-smoke.cc): the guard
  // trampoline, the handler's rewrite of the context, the alternate stack. Built from the sources,
  // since the addon keeps it hidden.
  const signals = ['containment', 'code_ranges', 'image_registry', 'outside_report', 'signal_text', 'signals', 'thread_faults'];
  const asm = arch === 'arm64' ? 'guard_aarch64.S' : 'guard_x86_64_sysv.S';
  run(tool('g++'), [
    '-std=c++17',
    '-O2',
    `-I${join(root, 'native')}`,
    '-o',
    join(work, 'guard-smoke'),
    join(root, 'scripts', 'guard-smoke.cc'),
    ...signals.map((f) => join(root, 'native', 'signals', `${f}.cc`)),
    join(root, 'native', 'abi', asm),
    '-lpthread',
    '-ldl',
  ]);
  const gcmd = native ? join(work, 'guard-smoke') : cmd;
  const gargs = native ? [] : ['-L', `/usr/${triple}`, join(work, 'guard-smoke'), '--no-threads'];
  const g = spawnSync(gcmd, gargs, { encoding: 'utf8', timeout: 120_000 });
  process.stdout.write(`${g.stdout}${g.stderr}`);
  process.exit(r.status !== 0 ? (r.status ?? 1) : (g.status ?? 1));
} finally {
  rmSync(work, { recursive: true, force: true });
}
