// A pool of SQLite connections serving queries from concurrent async workers while the library is
// reloaded 20 times. Each connection stays on the SQLite generation that opened it (its handles
// follow their generation); the pool replaces it once it is idle after a reload; each old generation
// unloads once its last connection is closed. Every query checks the connection's state.
//
//   node main.mjs [--reloads 20] [--workers 16] [--connections 8] [--isolation namespace] [--library libsqlite3.so.0]
import { openSqlite, Pool } from './pool.mjs';

const option = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const RELOADS = Number(option('--reloads', 20));
const WORKERS = Number(option('--workers', 16));
const CONNECTIONS = Number(option('--connections', 8));
const ISOLATION = option('--isolation', 'namespace');
const LIBRARY = option('--library', 'libsqlite3.so.0');

const sqlite = await openSqlite(LIBRARY, { isolation: ISOLATION });
const n = (x) => x.toLocaleString('en-US');

// Which old generations unloaded, and whether their last connection had been closed first (a
// generation whose connections were all made before or after it served has none to wait for).
const drained = new Set();
const unloaded = { after: [], before: [], none: [] };
sqlite.on('unloaded', ({ generation }) => {
  if (!pool.served(generation)) unloaded.none.push(generation);
  else (drained.has(generation) ? unloaded.after : unloaded.before).push(generation);
});
const pool = new Pool(sqlite, CONNECTIONS, (generation) => drained.add(generation));
const pinned = [];
sqlite.on('pinned', (e) => pinned.push(e));
// At each swap (after the pool's own listener moved its idle connections): those still in use.
const inUse = new Map();
sqlite.on('reload', (r) => inUse.set(r.to, pool.generations().find(([g]) => g === r.from)?.[1] ?? 0));

console.log(`SQLite ${sqlite.fn.libversion()} (${LIBRARY}), ${ISOLATION} isolation: ${CONNECTIONS} connections, ${WORKERS} async workers, ${RELOADS} reloads`);

let stop = false;
let queries = 0;
let failed = 0;
const worker = async () => {
  while (!stop) {
    try {
      await pool.use((c) => c.query());
      queries++;
    } catch (e) {
      if (failed++ === 0) console.error(`a query failed: ${e.stack}`);
    }
  }
};
const workers = Array.from({ length: WORKERS }, worker);

const reports = [];
for (let i = 1; i <= RELOADS; i++) {
  await new Promise((r) => setTimeout(r, 50));
  // Resolves once the old generation has no query in flight: it does not wait for connections.
  const report = await sqlite.reload();
  reports.push(report);
  const swap = report.durations.loading + report.durations.verifying + report.durations.swap;
  console.log(
    `reload ${String(i).padStart(2)}: generation ${report.from} -> ${report.to} in ${swap.toFixed(1)} ms; ${inUse.get(report.to)} connections in use stayed on generation ${report.from}`,
  );
}
await new Promise((r) => setTimeout(r, 50));
stop = true;
await Promise.all(workers);
pool.close();
await Promise.all(reports.map((r) => r.retired));

const old = unloaded.after.length + unloaded.before.length + unloaded.none.length;
console.log(`queries: ${n(queries)}, failed: ${n(failed)}; rows each connection counted in its own database: ${n(pool.rows)}`);
console.log(
  `old generations unloaded: ${old} of ${RELOADS} (${unloaded.after.length} once their last connection was closed, ${unloaded.none.length} never had one); ${unloaded.before.length} while a connection was open`,
);

await sqlite.close();
const ok = failed === 0 && pool.rows === queries && old === RELOADS && unloaded.before.length === 0 && pinned.length === 0;
if (pinned.length) console.error(`pinned: ${pinned.map((e) => `${e.generation}: ${e.reason}`).join('; ')}`);
process.exitCode = ok ? 0 : 1;
