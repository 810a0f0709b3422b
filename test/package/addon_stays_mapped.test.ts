// The addon is never unloaded (CMakeLists.txt links it with -z nodelete). node dlcloses an addon
// when the worker_thread that loaded it exits; the addon's code must outlive that: the destructor
// of the pthread key that holds a calling thread's fault record (native/signals/thread_faults.cc)
// runs as that very thread exits, and so do the namespace runtime's key trampolines and thread
// records. A worker that was the addon's only user once unmapped it and then crashed in its own
// exit, in every namespace mode. Each case runs in a child process, whose exit is the verdict.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addonDir } from '../../lib/native';
import { fixture, root } from '../helpers';

// Nothing of dlswap is loaded on the main thread: the worker is the addon's only user.
const child = `
const { Worker } = require('node:worker_threads');
const fs = require('node:fs');
const mapped = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').some((l) => l.endsWith('/dlswap.node'));
const [dist, lib, isolation] = process.argv.slice(1);
const worker = \`
const { parentPort, workerData } = require('node:worker_threads');
const dlswap = require(workerData.dist);
(async () => {
  const l = dlswap.open(workerData.lib, { isolation: workerData.isolation });
  const answer = l.func('int add(int a, int b)')(40, 2);
  await l.close();
  parentPort.postMessage(answer);
})();
\`;
const before = mapped();
let answer = null;
new Worker(worker, { eval: true, workerData: { dist, lib, isolation } })
  .on('message', (m) => (answer = m))
  .on('exit', (code) => console.log(JSON.stringify({ before, answer, worker: code, after: mapped() })));
`;

describe('the addon is never unloaded', () => {
  it('its dynamic section says NODELETE', () => {
    const dynamic = execFileSync('readelf', ['-d', path.join(addonDir(), 'dlswap.node')], { encoding: 'utf8' });
    expect(dynamic).toMatch(/\(FLAGS_1\)\s+Flags:.*\bNODELETE\b/);
  });

  it.each(['local', 'namespace', 'fresh-namespace'])(
    '%s: a worker_thread that was its only user exits; the addon stays mapped and the process ends normally',
    (isolation) => {
      const r = spawnSync(process.execPath, ['-e', child, path.join(root, 'dist', 'index.js'), fixture('libbasic_v1.so'), isolation], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
      expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ before: false, answer: 42, worker: 0, after: true });
    },
    150_000,
  );
});
