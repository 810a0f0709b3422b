// `dlswap build` and the one toolchain message it shares with a checkout's `npm ci`
// (scripts/setup-checkout.mjs): what is missing, the packages per distribution, what to run again.
// The build itself is exercised by `npm ci` (the same cmake-js build); here, what a machine without a
// toolchain is told, and that nothing is built then.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { missingToolchain, toolchainMessage } from '../../lib/cli/toolchain';
import { root } from '../helpers';

const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-nopath-'));
afterAll(() => fs.rmSync(empty, { recursive: true, force: true }));

describe('the toolchain', () => {
  it('on this machine (which built the addon) nothing is missing', () => {
    expect(missingToolchain()).toEqual([]);
  });

  it('with nothing on PATH, every tool is named, with the packages and the command to run again', () => {
    const saved = process.env.PATH;
    process.env.PATH = empty;
    let missing: string[];
    try {
      missing = missingToolchain();
    } finally {
      process.env.PATH = saved;
    }
    expect(missing).toEqual(expect.arrayContaining(['cmake', 'a C++ compiler (g++)', 'a C compiler (gcc)', 'make (or ninja)']));
    const text = toolchainMessage(missing, 'npm ci');
    expect(text).toMatch(/^cannot build dlswap's addon from source: cmake, .* are missing\.\n/);
    expect(text).toContain('Debian/Ubuntu:  sudo apt-get install cmake g++ make libffi-dev\n');
    expect(text).toContain('Fedora/RHEL:    sudo dnf install cmake gcc-c++ make libffi-devel\n');
    expect(text.endsWith('then run: npm ci\n')).toBe(true);
  });
});

describe('dlswap build', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [path.join(root, 'bin', 'dlswap.js'), 'build', ...args], { encoding: 'utf8', env, timeout: 60_000 });

  it('--help prints its usage; an unknown option is a usage error (exit 2)', () => {
    const help = cli(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: dlswap build \[--force\]/);
    const bad = cli(['--frce']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--frce/);
  });

  it('with a build that loads and no --force: says so and builds nothing', () => {
    const r = cli([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/build\/Release\/dlswap\.node is built and loads; --force builds it again/);
  });

  it('--force without a toolchain: the message, exit 1, and the existing build untouched', () => {
    const addon = path.join(root, 'build', 'Release', 'dlswap.node');
    const before = fs.statSync(addon).mtimeMs;
    const r = cli(['--force'], { ...process.env, PATH: empty });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('dlswap build: 1/5 checking the toolchain');
    expect(r.stderr).toMatch(/cannot build dlswap's addon from source: cmake, /);
    expect(r.stderr).toContain('then run: npm run build:native');
    expect(fs.statSync(addon).mtimeMs).toBe(before);
  });
});
