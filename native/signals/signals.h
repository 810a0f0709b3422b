// dlswap's own signal handling, all of it: which signals dlswap installs a handler for, and what
// each is for. Whoever needs another signal adds it here, with its purpose, and chains to the
// previous disposition for anything that is not theirs (ChainToPrevious).
//
//   SIGSEGV, SIGBUS, SIGFPE, SIGILL  a fault in a library's code: contained when a call through
//                                    dlswap runs it (containment.cc), reported when not
//   SIGABRT                          abort() (or a failed assert) in a library's code: the same
//
// The handlers are installed once per process, when the addon is first loaded, after node's own
// (node installs its WebAssembly trap handler for SIGSEGV at start-up): a fault that is not
// dlswap's goes to whatever was there before, exactly as if dlswap had no handler. A handler
// installed after dlswap's that chains (V8's trap handler does) reaches it the same way.
#pragma once
#include <signal.h>

namespace dlswap {

// The signals of the table above, in its order.
constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

// Installs dlswap's handler for every signal of kFaultSignals (idempotent; thread-safe).
void InstallFaultHandlers();

// Whether dlswap's handler is the disposition of `sig` now (a library may have replaced it).
bool FaultHandlerInstalled(int sig);

// Hands a signal that is not dlswap's to the disposition it had before dlswap's handler: that
// handler, or the default action (core dump and the signal's exit status). Async-signal-safe.
void ChainToPrevious(int sig, siginfo_t *info, void *context);

// containment.cc: the handler itself.
void OnFaultSignal(int sig, siginfo_t *info, void *context);

}  // namespace dlswap
