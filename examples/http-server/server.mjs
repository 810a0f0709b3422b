// An HTTP server whose request handler is a native plugin (handler.c), reloaded every time
// libhandler.so is rebuilt, without restarting the server or failing a request.
//
//   make && node server.mjs          then: curl http://127.0.0.1:8080/
//
// Environment: PORT (default 8080; 0 picks a free port), HOST (default 127.0.0.1),
// HANDLER (default ./libhandler.so next to this file), ISOLATION (default namespace).
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HotLibrary } from 'dlswap';

const here = path.dirname(fileURLToPath(import.meta.url));
const handlerPath = process.env.HANDLER ?? path.join(here, 'libhandler.so');
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
