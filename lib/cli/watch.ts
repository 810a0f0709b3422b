/**
 * `dlswap watch <lib.so>`: opens a library as a HotLibrary that reloads itself on every rebuild, and
 * prints what happens: each reload (generation, build-id, phase durations, whether the old image
 * went away), each build it skipped and why, and optionally the result of a no-argument function
 * after each reload. Runs until SIGINT/SIGTERM, then closes every generation.
 * Exit codes: 0 stopped by a signal, 1 the library could not be opened, 2 usage error.
 */
import { HotLibrary, type ReloadReport } from '../hot/hot_library';
import { ISOLATION_MODES, type Isolation } from '../load/isolation';
import { MAX_TIMER_MS } from '../options';
import { parsePrototype } from '../signature/signature';
import type { WatchSkip } from '../watch/watch';
import type { HotWatchSkip } from '../hot/events';
import type { BuildFailure } from '../watch/rebuilder';
import path from 'node:path';
import { colors, colorEnabled, parseCommand, usageError, UsageError } from './format';
import { fileSize, loadInProgress, ProgressLine } from './progress';

const USAGE = `usage: dlswap watch <lib.so> [--isolation MODE] [--call 'int f(void)'] [--interval MS] [--poll MS]
                    [--build CMD --source PATH... [--build-timeout MS]]

Loads the library and reloads it each time the file is rebuilt (once the write has finished, the
file is a valid ELF shared library and its content changed). Invalid or half-written builds are
reported and skipped; the current generation keeps serving. Ctrl-C stops.

  --isolation MODE   ${ISOLATION_MODES.join(' | ')} (default namespace)
  --call PROTO       a C function without arguments to call after each load, e.g. 'int version(void)';
                     every build must export it (one that does not is rejected)
  --interval MS      quiet period after the last change before the file is examined (default 100)
  --poll MS          also check the file every MS ms (for file systems without inotify: NFS, some
                     container mounts)
  --build CMD        a shell command that rebuilds the library (e.g. 'make'), run when a source changes;
                     one build at a time, compiler errors shown, the library reloaded as soon as it succeeds
  --source PATH      a source file, directory or glob ('src/*.c', 'src/**/*.{c,h}') whose changes start
                     the build; repeat for more (needed with --build)
  --build-timeout MS a build still running after MS ms is killed (default 300000)
`;

interface Args {
  file: string;
  isolation: Isolation;
  call?: string;
  interval?: number;
  poll?: number;
  build?: string;
  sources?: string[];
  buildTimeout?: number;
}

const parseWatchCommand = (argv: string[]) =>
  parseCommand(argv, {
    isolation: { type: 'string' },
    call: { type: 'string' },
    interval: { type: 'string' },
    poll: { type: 'string' },
    build: { type: 'string' },
    source: { type: 'string', multiple: true },
    'build-timeout': { type: 'string' },
  });

function parse(argv: string[]): Args | { help: true } | string {
  let args: ReturnType<typeof parseWatchCommand>;
  try {
    args = parseWatchCommand(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  const v = args.values;
  if (v.help) return { help: true };
  if (v.isolation !== undefined && !(ISOLATION_MODES as readonly string[]).includes(v.isolation)) return `unknown isolation mode '${v.isolation}'`;
  const millis = (name: 'interval' | 'poll' | 'build-timeout'): number | undefined | string => {
    const value = v[name];
    if (value === undefined) return undefined;
    const n = Number(value);
    return Number.isFinite(n) && n >= 0 && n <= MAX_TIMER_MS && value.trim() !== ''
      ? n
      : `option '--${name}' takes a number of milliseconds from 0 to ${MAX_TIMER_MS}, not '${value}'`;
  };
  const interval = millis('interval');
  const poll = millis('poll');
  const buildTimeout = millis('build-timeout');
  if (typeof interval === 'string') return interval;
  if (typeof poll === 'string') return poll;
  if (typeof buildTimeout === 'string') return buildTimeout;
  const sources = v.source as string[] | undefined;
  if (v.build !== undefined && !sources?.length) return `--build needs at least one --source: the files whose changes start the build`;
  if (v.build === undefined && (sources?.length || buildTimeout !== undefined))
    return `--source and --build-timeout need --build, the command that rebuilds the library`;
  const positionals = args.positionals;
  if (positionals.length !== 1) return positionals.length === 0 ? 'missing the library path' : 'expected exactly one library path';
  return {
    file: positionals[0],
    isolation: (v.isolation as Isolation | undefined) ?? 'namespace',
    call: v.call,
    interval,
    poll,
    build: v.build,
    sources,
    buildTimeout,
  };
}

function clock(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function ms(n: number | undefined): string {
  return n === undefined ? '-' : n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`;
}

export interface WatchRunOptions {
  /** Stops the watch as SIGINT would (for embedding and tests). */
  signal?: AbortSignal;
  err?: NodeJS.WritableStream;
}

export async function runWatch(argv: string[], out: NodeJS.WritableStream, isTTY: boolean, options: WatchRunOptions = {}): Promise<number> {
  const err = options.err ?? process.stderr;
  const args = parse(argv);
  if (typeof args === 'string') return usageError(err, 'watch', args, USAGE);
  if ('help' in args) {
    out.write(USAGE);
    return 0;
  }
  let callName: string | undefined;
  if (args.call !== undefined) {
    try {
      const sig = parsePrototype(args.call);
      if (sig.params.length !== 0 || sig.variadic) return usage(err, `--call takes a function without arguments ('int ${sig.name}(void)'), not '${args.call}'`);
      callName = sig.name;
    } catch (e) {
      return usage(err, `--call: ${(e as Error).message}`);
    }
  }
  const c = colors(colorEnabled(isTTY, process.env, out));

  // Every line below goes through `line`, which first clears the progress line a load may show.
  const line = new ProgressLine(out, isTTY);
  const openedAt = Date.now();
  const bytes = fileSize(args.file);
  const stopOpening = line.follow(() => ({ path: args.file, bytes, elapsedMs: Date.now() - openedAt }), c.dim);
  let hot: HotLibrary<Record<string, string>>;
  try {
    hot = await HotLibrary.open(args.file, {
      isolation: args.isolation,
      functions: args.call !== undefined && callName ? { [callName]: args.call } : {},
      watch: {
        debounceMs: args.interval,
        pollIntervalMs: args.poll,
        ...(args.build !== undefined ? { build: args.build, sources: args.sources, buildTimeoutMs: args.buildTimeout } : {}),
      },
    });
  } catch (e) {
    stopOpening();
    const error = e as Error & { code?: string; causeCode?: string };
    err.write(`dlswap watch: ${error.causeCode ?? error.code ?? 'error'}: ${error.message}\n`);
    return 1;
  }

  stopOpening();
  const stopFollowing = line.follow(() => loadInProgress(hot.generations(), Date.now()), c.dim);

  const describe = (id: number): string => {
    const g = hot.generations().find((x) => x.id === id);
    const parts = [`build-id ${g?.buildId ? g.buildId.slice(0, 16) : c.dim('none')}`];
    if (g?.version) parts.push(g.version);
    return parts.join('  ');
  };
  const callOnce = () => {
    if (!callName) return;
    try {
      const value = (hot.fn[callName] as unknown as () => unknown)();
      line.write(`  ${callName}() = ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)}\n`);
    } catch (e) {
      line.write(`  ${callName}() ${c.red('threw')} ${(e as Error).message}\n`);
    }
  };

  let reloads = 0;
  let skips = 0;
  line.write(`${c.bold('watching')} ${args.file} (isolation ${args.isolation}); generation ${hot.current}  ${describe(hot.current)}\n`);
  callOnce();

  hot.on('log', (e: { generation: number; message: string }) => line.write(c.dim(`  [generation ${e.generation}] ${e.message}\n`)));
  hot.on('watch-reload', (r: ReloadReport) => {
    reloads++;
    line.write(`${clock()}  ${c.green(`generation ${r.to} serving`)}  ${describe(r.to)}\n`);
    callOnce();
    // The watcher resolves at the swap; the old generation's drain and close are reported when done.
    void r.retired.then(() => {
      const d = r.durations;
      const phases = (['loading', 'verifying', 'swap', 'draining', 'finalizing', 'closing'] as const)
        .filter((p) => d[p] !== undefined)
        .map((p) => `${p} ${ms(d[p])}`)
        .join(', ');
      const old =
        r.unloaded === undefined
          ? ''
          : r.unloaded
            ? `; generation ${r.from} unloaded`
            : `; generation ${r.from} ${c.yellow('still mapped')}: ${r.pinnedReason}`;
      line.write(c.dim(`  ${phases}${old}\n`));
    });
  });
  const relative = (f: string) => path.relative(process.cwd(), f) || f;
  const indent = (text: string) =>
    text
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n');
  hot.on('watch-build-start', (b) => {
    line.write(`${clock()}  ${c.bold('building')} (${b.changed.map(relative).join(', ')} changed): ${b.command}\n`);
  });
  hot.on('watch-build', (b) => {
    line.write(c.dim(`  built in ${ms(b.durationMs)}\n`));
    if (b.output.trim()) line.write(c.dim(`${indent(b.output)}\n`));
  });
  hot.on('watch-skip', (s: HotWatchSkip) => {
    skips++;
    if (s.reason === 'reload-failed') {
      const e = s.error;
      line.write(`${clock()}  ${c.red('reload failed')} (${e.causeCode ?? 'error'}): ${e.message}; generation ${hot.current} keeps serving\n`);
      return;
    }
    if (s.reason === 'build-failed' || s.reason === 'build-timeout') {
      const b = s as BuildFailure;
      const how =
        b.reason === 'build-timeout'
          ? 'build timed out'
          : b.exitCode !== null
            ? `build failed (exit ${b.exitCode})`
            : b.signal
              ? `build killed (${b.signal})`
              : 'build failed';
      line.write(`${clock()}  ${c.red(how)} after ${ms(b.durationMs)}; generation ${hot.current} keeps serving\n`);
      line.write(`${indent(b.output.trim() ? b.output : b.message)}\n`);
      return;
    }
    const label = s.reason === 'unchanged' ? c.dim : s.reason === 'vanished' ? c.yellow : c.red;
    line.write(`${clock()}  ${label(`skipped (${s.reason})`)}: ${(s as WatchSkip).message}\n`);
  });
  hot.on('pinned', (p: { generation: number; reason: string }) => line.write(c.yellow(`  generation ${p.generation} could not be unmapped: ${p.reason}\n`)));

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      options.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop);
  });

  stopFollowing();
  if (isTTY) out.write('\n');
  await hot.close();
  const gens = hot.generations();
  const pinned = gens.filter((g) => g.unloaded === false).length;
  out.write(
    `stopped: ${reloads} reload${reloads === 1 ? '' : 's'}, ${skips} skipped build${skips === 1 ? '' : 's'}; ` +
      `${gens.filter((g) => g.state === 'closed').length} generations closed${pinned ? `, ${pinned} still mapped` : ''}\n`,
  );
  return 0;
}

function usage(err: NodeJS.WritableStream, why: string): number {
  err.write(`dlswap watch: ${why}\n\n${USAGE}`);
  return 2;
}
