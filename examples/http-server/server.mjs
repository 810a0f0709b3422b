// An HTTP server whose request handler is a native plugin (handler.c), reloaded every time
// libhandler.so is rebuilt, without restarting the server or failing a request.
//
//   make && node server.mjs          then: curl http://127.0.0.1:8080/
//
// Environment: PORT (default 8080; 0 picks a free port), HOST (default 127.0.0.1),
// HANDLER (default ./libhandler.so next to this file; without one, the handler built with the
// installed package's addon), ISOLATION (default namespace).
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HotLibrary } from 'dlswap';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The handler that comes with the package (its prebuild, or its build from source), if any. */
function packagedHandler() {
  const root = path.dirname(createRequire(import.meta.url).resolve('dlswap/package.json'));
  const dirs = [path.join(root, 'build', 'Release', 'plugins'), path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'plugins')];
  return dirs.map((d) => path.join(d, 'libhandler.so')).find((f) => fs.existsSync(f)) ?? null;
}

const local = path.join(here, 'libhandler.so');
const handlerPath = process.env.HANDLER ?? (fs.existsSync(local) ? local : packagedHandler());
if (!handlerPath) {
  console.error(`no ${local}: build it with \`make\` in ${here} (needs a C compiler and make: apt-get install gcc make, or dnf install gcc make)`);
  process.exit(1);
}
if (handlerPath !== local && !process.env.HANDLER) {
  console.log(`serving the prebuilt handler ${handlerPath}; to change the code, install a C compiler and make, run \`make\` in ${here} and restart`);
}
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const hot = await HotLibrary.open(handlerPath, {
  isolation: process.env.ISOLATION ?? 'namespace',
  functions: { handle: 'int handle(const char *req, char *out, size_t cap)' },
  // Reload once a rebuild has finished and is a valid library; a broken build is skipped and the
  // current generation keeps serving.
  watch: true,
});
hot.on('log', (e) => console.log(`[handler generation ${e.generation}] ${e.message}`));
hot.on('watch-reload', (r) => {
  const ms = (r.durations.loading ?? 0) + (r.durations.verifying ?? 0) + (r.durations.swap ?? 0);
  console.log(`reloaded ${path.basename(r.path)}: generation ${r.to} serving (swapped in ${ms.toFixed(2)} ms)`);
});
hot.on('watch-skip', (s) => console.log(`build skipped (${s.reason}): ${s.message ?? s.error?.message}`));

async function respond(req, res) {
  const request = `${req.method} ${req.url}`;
  let cap = 256;
  for (;;) {
    const out = Buffer.alloc(cap);
    // .async runs the handler on a worker thread and keeps its generation loaded until it returns:
    // a request that is running when a reload happens finishes on the code it started on.
    const n = await hot.fn.handle.async(request, out, BigInt(cap));
    if (n < 0) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('the handler failed\n');
      return;
    }
    if (n < cap) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-handler-generation': String(hot.current) });
      res.end(out.subarray(0, n));
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

server.listen(port, host, () => {
  const a = server.address();
  console.log(`listening on http://${a.address}:${a.port}/ (handler ${handlerPath}, generation ${hot.current})`);
});

async function shutdown() {
  server.close();
  await hot.close();
  process.exit(0);
}
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
