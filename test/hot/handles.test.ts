// Handles that follow their generation (lib/hot/handles.ts, docs/hot-reload.md#handles-and-generations),
// in every isolation mode, on fixtures-c/conn: a stateful library whose two versions answer
// differently (version * 1000 + the queries a connection served), and whose images each list the
// connections they made, so that a connection given to the wrong image, or closed twice, is counted
// (conn_foreign) instead of crashing. Every test asserts that count stayed 0: dlswap refused first.
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Handle, HotLibrary, type GenerationSetup } from '../../lib/hot/hot_library';
import { open, type Library } from '../../lib/load/library';
import { libraryOf } from '../../lib/call/func';
import { ISOLATION_MODES } from '../../lib/load/isolation';
import { types } from '../../lib/signature/ctypes';
import { fixture, strayPrivateFiles, underAsan } from '../helpers';

const V1 = fixture('libconn_v1.so');
const V2 = fixture('libconn_v2.so');
const TYPES = types('typedef struct conn conn; typedef struct cursor cursor;');
const FUNCTIONS = {
  open: 'conn *conn_open(const char *name)',
  openOut: 'int conn_open_out(const char *name, conn **out)',
  query: 'int conn_query(conn *c)',
  slow: 'int conn_slow(conn *c, int ms)',
  pair: 'int conn_pair(conn *x, conn *y)',
  self: 'conn *conn_self(conn *c)',
  close: 'int conn_close(conn *c)',
  cursor: 'cursor *cursor_open(conn *c)',
  next: 'int cursor_next(cursor *k)',
  closeCursor: 'int cursor_close(cursor *k)',
  crash: 'int conn_crash(conn *c)',
  version: 'int conn_version(void)',
  live: 'int conn_live(void)',
  cursors: 'int cursor_live(void)',
  foreign: 'int conn_foreign(void)',
} as const;
const HANDLES = { conn: 'close', cursor: 'closeCursor' } as const;
const MODES = ISOLATION_MODES.filter((m) => !(underAsan && m === 'deepbind'));

type Gen = GenerationSetup<typeof FUNCTIONS, {}, typeof HANDLES>;
type Options = Omit<NonNullable<Parameters<typeof HotLibrary.open>[1]>, 'functions' | 'types' | 'handles' | 'setup'>;

const opened: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
  expect(strayPrivateFiles()).toEqual([]);
});

/**
 * A HotLibrary on the conn fixture, and each generation's own functions and library by id (taken in
 * `setup`): what asks one generation how many connections it has, and how many foreign ones it saw.
 */
async function openConn(isolation: (typeof MODES)[number], options: Options = {}) {
  const gens = new Map<number, Gen>();
  const hot = await HotLibrary.open(V1, {
    isolation,
    ...options,
    types: TYPES,
    functions: FUNCTIONS,
    handles: HANDLES,
    setup: (gen) => void gens.set(gen.id, gen),
  });
  opened.push(hot);
  // Per generation still serving (active or draining): the calls its C code refused.
  const foreign = () =>
    hot
      .generations()
      .filter((g) => g.state === 'active' || g.state === 'draining')
      .map((g) => gens.get(g.id)!.fn.foreign());
  return { hot, gens, foreign };
}

/** The code of what `f` throws (or of the rejection), or 'returned'. */
async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'returned';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

function info(hot: HotLibrary<typeof FUNCTIONS, {}, typeof HANDLES>, id: number) {
  return hot.generations().find((g) => g.id === id)!;
}

describe.each(MODES)('handles in %s', (isolation) => {
  it("a handle's calls run on the generation that made it; new handles come from the current one; reload() does not wait for handles", async () => {
    const { hot, gens, foreign } = await openConn(isolation, { drainTimeoutMs: 100 });
    const timeouts: { inFlight: number; leases: number }[] = [];
    hot.on('drain-timeout', (e) => timeouts.push(e));
    const a = hot.fn.open('a')!;
    const out: (Handle<'conn'> | null)[] = [];
    expect(hot.fn.openOut('b', out)).toBe(0);
    const b = out[0]!;
    expect(a).toBeInstanceOf(Handle);
    expect([a.type, a.generation, b.type, b.generation]).toEqual(['conn', 1, 'conn', 1]);
    expect(hot.fn.query(a)).toBe(1001);
    const pending = hot.fn.slow.async(a, 50);

    // The default wait ('closed') resolves once the old generation has no call or lease left.
    const report = await hot.reload(V2);
    expect(await pending).toBe(1002);
    expect(report.heldByHandles).toBe(2);
    expect(report.unloaded).toBeUndefined();
    expect(info(hot, 1)).toMatchObject({ state: 'draining', handles: 2, leases: 0, inFlight: 0 });
    expect(info(hot, 2)).toMatchObject({ state: 'active', handles: 0 });

    const c = hot.fn.open('c')!;
    expect(c.generation).toBe(2);
    expect(hot.fn.query(c)).toBe(2001);
    expect(hot.fn.query(a)).toBe(1003); // old connections finish on old code
    expect(await hot.fn.query.async(b)).toBe(1001);
    // A handle made by a call on an old handle comes from that handle's generation.
    const k = hot.fn.cursor(a)!;
    expect([k.type, k.generation]).toEqual(['cursor', 1]);
    expect(hot.fn.next(k)).toBe(1001);
    // A function that gives back a pointer it already gave gives the same handle (released once).
    expect(hot.fn.self(a)).toBe(a);
    expect(info(hot, 1).handles).toBe(3);
    expect(hot.fn.version()).toBe(2);

    // Past drainTimeoutMs: handles are not a drain that is late. (A loaded machine may make the slow
    // call outlive 100 ms: a drain-timeout for it is right, one with no call and no lease is not.)
    await new Promise((r) => setTimeout(r, 300));
    expect(timeouts.filter((e) => e.inFlight === 0 && e.leases === 0)).toEqual([]);

    expect(hot.fn.closeCursor(k)).toBe(0);
    expect(hot.fn.close(a)).toBe(0);
    expect(foreign()).toEqual([0, 0]);
    expect(hot.fn.close(b)).toBe(0);
    expect(hot.fn.close(c)).toBe(0);
    await report.retired;
    expect(report.unloaded, report.pinnedReason).toBe(true);
    expect(foreign()).toEqual([0]);
    expect(gens.get(2)!.fn.live()).toBe(0);
  });

  it('a generation retires once its last handle is released through its own destructor, and not before', async () => {
    const { hot, gens, foreign } = await openConn(isolation);
    const unloaded: number[] = [];
    hot.on('unloaded', (e) => unloaded.push(e.generation));
    const a = hot.fn.open('a')!;
    const b = hot.fn.open('b')!;
    const first = await hot.reload(V2, { wait: 'swap' });
    let retired = false;
    void first.retired.then(() => (retired = true));
    // Generation 2 makes no handle: the next reload closes it while generation 1 is still held.
    const second = await hot.reload(V1);
    expect(second.unloaded).toBe(true);
    expect(unloaded).toEqual([2]);

    expect(hot.fn.close(a)).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(retired).toBe(false);
    expect(foreign()).toEqual([0, 0]);
    expect(gens.get(1)!.fn.live()).toBe(1);
    expect(info(hot, 1)).toMatchObject({ state: 'draining', handles: 1, leases: 0, inFlight: 0 });

    expect(await hot.fn.close.async(b)).toBe(0); // the last one, through generation 1's code
    await first.retired;
    expect(first.unloaded, first.pinnedReason).toBe(true);
    expect(unloaded).toEqual([2, 1]);
    expect(info(hot, 1)).toMatchObject({ state: 'closed', handles: 0, unloaded: true });
    expect(foreign()).toEqual([0]);
  });

  it('bad handles are typed errors, before any C runs: double release, an address, another type, another generation, another library, a closed generation', async () => {
    const { hot, gens, foreign } = await openConn(isolation);
    const a = hot.fn.open('a')!;
    const b = hot.fn.open('b')!;
    const k = hot.fn.cursor(b)!;
    const report = await hot.reload(V2, { wait: 'swap' });
    const c = hot.fn.open('c')!;

    // Double release, sync and async: the destructor runs once.
    expect(hot.fn.close(a)).toBe(0);
    expect(a.released).toBe(true);
    expect(await codeOf(() => hot.fn.close(a))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => hot.fn.query(a))).toBe('ERR_DLSWAP_STALE_HANDLE');
    const closing = hot.fn.closeCursor.async(k);
    expect(await codeOf(() => hot.fn.closeCursor.async(k))).toBe('ERR_DLSWAP_STALE_HANDLE'); // while its destructor runs
    expect(await closing).toBe(0);
    expect(await codeOf(() => hot.fn.closeCursor.async(k))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(gens.get(1)!.fn.live()).toBe(1);
    expect(gens.get(1)!.fn.cursors()).toBe(0);

    // Not a handle: an address (forged, or a handle's own), a look-alike, a handle of another type.
    expect(await codeOf(() => hot.fn.query(b.address))).toBe('ERR_DLSWAP_ARG');
    expect(await codeOf(() => hot.fn.query(0x1000n as never))).toBe('ERR_DLSWAP_ARG');
    expect(await codeOf(() => hot.fn.query({ ...b } as never))).toBe('ERR_DLSWAP_ARG');
    const k2 = hot.fn.cursor(c)!;
    expect(await codeOf(() => hot.fn.query(k2 as never))).toBe('ERR_DLSWAP_ARG');
    expect(await codeOf(() => hot.fn.openOut('x', {} as never))).toBe('ERR_DLSWAP_ARG');
    expect(await codeOf(() => hot.fn.openOut('x', new BigUint64Array(1) as never))).toBe('ERR_DLSWAP_ARG');

    // Another generation's functions: a lease's, setup's, a raw lib.func of its image; the
    // generation that made the handle takes it through each (its own raw function included).
    const lease = hot.pin();
    expect(await codeOf(() => lease.fn.query(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => lease.fn.query.async(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    lease.release();
    expect(await codeOf(() => gens.get(2)!.fn.query(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => gens.get(1)!.fn.query(c))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => gens.get(2)!.lib.func('int conn_query(conn *c)')(b as never))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(
      await codeOf(() =>
        gens
          .get(2)!
          .lib.func('int conn_query(void *c)')
          .async(b as never),
      ),
    ).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(gens.get(1)!.fn.query(b)).toBe(1001);
    expect(gens.get(1)!.lib.func('int conn_query(void *c)')(b as never)).toBe(1002);
    expect(hot.fn.query(b)).toBe(1003);
    // One call given handles of two generations.
    expect(await codeOf(() => hot.fn.pair(b, c))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(hot.fn.pair(b, b)).toBe(1);

    // Another library: another HotLibrary of the same file, and a plain open() of it.
    const other = await HotLibrary.open(V1, { isolation, types: TYPES, functions: FUNCTIONS, handles: HANDLES });
    opened.push(other);
    expect(await codeOf(() => other.fn.query(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => other.fn.close(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    const plain: Library = open(V1, { isolation, types: TYPES });
    opened.push(plain);
    expect(await codeOf(() => plain.func('int conn_close(conn *c)')(b as never))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => hot.fn.query(other.fn.open('o') as never))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(other.fn.foreign()).toBe(0);
    expect(plain.func('int conn_foreign(void)')()).toBe(0);

    // A handle of a closed generation: generation 1 goes with its last handle; b is then refused
    // everywhere, and nothing runs on the unmapped image.
    expect(foreign()).toEqual([0, 0]);
    expect(hot.fn.close(b)).toBe(0);
    await report.retired;
    expect(report.unloaded, report.pinnedReason).toBe(true);
    expect(await codeOf(() => hot.fn.query(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => hot.fn.close(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => plain.func('int conn_query(void *c)')(b as never))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => gens.get(2)!.lib.func('int conn_query(void *c)')(b as never))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(foreign()).toEqual([0]);
    expect(hot.fn.closeCursor(k2)).toBe(0);
    expect(hot.fn.close(c)).toBe(0);
  });

  it('the handles of a quarantined generation are released without calling anything, and refused', async () => {
    const { hot, gens } = await openConn(isolation, { onFault: 'quarantine' });
    const a = hot.fn.open('a')!;
    const b = hot.fn.open('b')!;
    expect(await codeOf(() => hot.fn.crash(a))).toBe('ERR_DLSWAP_FAULT');
    expect([a.released, b.released]).toEqual([true, true]);
    expect(info(hot, 1)).toMatchObject({ handles: 0 });
    expect(await codeOf(() => hot.fn.query(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => hot.fn.close(b))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(await codeOf(() => hot.fn.open('c'))).toBe('ERR_DLSWAP_FAULTED');
    const report = await hot.reload(V2);
    expect(report.heldByHandles).toBeUndefined();
    const c = hot.fn.open('c')!;
    expect(hot.fn.query(c)).toBe(2001);
    expect(await codeOf(() => hot.fn.query(a))).toBe('ERR_DLSWAP_STALE_HANDLE');
    expect(gens.get(2)!.fn.foreign()).toBe(0);
    expect(hot.fn.close(c)).toBe(0);
  });

  it('close() releases the handles still open through their destructors, newest first, then closes every generation', async () => {
    const seen: Record<number, { live: number; cursors: number }> = {};
    const gens = new Map<number, Gen>();
    const hot = await HotLibrary.open(V1, {
      isolation,
      types: TYPES,
      functions: FUNCTIONS,
      handles: HANDLES,
      setup: (gen) => void gens.set(gen.id, gen),
      teardown: (gen) => {
        seen[gen.id] = { live: gen.fn.live(), cursors: gen.fn.cursors() };
      },
    });
    const a = hot.fn.open('a')!;
    hot.fn.cursor(a); // conn_close refuses (-2) while a cursor is open: the cursor must go first
    await hot.reload(V2, { wait: 'swap' });
    const c = hot.fn.open('c')!;
    const pending = hot.fn.slow.async(c, 50);
    await hot.close();
    expect(await pending).toBe(2001); // close() waited for the call before it released c
    expect(seen).toEqual({ 1: { live: 0, cursors: 0 }, 2: { live: 0, cursors: 0 } });
    expect([a.released, c.released]).toEqual([true, true]);
    expect(hot.generations().map((g) => [g.state, g.handles, g.unloaded])).toEqual([
      ['closed', 0, true],
      ['closed', 0, true],
    ]);
    expect(await codeOf(() => hot.fn.query(c))).toBe('ERR_DLSWAP_STALE_HANDLE');
  });

  it("under 'handover', the state moves and the old generation's handles stay with it", async () => {
    const { hot, foreign } = await openConn(isolation, { policy: 'handover', drainTimeoutMs: 100 });
    const a = hot.fn.open('a')!;
    const report = await hot.reload(V2);
    expect(report.failedPhase).toBeUndefined();
    expect(report.heldByHandles).toBe(1);
    expect(hot.fn.query(a)).toBe(1001);
    expect(foreign()).toEqual([0, 0]);
    expect(hot.fn.close(a)).toBe(0);
    await report.retired;
    expect(report.unloaded, report.pinnedReason).toBe(true);
    expect(foreign()).toEqual([0]);
  });
});

describe('handles: the API', () => {
  it('functions that meet no handle stay the natively bound function; the others route each call', async () => {
    const { hot } = await openConn('namespace');
    expect(() => libraryOf(hot.fn.version)).not.toThrow();
    expect(() => libraryOf(hot.fn.query)).toThrow(/made by lib.func/);
    expect(hot.fn.query.signature.name).toBe('conn_query');
    const lease = hot.pin();
    expect(hot.fn.query.address).toBe(lease.fn.query.address);
    lease.release();
  });

  it('a Handle is made only by a HotLibrary function, and says what it is', async () => {
    expect(() => new (Handle as unknown as new (...a: unknown[]) => unknown)(Symbol('x'), {}, 1n)).toThrow(TypeError);
    const { hot } = await openConn('local');
    const a = hot.fn.open('a')!;
    expect(Object.isFrozen(a)).toBe(true);
    expect(inspect(a)).toMatch(/^Handle<conn> 0x[0-9a-f]+ \(generation 1\)$/);
    expect(hot.fn.close(a)).toBe(0);
    expect(inspect(a)).toMatch(/\(generation 1, released\)$/);
    expect(hot.fn.open('')).not.toBeNull();
  });

  it('a function that returns NULL gives null, and null is passed to C as NULL', async () => {
    const { hot, gens } = await openConn('local');
    expect(hot.fn.cursor(null)).toBeNull(); // cursor_open(NULL): NULL (and counted as foreign)
    expect(gens.get(1)!.fn.foreign()).toBe(1);
    const out: (Handle<'conn'> | null)[] = ['untouched' as never];
    expect(hot.fn.openOut('x', out)).toBe(0);
    expect(out[0]).toBeInstanceOf(Handle);
    expect(hot.fn.close(out[0])).toBe(0);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no types', { functions: { close: 'int conn_close(void *c)' }, handles: { conn: 'close' } }, /give 'types' too/],
    ['an undeclared type', { types: TYPES, functions: FUNCTIONS, handles: { sock: 'close' } }, /'sock' is not a type of option 'types'/],
    [
      'a struct with members',
      {
        types: types('struct full { int x; }; typedef struct conn conn;'),
        functions: { close: 'int conn_close(conn *c)' },
        handles: { 'struct full': 'close' },
      },
      /opaque struct/,
    ],
    ['a destructor not in functions', { types: TYPES, functions: FUNCTIONS, handles: { conn: 'conn_close' } }, /'conn_close' is not one of option 'functions'/],
    [
      'a destructor with two parameters',
      { types: TYPES, functions: { slow: FUNCTIONS.slow }, handles: { conn: 'slow' } },
      /must take the handle as its one parameter/,
    ],
    [
      'a destructor of another type',
      { types: TYPES, functions: { next: FUNCTIONS.next }, handles: { conn: 'next' } },
      /must take the handle as its one parameter/,
    ],
    [
      'one type under two names',
      {
        types: types('typedef struct conn conn; typedef struct conn conn_t;'),
        functions: { close: 'int conn_close(conn *c)' },
        handles: { conn: 'close', conn_t: 'close' },
      },
      /the same type as 'conn'/,
    ],
  ])('%s: ERR_DLSWAP_ARG naming the entry of handles, before anything loads', async (_, options, message) => {
    const e = await HotLibrary.open(V1, options as never).then(
      () => null,
      (err: Error & { code: string }) => err,
    );
    expect(e?.code).toBe('ERR_DLSWAP_ARG');
    expect(e?.message).toMatch(message);
    expect(e?.message).toMatch(/handles/);
  });
});
