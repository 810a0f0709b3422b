// A plugin host: an HTTP server whose handlers are C plugins, one folder each under plugins/. Each
// plugin is rebuilt when its sources change and reloaded while the server keeps answering: no
// restart, no failed request. A build that does not compile, or whose dlswap_init refuses to start,
// is reported and the build already serving goes on.
//
//   node server.mjs            then: curl http://127.0.0.1:8080/hello/ada
//
// Environment: PORT (default 8080; 0 picks a free port), HOST (default 127.0.0.1), PLUGINS (default
// ./plugins next to this file), BUILD (where the libraries go; default ./build next to this file),
// ISOLATION (default namespace), CC (default cc).
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginRegistry } from './registry.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const registry = new PluginRegistry({
  pluginsDir: process.env.PLUGINS ?? path.join(here, 'plugins'),
  buildDir: process.env.BUILD ?? path.join(here, 'build'),
  isolation: process.env.ISOLATION,
});
const indent = (text) => text.trimEnd().replace(/^/gm, '    ');
registry.on('broken', (e) => console.log(`[${e.name}] does not build; not served until it does:\n${indent(e.output)}`));
registry.on('building', (e) => console.log(`[${e.name}] building (${e.changed.join(', ')} changed)`));
registry.on('built', (e) => console.log(`[${e.name}] built in ${(e.durationMs / 1000).toFixed(2)} s`));
registry.on('serving', (e) => console.log(`[${e.name}] generation ${e.generation} serving (swapped in ${e.report.durations.swap.toFixed(2)} ms)`));
registry.on('build-failed', (e) =>
  console.log(`[${e.name}] build failed (exit ${e.exitCode}); the running build keeps serving:\n${indent(e.output || e.message)}`),
);
registry.on('reload-failed', (e) => console.log(`[${e.name}] reload failed (${e.error.causeCode}); the running build keeps serving: ${e.error.message}`));
registry.on('skipped', (e) => console.log(`[${e.name}] build skipped (${e.reason}): ${e.message}`));
registry.on('log', (e) => console.log(`[${e.name} generation ${e.generation}] ${e.message}`));
await registry.start();

/** Calls the plugin's handle(); grows the buffer when the answer does not fit. */
async function respond(req, res) {
  const [, name = '', rest = ''] = /^\/([^/?]*)(.*)$/.exec(req.url) ?? [];
  if (name === '') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(registry.list())}\n`);
    return;
  }
  const plugin = registry.get(name);
  if (!plugin) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`no plugin '${name}'\n`);
    return;
  }
  const request = `${req.method} ${rest || '/'}`;
  for (let cap = 256; ; ) {
    const out = Buffer.alloc(cap);
    // .async runs the handler on a worker thread and keeps its generation loaded until it returns:
    // a request running when a reload happens finishes on the build it started on.
    const n = await plugin.fn.handle.async(request, out, BigInt(cap));
    if (n < 0) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`plugin '${name}' failed\n`);
      return;
    }
    if (n < cap) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-plugin-generation': String(plugin.current) }).end(out.subarray(0, n));
      return;
    }
    cap = n + 1;
  }
}

const server = http.createServer((req, res) => {
  respond(req, res).catch((e) => {
    console.error(e);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end('internal error\n');
  });
});
server.keepAliveTimeout = 1_000;
server.listen(port, host, () => {
  const a = server.address();
  console.log(
    `listening on http://${a.address}:${a.port}/ (plugins: ${registry
      .list()
      .map((p) => p.name)
      .join(', ')})`,
  );
});

async function shutdown() {
  server.close();
  server.closeIdleConnections();
  await registry.close();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
