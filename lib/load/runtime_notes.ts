/**
 * NODE_DEBUG=dlswap: what the namespace runtime did on a library's behalf
 * (native/namespace/runtime_notes.h). A dlopen(..., RTLD_GLOBAL) it let into the namespace's global
 * scope, or withheld RTLD_GLOBAL from; a dlopen(NULL) it answered with the namespace's global scope; a
 * dlmopen(LM_ID_BASE) it kept in the namespace; an exit() or abort() it turned into a failed load.
 * Taken after every open and close. A library's own threads load modules whenever they like (oneTBB
 * loads its allocator on first use), so their notes show up at the next open or close.
 */
import { debug } from '../debug';
import { addon } from '../native';

/** dlswap's private copies are named `<n>-<6 hex digits>-<file name>`: the file name is what the user knows. */
export function shownName(text: string): string {
  return text.replace(/\b\d+-[0-9a-f]{6}-([^\s/"(),:;]+)/g, '$1');
}

let atExit = false;

/**
 * Prints the notes made since the last call; and at exit. Debugging off (NODE_DEBUG is read once),
 * they are not even taken: the native queue keeps at most 256 and counts the rest.
 */
export function traceRuntimeNotes(): void {
  if (!debug.enabled) return;
  const { notes, dropped } = addon.takeRuntimeNotes();
  if (!atExit) {
    atExit = true;
    process.once('exit', traceRuntimeNotes);
  }
  for (const note of notes) debug('runtime: %s', shownName(note));
  if (dropped > 0) debug('runtime: %d more notes were dropped (at most 256 wait between two opens or closes)', dropped);
}
