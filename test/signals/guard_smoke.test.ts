// The containment machinery alone, without node (scripts/guard-smoke.cc): this architecture's guard
// trampoline, the handler's rewrite of the interrupted context (callee-saved registers, stack
// pointer, signal mask, floating-point control), the alternate stack, dlswap_guard_resume. Built
// with the system's g++ from the sources; the arm64 build runs under qemu-user in
// `npm run test:prebuild-arm64`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { root } from '../helpers';

it('the guard trampoline and the context rewrite restore what a return needs, for every fault', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-guard-'));
  try {
    const exe = path.join(dir, 'guard-smoke');
    const signals = ['containment', 'code_ranges', 'image_registry', 'outside_report', 'signal_text', 'signals', 'thread_faults'];
    const asm = process.arch === 'arm64' ? 'guard_aarch64.S' : 'guard_x86_64_sysv.S';
    const build = spawnSync(
      'g++',
      [
        '-std=c++17',
        '-O2',
        `-I${path.join(root, 'native')}`,
        '-o',
        exe,
        path.join(root, 'scripts', 'guard-smoke.cc'),
        ...signals.map((f) => path.join(root, 'native', 'signals', `${f}.cc`)),
        path.join(root, 'native', 'abi', asm),
        '-lpthread',
        '-ldl',
      ],
      { encoding: 'utf8' },
    );
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(r.stdout).toContain('guard-smoke: all passed');
    expect(r.status).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
