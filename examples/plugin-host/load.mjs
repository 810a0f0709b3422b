// A small load generator for the plugin host: keeps `--concurrency` requests in flight against the
// URLs given, round robin, until SIGINT/SIGTERM or `--seconds` (default 30, at most 600), then
// prints a JSON summary: requests, failed (errors and non-200 answers, with the first few), and how
// often each URL answered each body.
//
//   node load.mjs http://127.0.0.1:8080/hello/ada http://127.0.0.1:8080/reverse/abc --concurrency 8
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values, positionals: urls } = parseArgs({
  options: { concurrency: { type: 'string', default: '8' }, seconds: { type: 'string', default: '30' } },
  allowPositionals: true,
});
if (urls.length === 0) {
  console.error('usage: node load.mjs URL... [--concurrency N] [--seconds S]');
  process.exit(2);
}
const concurrency = Math.max(1, Math.min(64, Number(values.concurrency)));
const seconds = Math.max(1, Math.min(600, Number(values.seconds)));
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

let stopped = false;
const stop = () => (stopped = true);
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const timer = setTimeout(stop, seconds * 1000);

const summary = { requests: 0, failed: 0, failures: [], bodies: {} };
function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? { body } : { error: `${res.statusCode} ${body.trim()}` }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
  });
}

async function worker(i) {
  for (let n = i; !stopped; n += concurrency) {
    const url = urls[n % urls.length];
    const r = await get(url);
    summary.requests++;
    if (r.error !== undefined) {
      summary.failed++;
      if (summary.failures.length < 5) summary.failures.push(`${url}: ${r.error}`);
    } else {
      const key = `${url} ${JSON.stringify(r.body)}`;
      summary.bodies[key] = (summary.bodies[key] ?? 0) + 1;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
clearTimeout(timer);
agent.destroy();
console.log(JSON.stringify(summary, null, 2));
