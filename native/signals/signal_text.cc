#include "signals/signal_text.h"

#include <signal.h>

#include "signals/recovery.h"

namespace dlswap {

const char *SignalName(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case kThreadExit: return "pthread_exit";
    default: return "signal";
  }
}

namespace {

struct Code {
  int sig, code;
  const char *name, *text;
};

constexpr Code kCodes[] = {
    {SIGSEGV, SEGV_MAPERR, "SEGV_MAPERR", "address not mapped"},
    {SIGSEGV, SEGV_ACCERR, "SEGV_ACCERR", "access not permitted by the mapping"},
    {SIGBUS, BUS_ADRALN, "BUS_ADRALN", "misaligned address"},
    {SIGBUS, BUS_ADRERR, "BUS_ADRERR", "address beyond the end of a mapped file"},
    {SIGBUS, BUS_OBJERR, "BUS_OBJERR", "hardware error on the mapped object"},
    {SIGFPE, FPE_INTDIV, "FPE_INTDIV", "integer division by zero"},
    {SIGFPE, FPE_INTOVF, "FPE_INTOVF", "integer overflow"},
    {SIGFPE, FPE_FLTDIV, "FPE_FLTDIV", "floating-point division by zero"},
    {SIGFPE, FPE_FLTOVF, "FPE_FLTOVF", "floating-point overflow"},
    {SIGFPE, FPE_FLTUND, "FPE_FLTUND", "floating-point underflow"},
    {SIGFPE, FPE_FLTRES, "FPE_FLTRES", "inexact floating-point result"},
    {SIGFPE, FPE_FLTINV, "FPE_FLTINV", "invalid floating-point operation"},
    {SIGILL, ILL_ILLOPC, "ILL_ILLOPC", "illegal opcode"},
    {SIGILL, ILL_ILLOPN, "ILL_ILLOPN", "illegal operand"},
    {SIGILL, ILL_ILLADR, "ILL_ILLADR", "illegal addressing mode"},
    {SIGILL, ILL_ILLTRP, "ILL_ILLTRP", "illegal trap"},
    {SIGILL, ILL_PRVOPC, "ILL_PRVOPC", "privileged opcode"},
};

const Code *Find(int sig, int code) {
  for (const Code &c : kCodes) {
    if (c.sig == sig && c.code == code) return &c;
  }
  return nullptr;
}

}  // namespace

const char *SignalCodeName(int sig, int code) {
  const Code *c = Find(sig, code);
  return c ? c->name : "";
}

const char *SignalCodeText(int sig, int code) {
  if (sig == SIGABRT) return "abort() was called";
  if (sig == kThreadExit) return "the library called pthread_exit() during the call";
  const Code *c = Find(sig, code);
  return c ? c->text : "raised by the code";
}

}  // namespace dlswap
