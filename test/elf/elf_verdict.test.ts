import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readElf, selfElf } from '../../lib/elf/elf';
import { elfExtent, hostMachine, loadRefusals, matchesHost, type LoadRefusal } from '../../lib/elf/elf_verdict';
import { open } from '../../lib/load/library';
import { fixture } from '../helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-verdict-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const BASIC = fs.readFileSync(fixture('libbasic_v1.so'));

/** libbasic_v1.so with a few header bytes changed. */
function patched(name: string, edit: (b: Buffer) => void): string {
  const b = Buffer.from(BASIC);
  edit(b);
  const p = path.join(tmp, name);
  fs.writeFileSync(p, b);
  return p;
}

const otherMachine = hostMachine().machine === 62 ? 183 : 62;
const foreign = patched('foreign.so', (b) => b.writeUInt16LE(otherMachine, 18));
const executable = patched('exec.so', (b) => b.writeUInt16LE(2, 16)); // e_type ET_EXEC
// PT_DYNAMIC (the second program header of the fixtures) pointing past the end of the file.
const truncated = patched('truncated.so', (b) => {
  const phoff = Number(b.readBigUInt64LE(0x20));
  for (let i = 0; i < b.readUInt16LE(0x38); i++) {
    const ph = phoff + i * 56;
    if (b.readUInt32LE(ph) === 2) b.writeBigUInt64LE(BigInt(b.length + 4096), ph + 8);
  }
});

const ids = (r: LoadRefusal[]) => r.map((x) => `${x.id}:${x.checkedBy}`);

describe('the host', () => {
  it('is the machine of the running executable', () => {
    const self = selfElf();
    expect(hostMachine()).toEqual({ class: self.class, machine: self.machine, machineName: self.machineName });
    expect(matchesHost(self)).toBe(true);
    expect(matchesHost({ class: 32, machine: self.machine })).toBe(false);
    expect(matchesHost({ class: 64, machine: otherMachine })).toBe(false);
  });
});

describe('loadRefusals', () => {
  it('refuses nothing in a library of this machine', () => {
    expect(loadRefusals(readElf(fixture('libbasic_v1.so')))).toEqual([]);
  });

  it('names every reason, in the order the load checks them', () => {
    expect(ids(loadRefusals(readElf(foreign)))).toEqual(['wrong-arch:dlswap']);
    expect(ids(loadRefusals(readElf(executable)))).toEqual(['not-shared-library:dlswap']);
    expect(ids(loadRefusals(readElf(truncated)))).toEqual(['truncated:dlswap']);
    const both = readElf(foreign);
    expect(ids(loadRefusals({ ...both, type: 'exec', truncated: true }))).toEqual(['truncated:dlswap', 'wrong-arch:dlswap', 'not-shared-library:dlswap']);
  });

  it('leaves a position-independent executable to dlopen', () => {
    const pie = { ...readElf(fixture('libbasic_v1.so')), flags1: 0x08000000 };
    expect(loadRefusals(pie)).toEqual([{ id: 'not-shared-library', checkedBy: 'dlopen', pie: true }]);
  });

  // The load decides natively (native/loader/load_job.cc): its answer and this one must agree.
  it.each([
    ['foreign.so', foreign, 'ERR_DLSWAP_WRONG_ARCH'],
    ['exec.so', executable, 'ERR_DLSWAP_BAD_ELF'],
    ['truncated.so', truncated, 'ERR_DLSWAP_BAD_ELF'],
  ])('agrees with the load on %s', (_name, file, code) => {
    expect(loadRefusals(readElf(file)).filter((r) => r.checkedBy === 'dlswap')).not.toEqual([]);
    expect(() => open(file)).toThrow(expect.objectContaining({ code }));
  });

  it('agrees with the load on a loadable library', async () => {
    expect(loadRefusals(readElf(fixture('libbasic_v1.so')))).toEqual([]);
    const lib = open(fixture('libbasic_v1.so'));
    await lib.close();
  });
});

describe('elfExtent', () => {
  const V1 = fs.readFileSync(fixture('libplugin_v1.so'));

  it('is the size a complete file must have', () => {
    expect(elfExtent(V1)).toBe(V1.length);
    expect(elfExtent(V1.subarray(0, 100))).toBeGreaterThan(100);
    expect(elfExtent(Buffer.from('hello world, not elf'))).toBeNull();
  });
});
