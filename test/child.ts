import { spawn } from 'node:child_process';

/** How a child node process ended, and what it printed. */
export interface ChildRun {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when we killed it at the timeout. */
  timedOut: boolean;
  stdout: string;
  /** The last `stderrTail` characters of its stderr. */
  stderr: string;
  ms: number;
}

/**
 * Runs `node <script> ...args` without blocking the test process (unlike helpers.ts runChild, which
 * is synchronous), and SIGKILLs it at `timeoutMs`. A crash is an outcome to report, never a throw.
 */
export function runNode(script: string, args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; stderrTail?: number }): Promise<ChildRun> {
  const tail = opts.stderrTail ?? 6000;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > 4 * tail) stderr = stderr.slice(-tail);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr: stderr.slice(-tail), ms: Math.round(performance.now() - t0) });
    });
  });
}

/** The last line of stdout that parses as a JSON object with `key`, or null. */
export function lastJsonLine<T>(stdout: string, key: string): T | null {
  const lines = stdout.split('\n').filter((l) => l.startsWith('{'));
  for (const line of lines.reverse()) {
    try {
      const v = JSON.parse(line) as Record<string, unknown>;
      if (v && typeof v === 'object' && key in v) return v as T;
    } catch {
      // a library's own output that happens to start with '{'
    }
  }
  return null;
}

/** At most `n` tasks at a time, in the order they were queued. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (running >= n || queue.length === 0) return;
    running++;
    queue.shift()!();
  };
  return <T>(task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        task()
          .then(resolve, reject)
          .finally(() => {
            running--;
            next();
          });
      });
      next();
    });
}
