// The queue of a plugin's log lines waiting for the JS thread is bounded (issue 21 item 12;
// native/plugin/plugin_host.h): past WIRE.logQueue lines are dropped, counted, and reported as
// 'log-dropped' after the lines queued before them.
import { afterEach, describe, expect, it } from 'vitest';
import { HotLibrary } from '../../lib/hot/hot_library';
import type { LogDroppedEvent, LogEvent } from '../../lib/hot/hot_types';
import { addon } from '../../lib/native';
import { fixture } from '../helpers';

const P1 = fixture('libplugin_v1.so');
const FUNCTIONS = { thread: 'int plugin_log_from_thread(int count)' } as const;

let hot: HotLibrary<typeof FUNCTIONS> | null = null;
afterEach(async () => {
  await hot?.close();
  hot = null;
});

describe('a plugin thread logging faster than the JS thread takes its lines', () => {
  it.each(['namespace', 'local'] as const)('%s: at most the bound is queued; every other line is counted and reported', async (mode) => {
    const bound = addon.WIRE.logQueue.lines;
    const sent = bound * 10;
    hot = await HotLibrary.open(P1, { isolation: mode, functions: FUNCTIONS });
    const lines: LogEvent[] = [];
    const drops: LogDroppedEvent[] = [];
    hot.on('log', (e) => {
      if (e.message.startsWith('thread log ')) lines.push(e);
    });
    hot.on('log-dropped', (e) => drops.push(e));
    // The plugin's own thread logs `sent` lines; the second call joins it before it returns, so the
    // JS thread takes none of them until every one was logged: all past the bound are dropped.
    expect(hot.fn.thread(sent)).toBe(0);
    expect(hot.fn.thread(0)).toBe(0);
    const dropped = () => drops.reduce((a, d) => a + d.dropped, 0);
    // Bounded: the lines and the notice were all queued already, and arrive in a few turns.
    for (let i = 0; i < 500 && lines.length + dropped() < sent; i++) await new Promise((r) => setImmediate(r));
    expect(lines.length).toBe(bound);
    expect(dropped()).toBe(sent - bound);
    // The lines that were kept are the first ones, in order, and the notice came after them.
    expect(lines[0].message).toBe('thread log 0');
    expect(lines.at(-1)!.message).toBe(`thread log ${bound - 1}`);
    expect(drops).toEqual([{ generation: 1, dropped: sent - bound, total: sent - bound }]);
    // Logging goes on normally once the queue has room.
    expect(hot.fn.thread(3)).toBe(0);
    expect(hot.fn.thread(0)).toBe(0);
    for (let i = 0; i < 500 && lines.length < bound + 3; i++) await new Promise((r) => setImmediate(r));
    expect(lines.slice(bound).map((l) => l.message)).toEqual(['thread log 0', 'thread log 1', 'thread log 2']);
    expect(drops).toHaveLength(1);
  });
});
