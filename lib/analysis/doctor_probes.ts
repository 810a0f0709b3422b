/**
 * doctor's measurements in child processes: each spends what it measures (namespaces, static TLS)
 * in a process of its own, and a crash there is a finding, not doctor's end.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { defaultDirs } from '../load/search';
import { packageRoot } from '../platform';

/** A plain C library the probes can load: the basic fixture in a checkout, else libz. */
export function findProbeLibrary(): string | null {
  const candidates = [path.join(packageRoot, 'build', 'fixtures', 'libbasic_v1.so'), ...defaultDirs().map((d) => path.join(d, 'libz.so.1'))];
  return candidates.find((p) => fs.existsSync(p)) ?? null;
}

interface ChildOutcome {
  out: string;
  err: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** It could not be started. */
  spawnError?: Error;
}

/** Runs node with `args`, killed after `timeoutMs`: what it printed and how it ended. */
function runNode(args: string[], timeoutMs: number): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ out, err, code: null, signal: null, spawnError: e });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ out, err, code, signal });
    });
  });
}

/** The last lines a failed child wrote to stderr. */
function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ');
}

/**
 * Runs probeNamespaces in a child node: every namespace it creates takes static TLS that is never
 * given back, and a namespace that loaded libstdc++ is never freed, so the probe must not spend
 * this process's budget.
 */
export async function probeInChild(
  addonPath: string,
  library: string,
  max: number,
  timeoutMs: number,
): Promise<{ opened: number | null; error: string | null; ms: number }> {
  const script =
    'const a = require(process.argv[1]);' +
    'const r = a.probeNamespaces(process.argv[2], Number(process.argv[3]));' +
    'process.stdout.write(JSON.stringify(r));';
  const t0 = Date.now();
  const r = await runNode(['-e', script, addonPath, library, String(max)], timeoutMs);
  const ms = Date.now() - t0;
  if (r.spawnError) return { opened: null, error: `could not start the probe: ${r.spawnError.message}`, ms };
  if (r.code === 0) {
    try {
      const p = JSON.parse(r.out) as { opened: number; error: string | null };
      return { opened: p.opened, error: p.error, ms };
    } catch {
      // fall through: report what the child printed
    }
  }
  const why = r.signal ? `killed by ${r.signal}${r.signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}` : `exit code ${r.code}`;
  return { opened: null, error: `the probe process failed (${why}): ${lastLines(r.err) || r.out.trim()}`, ms };
}

/**
 * Checks the namespace runtime on this glibc, in a child (it creates a namespace): a key a library
 * creates inside a namespace and one node's libc creates must come from one table, and ctype must
 * work on a pool thread.
 */
export async function probeRuntimeInChild(library: string, timeoutMs: number): Promise<{ keys: boolean | null; ctype: boolean | null; error: string | null }> {
  const script = `
    const d = require(process.argv[1]);
    // force: only libc's functions are called here, so libz's calls into node's zlib (what 'local'
    // refuses it for) never run. An installed package has no fixtures, and libz is the library then.
    const base = d.open(process.argv[2], { isolation: 'local', force: true });
    const ns = d.open(process.argv[2], { isolation: 'namespace' });
    const create = (lib) => { const k = Buffer.alloc(4); if (lib.func('int pthread_key_create(void *k, void *d)')(k, null) !== 0) throw new Error('pthread_key_create failed'); return k.readUInt32LE(0); };
    const del = base.func('int pthread_key_delete(unsigned int k)');
    const kb = create(base), kn = create(ns);
    // One table: freeing the namespace's key in node's libc makes node's next key reuse its number.
    del(kn);
    const again = create(base);
    del(kb); del(again);
    ns.func('int isalpha(int c)').async(65).then((v) => {
      process.stdout.write(JSON.stringify({ keys: kn !== kb && again === kn, ctype: v !== 0 }));
    });`;
  const r = await runNode(['-e', script, path.join(packageRoot, 'dist', 'index.js'), library], timeoutMs);
  if (r.spawnError) return { keys: null, ctype: null, error: r.spawnError.message };
  try {
    const p = JSON.parse(r.out) as { keys: boolean; ctype: boolean };
    return { ...p, error: null };
  } catch {
    return { keys: null, ctype: null, error: `the runtime probe failed (${r.signal ?? `exit code ${r.code}`}): ${lastLines(r.err)}` };
  }
}
