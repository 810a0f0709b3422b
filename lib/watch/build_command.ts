/**
 * One run of a watch build step's command: in a process group of its own, bounded in time, its
 * output kept (bounded too), and never left behind. A hung compiler is killed at the deadline; a
 * build still running when its HotLibrary closes, or when the process exits, is killed with its
 * whole group (make's children, the compiler's cc1, the linker), so no orphan keeps writing.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** How long a stopped build gets to exit on SIGTERM (a compiler removes its half-written output) before SIGKILL. */
const STOP_GRACE_MS = 2_000;
/** How long the output pipes may stay open after the command exited (held by something it started). */
const PIPE_GRACE_MS = 1_000;
/** Output kept: the start (where the first compiler error is) and the end (make's verdict). */
const HEAD_BYTES = 48 * 1024;
const TAIL_BYTES = 16 * 1024;

export interface BuildCommand {
  /** A shell command line (run with /bin/sh -c), or an argv run without a shell. */
  command: string | readonly string[];
  cwd: string;
  timeoutMs: number;
}

export interface BuildOutcome {
  ok: boolean;
  /** null when the command was killed by a signal or could not be started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Killed because it ran longer than its timeout. */
  timedOut: boolean;
  /** stdout and stderr interleaved as they arrived; the middle of a very long output is cut. */
  output: string;
  durationMs: number;
  /** Why it could not be started (a missing program, a missing directory). */
  startError?: string;
}

export interface RunningBuild {
  readonly pid: number | undefined;
  readonly done: Promise<BuildOutcome>;
  /** SIGTERM to the group, SIGKILL after a grace period; resolves once the command has exited (bounded). */
  stop(): Promise<void>;
}

/** The command as a person would type it, for messages. */
export function describeCommand(command: string | readonly string[]): string {
  if (typeof command === 'string') return command;
  return command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

// Process groups of builds still running: killed if the process exits first (a build outliving
// the program that started it would write a library nobody loads, or hold a terminal).
const liveGroups = new Set<number>();
let exitHook = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is gone already
  }
}

/** Starts `cmd`; `done` resolves (never rejects) with what happened. */
export function startBuild(cmd: BuildCommand): RunningBuild {
  const started = performance.now();
  const output = new BoundedOutput();
  let child: ChildProcess;
  const argv = typeof cmd.command === 'string' ? ['/bin/sh', '-c', cmd.command] : [...cmd.command];
  try {
    // detached: the command leads a new session and process group, which is what gets killed.
    child = spawn(argv[0], argv.slice(1), { cwd: cmd.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const startError = `cannot run ${describeCommand(cmd.command)}: ${(e as Error).message}`;
    return {
      pid: undefined,
      done: Promise.resolve({ ok: false, exitCode: null, signal: null, timedOut: false, output: '', durationMs: 0, startError }),
      stop: async () => {},
    };
  }
  const pid = child.pid;
  if (pid !== undefined) {
    liveGroups.add(pid);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const g of liveGroups) killGroup(g, 'SIGKILL');
      });
    }
  }
  child.stdout!.on('data', (d: Buffer) => output.add(d));
  child.stderr!.on('data', (d: Buffer) => output.add(d));

  let timedOut = false;
  let exited = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
  }, cmd.timeoutMs);

  const done = new Promise<BuildOutcome>((resolve) => {
    let settled = false;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, startError?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok: exitCode === 0 && !timedOut, exitCode, signal, timedOut, output: output.text(), durationMs: performance.now() - started, startError });
    };
    child.once('error', (e) => {
      exited = true;
      if (pid !== undefined) liveGroups.delete(pid);
      finish(null, null, `cannot run ${describeCommand(cmd.command)} in ${cmd.cwd}: ${e.message}`);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      // Whatever the command left running in its group (a backgrounded step) goes with it.
      if (pid !== undefined) {
        killGroup(pid, 'SIGKILL');
        liveGroups.delete(pid);
      }
      // The pipes close once the last writer is gone; the output that was still in them is read first.
      const late = setTimeout(() => finish(code, signal), PIPE_GRACE_MS);
      child.once('close', () => {
        clearTimeout(late);
        finish(code, signal);
      });
    });
  });

  const stop = async (): Promise<void> => {
    if (exited || pid === undefined) {
      await done;
      return;
    }
    killGroup(pid, 'SIGTERM');
    const hard = setTimeout(() => killGroup(pid, 'SIGKILL'), STOP_GRACE_MS);
    // Bounded even if the kernel took its time: SIGKILL cannot be ignored, so the exit follows.
    await Promise.race([done, new Promise((r) => setTimeout(r, STOP_GRACE_MS + 3_000).unref())]);
    clearTimeout(hard);
  };
  return { pid, done, stop };
}

/** The start and the end of a stream, with the size of what was left out between them. */
class BoundedOutput {
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  #dropped = 0;

  add(chunk: Buffer): void {
    if (this.#headBytes < HEAD_BYTES) {
      const take = chunk.subarray(0, HEAD_BYTES - this.#headBytes);
      this.#head.push(take);
      this.#headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    this.#tail.push(chunk);
    this.#tailBytes += chunk.length;
    while (this.#tailBytes - this.#tail[0].length >= TAIL_BYTES) {
      const first = this.#tail.shift()!;
      this.#tailBytes -= first.length;
      this.#dropped += first.length;
    }
  }

  text(): string {
    let tail = Buffer.concat(this.#tail);
    const dropped = this.#dropped + Math.max(0, tail.length - TAIL_BYTES);
    tail = tail.subarray(Math.max(0, tail.length - TAIL_BYTES));
    const cut = dropped > 0 ? `\n[... ${dropped} bytes of build output left out ...]\n` : '';
    return Buffer.concat(this.#head).toString('utf8') + cut + tail.toString('utf8');
  }
}
