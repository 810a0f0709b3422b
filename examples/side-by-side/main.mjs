// Two versions of SQLite in one process, side by side: the system's (Debian 12: 3.40.1) and a newer
// one built from the amalgamation better-sqlite3 ships (`make` builds it). Each gets its own copy,
// its own state, its own answers. Then the HotLibrary that runs the system's is upgraded to the new
// build while queries keep running on both: none fails.
//
//   make && node main.mjs
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HotLibrary, open } from 'dlswap';
import { SQLITE_API, query, sqliteTypes } from './sqlite.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const built = process.env.SQLITE_BUILD ?? path.join(here, 'build', 'libsqlite3.so');

// The new SQLite, loaded once for the program's lifetime.
const bundled = open(built, { types: sqliteTypes });
const next = bundled.bind(SQLITE_API);
// The system's SQLite (found as the dynamic loader finds it), in a HotLibrary so that it can be upgraded.
const app = await HotLibrary.open('libsqlite3.so.0', { types: sqliteTypes, functions: SQLITE_API });

/** A query on the HotLibrary's current generation: one lease per connection (see sqlite.mjs). */
function appQuery(sql) {
  const lease = app.pin();
  try {
    return query(lease.fn, sql);
  } finally {
    lease.release();
  }
}

const show = (r) => (r.error !== undefined ? `error: ${r.error}` : r.rows.join(', '));
const questions = [
  ['version', 'select sqlite_version()'],
  ['json_pretty (3.46+)', `select json_pretty('{"a":[1,2]}')`],
  ['octet_length (3.43+)', "select octet_length('héllo')"],
];
function table(title) {
  console.log(title);
  for (const [label, sql] of questions) {
    console.log(`  ${label.padEnd(22)} app: ${show(appQuery(sql)).replace(/\s+/g, ' ').padEnd(44)} bundled: ${show(query(next, sql)).replace(/\s+/g, ' ')}`);
  }
}

table(`side by side (app generation ${app.current}):`);

// Keep both busy while the app's SQLite is upgraded: every answer is checked.
let stop = false;
const counts = { app: 0, bundled: 0, failed: 0 };
const versions = new Set();
const traffic = (async () => {
  while (!stop) {
    const a = appQuery('select sqlite_version() || ":" || (6 * 7)');
    const b = query(next, 'select sqlite_version() || ":" || (6 * 7)');
    if (a.error !== undefined || !a.rows[0].endsWith(':42')) counts.failed++;
    else versions.add(a.rows[0].split(':')[0]);
    if (b.error !== undefined || b.rows[0] !== `${next.libversion()}:42`) counts.failed++;
    counts.app++;
    counts.bundled++;
    await new Promise((r) => setImmediate(r));
  }
})();
await new Promise((r) => setTimeout(r, 100));
const report = await app.reload(built);
await new Promise((r) => setTimeout(r, 100));
stop = true;
await traffic;

console.log(
  `upgraded the app's SQLite in ${(report.durations.loading + report.durations.verifying + report.durations.swap).toFixed(1)} ms; generation ${report.from} unloaded: ${report.unloaded}`,
);
console.log(`queries during the upgrade: app ${counts.app} (versions ${[...versions].join(' then ')}), bundled ${counts.bundled}, failed ${counts.failed}`);
table(`after (app generation ${app.current}):`);

await app.close();
await bundled.close();
process.exitCode = counts.failed === 0 ? 0 : 1;
