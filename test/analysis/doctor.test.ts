import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { doctor, type DoctorReport } from '../../lib/analysis/doctor';
import { parseTunables, staticTlsSurplus } from '../../lib/load/tunables';
import { runDoctor } from '../../lib/cli/doctor';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

const saved = { GLIBC_TUNABLES: process.env.GLIBC_TUNABLES, DLSWAP_TMPDIR: process.env.DLSWAP_TMPDIR };
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-doctor-'));
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const check = (r: DoctorReport, id: string) => r.checks.find((c) => c.id === id);

describe('helpers', () => {
  it('parseTunables', () => {
    expect(parseTunables(undefined)).toEqual({});
    expect(parseTunables('glibc.rtld.nns=16:glibc.rtld.optional_static_tls=16384')).toEqual({
      'glibc.rtld.nns': '16',
      'glibc.rtld.optional_static_tls': '16384',
    });
    expect(parseTunables('garbage::=x:glibc.malloc.check=3')).toEqual({ 'glibc.malloc.check': '3' });
  });

  it("staticTlsSurplus keeps glibc's historic 1664 bytes for the defaults", () => {
    expect(staticTlsSurplus(4, 512)).toBe(1664);
    expect(staticTlsSurplus(16, 16384)).toBeGreaterThan(16384);
    expect(staticTlsSurplus(99, 0)).toBe(staticTlsSurplus(16, 0));
  });
});

describe('doctor()', () => {
  it('reports this process without the probe', async () => {
    delete process.env.GLIBC_TUNABLES;
    delete process.env.DLSWAP_TMPDIR;
    const r = await doctor({ probe: false });
    expect(r.schema).toBe(1);
    const header = (process.report.getReport() as unknown as { header: { glibcVersionRuntime?: string } }).header;
    expect(r.glibc.version).toBe(header.glibcVersionRuntime ?? null);
    expect(r.tunables).toEqual({ raw: null, values: {}, nns: 4, optionalStaticTls: 512 });
    expect(r.addon.loaded).toBe(true);
    expect(r.addon.path).toMatch(/dlswap\.node$/);
    expect(fs.existsSync(r.addon.path!)).toBe(true);
    expect(r.addon.napiVersion).toBe(8);
    expect(typeof r.addon.asan).toBe('boolean');
    expect(r.copyRelocations!.symbols).toEqual(expect.arrayContaining(['_ZSt4cout', '_ZSt4cerr']));
    expect(r.copyRelocations!.deepbindUnsafe).toEqual(expect.arrayContaining(['_ZSt4cout', '_ZSt4cerr', '__environ']));
    expect(r.copyRelocations!.deepbindUnsafe).not.toContain('stdout');
    expect(r.tempDir).toMatchObject({ base: os.tmpdir(), source: 'os.tmpdir()', writable: true });
    expect(r.staticTls.surplusEstimate).toBe(1664);
    expect(r.staticTls.libcTlsBlock).toBeGreaterThan(0);
    expect(r.namespaces.probed).toBe(false);
    expect(check(r, 'glibc')!.status).toBe('ok');
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('measures the namespace capacity in a child, matching the static TLS estimate', async () => {
    delete process.env.GLIBC_TUNABLES;
    const r = await doctor();
    expect(r.namespaces.probed).toBe(true);
    expect(r.namespaces.opened).toBeGreaterThan(0);
    expect(r.namespaces.opened).toBeLessThanOrEqual(15);
    expect(r.namespaces.limitedBy === 'static-tls' || r.namespaces.limitedBy === 'namespace-limit').toBe(true);
    expect(Math.abs(r.namespaces.opened! - r.staticTls.estimatedNamespaces!)).toBeLessThanOrEqual(1);
    // The probe ran elsewhere: this process can still create all of its namespaces.
    const again = await doctor();
    expect(again.namespaces.opened).toBe(r.namespaces.opened);
  }, 60_000);

  it("measures the namespace runtime in a child: keys from node's table, ctype on pool threads", async () => {
    const r = await doctor();
    expect(r.runtime.error).toBeNull();
    expect(r.runtime.library).toMatch(/libdlswap_runtime\.so$/);
    expect(r.runtime.forwards).toEqual(
      expect.arrayContaining(['pthread_key_create', 'pthread_setspecific', 'pthread_create', '__cxa_thread_atexit_impl', 'tss_create']),
    );
    expect(r.runtime.forwards.filter((f) => f.startsWith('dlsw'))).toEqual([]);
    expect(r.runtime.keysFromNodeTable).toBe(true);
    expect(r.runtime.ctypeOnPoolThreads).toBe(true);
    expect(check(r, 'namespace-runtime')!.status).toBe('ok');
    const quick = await doctor({ probe: false });
    expect(quick.runtime.keysFromNodeTable).toBeNull();
    expect(check(quick, 'namespace-runtime')!.status).toBe('ok');
  }, 60_000);

  it("GLIBC_TUNABLES raise the capacity to glibc's hard limit", async () => {
    process.env.GLIBC_TUNABLES = 'glibc.rtld.nns=16:glibc.rtld.optional_static_tls=16384';
    const r = await doctor();
    expect(r.tunables.values['glibc.rtld.nns']).toBe('16');
    expect(r.tunables.nns).toBe(16);
    expect(r.namespaces.opened).toBe(15);
    expect(r.namespaces.limitedBy).toBe('namespace-limit');
    expect(r.staticTls.estimatedNamespaces).toBe(15);
  }, 60_000);

  it('a missing temp dir is an error', async () => {
    process.env.DLSWAP_TMPDIR = path.join(tmp, 'does-not-exist');
    const r = await doctor({ probe: false });
    expect(r.tempDir.source).toBe('DLSWAP_TMPDIR');
    expect(r.tempDir.writable).toBe(false);
    expect(check(r, 'temp-dir')!.status).toBe('error');
    expect(r.tempDir.problem).toMatch(/DLSWAP_TMPDIR/);
  });

  it('a world-writable temp dir without the sticky bit is not private', async () => {
    const open = path.join(tmp, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    process.env.DLSWAP_TMPDIR = open;
    const r = await doctor({ probe: false });
    expect(r.tempDir.writable).toBe(true);
    expect(r.tempDir.private).toBe(false);
    expect(check(r, 'temp-dir')!.status).toBe('warn');
    fs.chmodSync(open, 0o1777);
    expect((await doctor({ probe: false })).tempDir.private).toBe(true);
  });

  it('a symlinked per-user root is not private', async () => {
    const base = path.join(tmp, 'base');
    fs.mkdirSync(base);
    const uid = process.getuid?.() ?? 0;
    fs.symlinkSync(tmp, path.join(base, `dlswap-${uid}`));
    process.env.DLSWAP_TMPDIR = base;
    const r = await doctor({ probe: false });
    expect(r.tempDir.private).toBe(false);
    expect(r.tempDir.problem).toMatch(/symbolic link/);
  });

  it('works when the addon does not load, and says so', async () => {
    vi.resetModules();
    vi.doMock('../../lib/native', () => {
      throw new Error('simulated: cannot open dlswap.node');
    });
    try {
      const { doctor: freshDoctor } = await import('../../lib/analysis/doctor');
      const r = await freshDoctor();
      expect(r.addon.loaded).toBe(false);
      expect(r.addon.error).toEqual(expect.any(String));
      expect(check(r, 'addon')!.status).toBe('error');
      expect(r.glibc.version).not.toBeNull();
      expect(r.namespaces.probed).toBe(false);
      expect(r.copyRelocations).toBeNull();
    } finally {
      vi.doUnmock('../../lib/native');
      vi.resetModules();
    }
  });
});

describe('CLI', () => {
  it('--json', async () => {
    const out = new Capture(),
      err = new Capture();
    const code = await runDoctor(['--json', '--no-probe'], out, false, err);
    expect(code).toBe(0);
    expect(err.text).toBe('');
    const r = JSON.parse(out.text) as DoctorReport;
    expect(r.schema).toBe(1);
    expect(r.namespaces.probed).toBe(false);
  });

  it('human output, with the probe', async () => {
    const out = new Capture();
    const code = await runDoctor([], out, false);
    expect(code).toBe(0);
    expect(out.text).toMatch(/^dlswap doctor/);
    expect(out.text).toMatch(/glibc\s+\d+\.\d+/);
    expect(out.text).toMatch(/namespaces\s+\d+ created in a child process/);
    expect(out.text).toMatch(/STATUS\s+CHECK\s+DETAILS/);
    expect(out.text).not.toContain('\x1b[');
  }, 60_000);

  it('exit 1 when a check fails, 2 on usage errors', async () => {
    process.env.DLSWAP_TMPDIR = path.join(tmp, 'nope');
    expect(await runDoctor(['--no-probe'], new Capture(), false)).toBe(1);
    const err = new Capture();
    expect(await runDoctor(['--bogus'], new Capture(), false, err)).toBe(2);
    expect(err.text).toMatch(/usage: dlswap doctor/);
    expect(await runDoctor(['extra'], new Capture(), false, new Capture())).toBe(2);
    const help = new Capture();
    expect(await runDoctor(['--help'], help, false)).toBe(0);
    expect(help.text).toMatch(/--no-probe/);
  });
});
