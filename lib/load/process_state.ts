/**
 * Process-wide state a load job needs, read on the JS thread that asks for the load and handed to
 * the job with its spec.
 *
 * The loader thread never reads process-wide state that a JS thread may be writing: node's
 * `environ` (every `process.env.X = ...` is a setenv that may reallocate and free the array a reader
 * is walking: a SIGSEGV in the reader), the current directory (`process.chdir()`), the locale or the
 * umask. What a job needs of them is read here, through node's own accessors (`process.env` takes
 * node's environment lock), and travels in the spec; what it does not need (the locale for error
 * texts, the umask for file modes) the native side does without. docs/reliability.md lists every
 * job and what it reads.
 */

/** The directory relative paths resolve against, as this thread sees it now. */
export function currentDirectory(): string {
  return process.cwd();
}

// The entries handed over last (frozen). While process.env reads the same, the same array is handed
// over again, and the loader does not convert it again (native/loader/jobs_js.cc).
let last: readonly string[] = Object.freeze([]);

/**
 * `process.env` as NAME=value entries: what a namespace's libc reads through getenv (its own copy:
 * native/namespace/namespace_environ.cc). In a worker, its own `process.env` (a copy of the
 * parent's unless the worker shares it). Read in full on every call; the array is the last one
 * when nothing changed.
 */
export function environmentEntries(): readonly string[] {
  const env = process.env;
  const out: string[] = [];
  let same = true;
  // Object.keys, not for-in: for-in asks node once more per name whether it is enumerable.
  for (const name of Object.keys(env)) {
    const value = env[name];
    if (value === undefined) continue;
    const entry = `${name}=${value}`;
    if (same && last[out.length] !== entry) same = false;
    out.push(entry);
  }
  if (same && out.length === last.length) return last;
  last = Object.freeze(out);
  return last;
}
