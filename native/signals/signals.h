// dlswap's own signal handling, all of it: which signals dlswap installs a handler for, and what
// each is for. Every handler of dlswap is installed here (InstallHandler), and passes anything that
// is not its own to the disposition it replaced (ChainToPrevious). Whoever needs another signal
// adds it to this table, with its purpose.
//
//   SIGSEGV, SIGBUS, SIGFPE, SIGILL  a fault in a library's code: contained when a call through
//                                    dlswap runs it (containment.cc), reported when not
//   SIGABRT                          abort() (or a failed assert) in a library's code: the same
//   the highest free real-time one   the thread sample (thread_sample.h): a thread running in user
//                                    space is asked for its registers by the scan of threads that
//                                    could run an image's code (image/thread_scan.h)
//
// The handlers are installed once per process, when the addon is first loaded (node installs its
// WebAssembly trap handler for SIGSEGV at start-up, before any addon), and before any library is
// loaded: a signal that is not dlswap's goes to whatever was there before, exactly as if dlswap had
// no handler. A handler installed after dlswap's that chains (V8's trap handler does) reaches it
// the same way. The addon is never unloaded (CMakeLists.txt: -z nodelete), so its handlers never
// point into unmapped code.
#pragma once
#include <signal.h>

namespace dlswap {

using SignalHandler = void (*)(int sig, siginfo_t *info, void *context);

// The signals of the first two lines of the table above, in its order.
constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

// Makes `handler` the disposition of `sig` (SA_SIGINFO | SA_ONSTACK | `flags`, no signal masked),
// and keeps the disposition it replaces for ChainToPrevious. Once per signal per process, before
// anything could send it to `handler`; the caller serialises the installs of one signal.
// false: sigaction refused (nothing changed).
bool InstallHandler(int sig, SignalHandler handler, int flags = 0);

// Whether `handler` is the disposition of `sig` now (a library may have put its own in its place).
bool HandlerInstalled(int sig, SignalHandler handler);

// Hands a signal that is not dlswap's to the disposition InstallHandler replaced: that handler, or
// the default action (for a fault, its core dump and exit status). Async-signal-safe.
void ChainToPrevious(int sig, siginfo_t *info, void *context);

// Installs dlswap's handler for every signal of kFaultSignals (idempotent; thread-safe).
void InstallFaultHandlers();

// Whether dlswap's fault handler is the disposition of `sig` now.
bool FaultHandlerInstalled(int sig);

// containment.cc: the fault handler itself.
void OnFaultSignal(int sig, siginfo_t *info, void *context);

}  // namespace dlswap
