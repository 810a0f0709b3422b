// The program docs/debugging.md debugs: a HotLibrary of the debuggee fixture, reloaded once while a
// lease keeps the first generation mapped, then one call into the generation asked for.
//
//   node debuggee_app.cjs <isolation> <fault|crash|park|spin> <current|old>
//
// fault: a NULL read in ring_len (debuggee.c), in the call: dlswap contains it, the call throws
// ERR_DLSWAP_FAULT (uncaught here: exit status 1, unless a debugger stopped at the signal first);
// crash: the same read in a thread the library starts, outside any call through dlswap: not
// contained, the process dies with SIGSEGV; park: waits 60 s in debuggee_park for a debugger to
// attach (after printing "parked <pid>"); spin: 1 s of CPU in debuggee_spin_inner, then exits with
// the library open, as most programs do (a profiler reads its copy after the process has ended;
// one closed before that is gone, unless DLSWAP_KEEP_COPIES=1).
const path = require('node:path');
const { HotLibrary } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));
const fixtures = path.join(__dirname, '..', '..', 'build', 'fixtures');

const [isolation, action, which] = process.argv.slice(2);
(async () => {
  const hot = await HotLibrary.open(path.join(fixtures, 'libdebuggee_v1.so'), {
    isolation,
    functions: {
      version: 'int debuggee_version(void)',
      fault: 'int debuggee_fault(void)',
      crash: 'int debuggee_fault_in_thread(void)',
      park: 'void debuggee_park(unsigned seconds)',
      spin: 'unsigned long debuggee_spin(unsigned ms)',
    },
  });
  const lease = hot.pin(); // generation 1 stays mapped through the reload
  await hot.reload(path.join(fixtures, 'libdebuggee_v2.so'), { wait: 'swap' });
  const fn = which === 'old' ? lease.fn : hot.fn;
  console.log(JSON.stringify({ old: lease.fn.version(), current: hot.fn.version() }));
  if (action === 'fault') fn.fault();
  else if (action === 'crash') fn.crash();
  else if (action === 'park') {
    console.log(`parked ${process.pid}`);
    fn.park(60);
  } else if (action === 'spin') {
    fn.spin(1000);
    return;
  }
  lease.release();
  await hot.close();
})();
