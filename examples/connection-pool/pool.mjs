// A pool of SQLite connections over a HotLibrary whose handles follow their generation: each
// connection (a `sqlite3 *` and the statements it prepared) runs on the SQLite that opened it, across
// any number of reloads; a connection that comes back to the pool after a reload is closed (on its
// own generation) and replaced by one the current generation opens. So the pool moves to the new
// code one connection at a time, and each old generation unloads once its last connection is closed.
import { HotLibrary, types } from 'dlswap';

/** From <sqlite3.h>: the handles are opaque structs. */
const sqliteTypes = types(`
  typedef struct sqlite3 sqlite3;
  typedef struct sqlite3_stmt sqlite3_stmt;
`);

export const SQLITE_API = {
  libversion: 'const char *sqlite3_libversion(void)',
  open: 'int sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs)',
  // _v2: releases the connection whatever is still open on it (a handle's destructor must).
  close: 'int sqlite3_close_v2(sqlite3 *db)',
  busyTimeout: 'int sqlite3_busy_timeout(sqlite3 *db, int ms)',
  exec: 'int sqlite3_exec(sqlite3 *db, const char *sql, void *callback, void *arg, char **errmsg)',
  errmsg: 'const char *sqlite3_errmsg(sqlite3 *db)',
  prepare: 'int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nbyte, sqlite3_stmt **stmt, const char **tail)',
  bind: 'int sqlite3_bind_int64(sqlite3_stmt *stmt, int index, int64_t value)',
  step: 'int sqlite3_step(sqlite3_stmt *stmt)',
  column: 'int64_t sqlite3_column_int64(sqlite3_stmt *stmt, int col)',
  reset: 'int sqlite3_reset(sqlite3_stmt *stmt)',
  finalize: 'int sqlite3_finalize(sqlite3_stmt *stmt)',
};

const SQLITE_OPEN_READWRITE = 0x02;
const SQLITE_OPEN_CREATE = 0x04;
const SQLITE_ROW = 100;
const SQLITE_DONE = 101;

/** The system SQLite in a HotLibrary: `sqlite3 *` and `sqlite3_stmt *` are handles. */
export function openSqlite(path = 'libsqlite3.so.0', options = {}) {
  return HotLibrary.open(path, {
    ...options,
    types: sqliteTypes,
    functions: SQLITE_API,
    handles: { sqlite3: 'close', sqlite3_stmt: 'finalize' },
  });
}

/**
 * One connection, with its own in-memory database and the statements it prepared: its state lives
 * in the SQLite that opened it, and every call on it goes to that generation, because each takes
 * one of its handles. (Not one database file for all: two copies of SQLite in one process do not
 * see each other's locks, so two generations must never have one file open at once.)
 */
class Connection {
  constructor(sqlite, id) {
    const fn = sqlite.fn;
    this.id = id;
    this.fn = fn;
    const out = [];
    if (fn.open(':memory:', out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, null) !== 0) {
      const message = out[0] ? fn.errmsg(out[0]) : 'out of memory';
      if (out[0]) fn.close(out[0]);
      throw new Error(`cannot open a database: ${message}`);
    }
    this.db = out[0];
    if (fn.exec(this.db, 'create table hits (generation integer)', null, null, null) !== 0) throw new Error(fn.errmsg(this.db));
    this.insert = this.#prepare('insert into hits (generation) values (?1)');
    this.count = this.#prepare('select count(*) from hits');
    this.written = 0;
  }

  /** The generation this connection (and every call on it) runs on. */
  get generation() {
    return this.db.generation;
  }

  #prepare(sql) {
    const out = [];
    if (this.fn.prepare(this.db, sql, -1, out, null) !== 0) throw new Error(`prepare: ${this.fn.errmsg(this.db)}`);
    return out[0];
  }

  /**
   * One query: a row written, and this connection's rows counted, each step on a worker thread.
   * Throws unless the count is what this connection wrote: its state went on across reloads.
   */
  async query() {
    const { fn } = this;
    fn.bind(this.insert, 1, this.generation);
    const done = await fn.step.async(this.insert);
    fn.reset(this.insert);
    if (done !== SQLITE_DONE) throw new Error(`insert: ${fn.errmsg(this.db)}`);
    this.written++;
    const row = await fn.step.async(this.count);
    const count = row === SQLITE_ROW ? Number(fn.column(this.count, 0)) : -1;
    fn.reset(this.count);
    if (count !== this.written) throw new Error(`connection ${this.id} counted ${count} rows, and wrote ${this.written}`);
  }

  /** Statements first, then the connection: each destructor runs on the generation that made it. */
  close() {
    this.fn.finalize(this.insert);
    this.fn.finalize(this.count);
    this.fn.close(this.db);
  }
}

export class Pool {
  #sqlite;
  #size;
  #idle = [];
  #waiting = [];
  #nextId = 1;
  /** Open connections by the generation they run on. */
  #byGeneration = new Map();

  /** Generations that had connections. */
  #served = new Set();
  /** Rows the connections closed so far had written. */
  rows = 0;

  /** `onDrained(generation)`: the last connection of a generation was closed. */
  constructor(sqlite, size, onDrained) {
    this.#sqlite = sqlite;
    this.#size = size;
    this.onDrained = onDrained;
    for (let i = 0; i < size; i++) this.#idle.push(this.#connect());
    // After a reload, the idle connections move at once; those in use, when they come back.
    sqlite.on('reload', () => {
      this.#idle = this.#idle.map((c) => this.#renew(c));
    });
  }

  /** `c`, or if it runs on an older generation than the current one, its replacement. */
  #renew(c) {
    if (c.generation === this.#sqlite.current) return c;
    this.#disconnect(c);
    return this.#connect();
  }

  #connect() {
    const c = new Connection(this.#sqlite, this.#nextId++);
    this.#byGeneration.set(c.generation, (this.#byGeneration.get(c.generation) ?? 0) + 1);
    this.#served.add(c.generation);
    return c;
  }

  #disconnect(c) {
    const generation = c.generation;
    this.rows += c.written;
    c.close();
    const left = this.#byGeneration.get(generation) - 1;
    if (left > 0) this.#byGeneration.set(generation, left);
    else {
      this.#byGeneration.delete(generation);
      this.onDrained?.(generation);
    }
  }

  /** Whether connections of `generation` were ever opened. */
  served(generation) {
    return this.#served.has(generation);
  }

  /** Open connections by generation, oldest first: `[[1, 3], [2, 5]]`. */
  generations() {
    return [...this.#byGeneration].sort((a, b) => a[0] - b[0]);
  }

  async #acquire() {
    const c = this.#idle.shift();
    return c ?? new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(c) {
    // A connection of an older generation is replaced as soon as it is idle: the pool moves to the
    // new code one connection at a time, with no query waiting for a reload.
    c = this.#renew(c);
    const next = this.#waiting.shift();
    if (next) next(c);
    else this.#idle.push(c);
  }

  /** Runs `work(connection)` on a connection of the pool. */
  async use(work) {
    const c = await this.#acquire();
    try {
      return await work(c);
    } finally {
      this.#release(c);
    }
  }

  /** Closes every connection; call once nothing uses the pool. */
  close() {
    if (this.#idle.length !== this.#size) throw new Error('the pool is still in use');
    for (const c of this.#idle.splice(0)) this.#disconnect(c);
  }
}
