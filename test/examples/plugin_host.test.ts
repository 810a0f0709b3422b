// examples/plugin-host, run the way its README does: start the server, put it under load with
// load.mjs, and edit a plugin's source while the load runs: a change, a build that does not compile,
// a build whose dlswap_init refuses to start, and a fix. Not one request may fail or get an answer
// that no good build gives; the plugin that was not edited is never reloaded.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { root } from '../helpers';

const example = path.join(root, 'examples', 'plugin-host');
// Hang guard for each step: a step takes well under a second on a quiet machine.
const GUARD_MS = 60_000;

const children: ChildProcess[] = [];
let dir: string | null = null;

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** A child whose output is collected, with a wait for a line of it. */
function start(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const io = { out: '', err: '' };
  child.stdout!.setEncoding('utf8').on('data', (d) => (io.out += d));
  child.stderr!.setEncoding('utf8').on('data', (d) => (io.err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    io,
    exited,
    /** Resolves with the match once the output has `count` matches of `re` (it must be global). */
    async waitFor(re: RegExp, count = 1): Promise<RegExpMatchArray> {
      const deadline = Date.now() + GUARD_MS;
      for (;;) {
        const all = [...io.out.matchAll(re)];
        if (all.length >= count) return all[count - 1];
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`output never matched ${re} (${count}x):\n${io.out}\n${io.err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** Saves a source the way editors do: a new file renamed over it. */
function save(file: string, text: string): void {
  fs.writeFileSync(`${path.dirname(file)}/.${path.basename(file)}.swp`, text);
  fs.renameSync(`${path.dirname(file)}/.${path.basename(file)}.swp`, file);
}

describe('examples/plugin-host', () => {
  it('serves every request while a plugin is edited, broken, refused and fixed under load', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-plugin-host-'));
    const plugins = path.join(dir, 'plugins');
    fs.cpSync(path.join(example, 'plugins'), plugins, { recursive: true });
    const hello = path.join(plugins, 'hello', 'hello.c');
    const original = fs.readFileSync(hello, 'utf8');
    const withGreeting = (g: string) => original.replace('#define GREETING "Hello"', `#define GREETING "${g}"`);
    expect(withGreeting('X')).not.toBe(original);

    const server = start(path.join(example, 'server.mjs'), [], { PORT: '0', HOST: '127.0.0.1', PLUGINS: plugins, BUILD: path.join(dir, 'build') });
    const port = (await server.waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(plugins: hello, reverse\)/g))[1];
    const base = `http://127.0.0.1:${port}`;
    const load = start(path.join(example, 'load.mjs'), [`${base}/hello/ada`, `${base}/reverse/abc`, '--concurrency', '4', '--seconds', '300'], {});
    const served = async (url: string) => (await fetch(`${base}${url}`)).text();
    await expect.poll(() => served('/hello/ada'), { timeout: GUARD_MS }).toBe('Hello, ada!\n');

    save(hello, withGreeting('Howdy'));
    await server.waitFor(/\[hello\] generation 2 serving/g);
    expect(await served('/hello/ada')).toBe('Howdy, ada!\n');

    save(hello, withGreeting('Hey').replace('return 0;\n}', 'return 0\n}'));
    await server.waitFor(/\[hello\] build failed \(exit [1-9]\d*\); the running build keeps serving:\n(?: {4}.*\n)*? {4}hello\/hello\.c:\d+:\d+: error/g);
    expect(await served('/hello/ada')).toBe('Howdy, ada!\n');

    save(hello, withGreeting(''));
    await server.waitFor(/\[hello\] reload failed \(ERR_DLSWAP_INIT_FAILED\); the running build keeps serving/g);
    expect(await served('/hello/ada')).toBe('Howdy, ada!\n');

    save(hello, withGreeting('Hi'));
    await server.waitFor(/\[hello\] generation 4 serving/g);
    expect(await served('/hello/ada')).toBe('Hi, ada!\n');
    expect(JSON.parse(await served('/'))).toEqual([
      { name: 'hello', generation: 4 },
      { name: 'reverse', generation: 1 },
    ]);

    load.child.kill('SIGTERM');
    expect(await load.exited).toBe(0);
    const summary = JSON.parse(load.io.out) as { requests: number; failed: number; failures: string[]; bodies: Record<string, number> };
    expect(summary.failures).toEqual([]);
    expect(summary.failed).toBe(0);
    const good = new Set([
      `${base}/hello/ada "Hello, ada!\\n"`,
      `${base}/hello/ada "Howdy, ada!\\n"`,
      `${base}/hello/ada "Hi, ada!\\n"`,
      `${base}/reverse/abc "cba\\n"`,
    ]);
    expect(Object.keys(summary.bodies).filter((k) => !good.has(k))).toEqual([]);
    expect(summary.bodies[`${base}/reverse/abc "cba\\n"`]).toBeGreaterThan(0);
    expect(summary.requests).toBeGreaterThan(20);
    console.log(`plugin-host: ${summary.requests} requests, ${summary.failed} failed, across 2 reloads, 1 broken build, 1 refused init`);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.io.err).toBe('');
    expect(server.io.out).not.toMatch(/\[reverse\] (building|generation)/);
  }, 600_000);
});
