// examples/http-server, as its README walks through it: build the handler, start the server,
// request, rebuild with a change, request again, all without restarting the server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { root } from '../helpers';

const example = path.join(root, 'examples', 'http-server');
const cc = process.env.CC ?? 'cc';

/** Compiles the handler and returns its bytes. */
function build(scratch: string, defines: string[] = []): Buffer {
  const out = path.join(scratch, 'libhandler.so');
  const r = spawnSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', `-I${path.join(root, 'include')}`, ...defines, '-o', out, path.join(example, 'handler.c')], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${cc} failed: ${r.stderr}`);
  return fs.readFileSync(out);
}

/**
 * Publishes a build at the watched path the way GNU ld does (unlink, then create and write), but
 * with the bytes written in one step. ld writes its output in pieces and patches the build-id
 * last: on a loaded machine the watcher can see a whole ELF before that last patch and load it,
 * then load the patched file as one more generation. That is correct, but it would make the
 * generation number this test asserts depend on the scheduler.
 */
function publish(file: string, bytes: Buffer): void {
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, bytes, { flag: 'wx', mode: 0o755 });
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string; generation: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, generation: String(res.headers['x-handler-generation']) }));
      })
      .on('error', reject);
  });
}

let server: ChildProcess | null = null;
let dir: string | null = null;

afterEach(() => {
  server?.kill('SIGKILL');
  server = null;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe('examples/http-server', () => {
  it('serves the rebuilt handler without a restart', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dlswap-example-'));
    const scratch = fs.mkdirSync(path.join(dir, 'scratch'), { recursive: true })!;
    const lib = path.join(dir, 'libhandler.so');
    publish(lib, build(scratch));

    const child = spawn(process.execPath, [path.join(example, 'server.mjs')], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', HANDLER: lib },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    const waitFor = async (re: RegExp): Promise<RegExpMatchArray> => {
      for (let i = 0; i < 250; i++) {
        const m = stdout.match(re);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`server output never matched ${re}:\n${stdout}\n${stderr}`);
    };

    const port = Number((await waitFor(/listening on http:\/\/127\.0\.0\.1:(\d+)\//))[1]);
    expect(await get(port, '/')).toEqual({ status: 200, body: 'Hello, world!\n', generation: '1' });
    expect((await get(port, '/ada')).body).toBe('Hello, ada!\n');

    publish(lib, build(scratch, ['-DGREETING="Howdy"']));
    await waitFor(/reloaded libhandler\.so: generation 2 serving/);
    expect(await get(port, '/ada')).toEqual({ status: 200, body: 'Howdy, ada!\n', generation: '2' });

    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).not.toMatch(/skipped/);
  });
});
