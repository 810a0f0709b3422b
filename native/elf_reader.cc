// placeholder: replaced by the ELF reader
#include "module.h"
namespace dlswap { void InitElf(Napi::Env, Napi::Object) {} }
