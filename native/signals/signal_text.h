// Words for a fault: the signal's name and what its si_code says, for the handler's report and
// the ERR_DLSWAP_FAULT message alike. Async-signal-safe (static strings only).
#pragma once

namespace dlswap {

const char *SignalName(int sig);                // "SIGSEGV", or "thread exit" for kThreadExit
const char *SignalCodeName(int sig, int code);  // "SEGV_MAPERR", or "" when the code is not one of the signal's own
const char *SignalCodeText(int sig, int code);  // "address not mapped", ...

}  // namespace dlswap
