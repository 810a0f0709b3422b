// placeholder: replaced by the call machinery
#include "module.h"
namespace dlswap { void InitCalls(Napi::Env, Napi::Object) {} }
