/**
 * process.exit() while an `.async` call is still in library code (docs/reliability.md, "Exit").
 * node's exit joins its thread pool and would wait for that call for ever (koffi's async calls hang
 * it the same way); dlswap waits for its own pool calls at most 2 s, then ends the process with the
 * exit's code and says so on stderr. Each case runs in a child process: the blocked call is real
 * (libc's `sleep`, in the library's own namespace or image).
 */
import { describe, expect, it } from 'vitest';
import { runChild } from '../helpers';

const STUCK_MESSAGE = /dlswap: process\.exit\(\): 1 \.async call was still in library code 2000 ms after the exit began.*status 7/;

function child(mode: string, body: string) {
  const script = `
const lib = dlswap.open('libc.so.6', { isolation: ${JSON.stringify(mode)} });
const sleep = lib.func('unsigned int sleep(unsigned int s)');
const usleep = lib.func('int usleep(unsigned int us)');
${body}`;
  // A hang guard far beyond the 2 s bound: without the bound the child never ends.
  return runChild(script, { timeout: 60_000 });
}

describe.each(['namespace', 'deepbind'])('process.exit() with an .async call in library code (%s)', (mode) => {
  it('a call that never returns: the process ends with the exit code, after every exit listener, and says why', () => {
    const r = child(
      mode,
      `sleep.async(1000).then(() => console.log('woke'));
process.on('exit', (code) => console.log('listener ran with', code));
setTimeout(() => { console.log('exiting'); process.exit(7); }, 200);`,
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(7);
    expect(r.stdout).toBe('exiting\nlistener ran with 7\n');
    expect(r.stderr).toMatch(STUCK_MESSAGE);
  });

  it('a call that returns within the bound: node exits as it always does, and nothing is said', () => {
    const r = child(
      mode,
      `usleep.async(300000);
setTimeout(() => { console.log('exiting'); process.exit(5); }, 50);`,
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(5);
    expect(r.stdout).toBe('exiting\n');
    expect(r.stderr).toBe('');
  });

  it('no call in flight: process.exit() is untouched', () => {
    const r = child(mode, `usleep.async(1).then(() => { console.log('done'); process.exit(3); });`);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('done\n');
    expect(r.stderr).toBe('');
  });
});
