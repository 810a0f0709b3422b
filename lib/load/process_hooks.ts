/**
 * Process-wide hooks a library can leave behind when it is closed: signal handlers and an alternate
 * signal stack in its code or memory (native/image/process_hooks.h), the locale it set in a shared
 * namespace. What a close found and undid, in words, for close()'s result and one warning per
 * library. docs/isolation.md, "Process-wide hooks".
 */
import os from 'node:os';

/** What close() undid before the image was unmapped (CloseResult.restored). */
export interface RestoredHooks {
  /** Signals whose handler was in its code, set back to what they were before it was loaded. */
  signals: string[];
  /** A thread's alternate signal stack was in its memory and was disabled. */
  altstack: boolean;
  /** Locale categories it had set in its namespace, set back ('LC_NUMERIC', ...). */
  locale: string[];
}

const byNumber = new Map<number, string>(Object.entries(os.constants.signals).map(([name, n]) => [n, name]));

/** 'SIGUSR2' for 12; real-time signals as 'SIGRTMIN+n'. */
export function signalName(n: number): string {
  const known = byNumber.get(n);
  if (known) return known;
  return n >= 34 ? `SIGRTMIN+${n - 34}` : `signal ${n}`;
}

/** Why an image stays mapped while a later library may call its signal handlers. */
export function signalHoldReason(signals: number[]): string {
  const names = signals.map(signalName);
  const list = names.length > 1 ? `handlers for ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} were` : `handler for ${names[0]} was`;
  return (
    `a library loaded after it, while its ${list} installed, is still loaded and may call ${names.length > 1 ? 'them' : 'it'} ` +
    `(a handler that chains to the one it replaced does): it stays mapped until that library is gone, and is unloaded then. ` +
    `A library that restores what it installed (in dlswap_fini, or in its own cleanup called from a teardown hook) is unloaded at once`
  );
}

/** The restored hooks, or undefined when there were none. */
export function restoredHooks(signals: number[], altstack: boolean, locale: string[]): RestoredHooks | undefined {
  if (signals.length === 0 && !altstack && locale.length === 0) return undefined;
  return { signals: signals.map(signalName), altstack, locale };
}

const warned = new Set<string>();

/** Once per library path and kind of hook: a library that leaves hooks behind is told about. */
export function warnRestored(library: string, restored: RestoredHooks): void {
  const items: string[] = [];
  if (restored.signals.length) items.push(`the handlers of ${restored.signals.join(', ')}`);
  if (restored.altstack) items.push("a thread's alternate signal stack (in its memory)");
  if (restored.locale.length) items.push(`the locale of its namespace (${restored.locale.join(', ')})`);
  const key = `${library}\0${items.join(';')}`;
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(
    `${library} had changed process-wide state that it did not restore before it was closed: ${items.join('; ')}. ` +
      `dlswap set each back to what it was before the library was loaded. Restore them in the library's own cleanup (dlswap_fini, or a teardown hook that calls it).`,
    { code: 'DLSWAP_PROCESS_HOOKS' },
  );
}
