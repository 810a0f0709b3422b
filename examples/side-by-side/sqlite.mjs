// The part of SQLite's C API this example uses, as one table of prototypes (lib.bind / hot.fn), and
// a query that opens a connection, runs one statement and closes it.
import { types } from 'dlswap';

/** From <sqlite3.h>: the handles are opaque structs. */
export const sqliteTypes = types(`
  typedef struct sqlite3 sqlite3;
  typedef struct sqlite3_stmt sqlite3_stmt;
`);

export const SQLITE_API = {
  libversion: 'const char *sqlite3_libversion(void)',
  open: 'int sqlite3_open(const char *filename, sqlite3 **db)',
  close: 'int sqlite3_close(sqlite3 *db)',
  prepare: 'int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nbyte, sqlite3_stmt **stmt, const char **tail)',
  step: 'int sqlite3_step(sqlite3_stmt *stmt)',
  columnText: 'const char *sqlite3_column_text(sqlite3_stmt *stmt, int col)',
  finalize: 'int sqlite3_finalize(sqlite3_stmt *stmt)',
  errmsg: 'const char *sqlite3_errmsg(sqlite3 *db)',
};

const SQLITE_ROW = 100;
const SQLITE_DONE = 101;

/**
 * Runs `sql` on a fresh in-memory database through the functions `api` (one library's, or one
 * HotLibrary generation's) and returns the first column of each row, or `{ error }`. The
 * connection is opened and closed here, with those same functions: a handle one copy of SQLite
 * made must never be given to another (docs/hot-reload.md#handles-and-generations).
 */
export function query(api, sql) {
  const out = new BigUint64Array(1);
  if (api.open(':memory:', out) !== 0) return { error: 'cannot open a database' };
  const db = out[0];
  try {
    if (api.prepare(db, sql, -1, out, null) !== 0) return { error: api.errmsg(db) };
    const stmt = out[0];
    try {
      const rows = [];
      for (let rc = api.step(stmt); rc !== SQLITE_DONE; rc = api.step(stmt)) {
        if (rc !== SQLITE_ROW) return { error: api.errmsg(db) };
        rows.push(api.columnText(stmt, 0));
      }
      return { rows };
    } finally {
      api.finalize(stmt);
    }
  } finally {
    api.close(db);
  }
}
