#include "module.h"
namespace dlswap { void InitLoader(Napi::Env, Napi::Object) {} }
