// The seed-001 architecture (docs/background): a thin loader (node) and a hot-updatable C++ core
// library, libmyservice.so, that ships its own dependencies beside it and finds them through
// RUNPATH $ORIGIN:
//
//   seed001/v1/libmyservice.so   SERVICE_VERSION=123   NEEDED libhelper.so.1, RUNPATH $ORIGIN
//   seed001/v1/libhelper.so.1    HELPER_VERSION=23     NEEDED libinner.so.1, RUNPATH $ORIGIN,
//                                                      symbols versioned HELPER_1 (DT_VERDEF)
//   seed001/v1/libinner.so.1     INNER_VERSION=23
//   seed001/v2/...               124 / 24 / 24
//
// Both versions' dependencies have the same SONAMEs. Every answer says which files served it:
// service_answer() = SERVICE_VERSION * 10000 + helper_answer() * 100 + inner (through the helper),
// so 1232323 is a correct v1 answer and 1242424 a correct v2 one; 1242323 is v2 served by v1's
// helper, the silent failure this fixture exists to catch.
#include <cstdint>
#include <mutex>
#include <string>

#include "dlswap.h"

#ifndef SERVICE_VERSION
#error "compile with -DSERVICE_VERSION=N"
#endif

extern "C" int helper_answer(void);
extern "C" int helper_inner(void);

namespace {
std::mutex mu;
uint64_t served = 0;
std::string name = "myservice v" + std::to_string(SERVICE_VERSION);
}  // namespace

extern "C" {

uint32_t dlswap_abi_version(void) { return DLSWAP_ABI_VERSION; }
const char *dlswap_version(void) { return name.c_str(); }

int service_version(void) { return SERVICE_VERSION; }
int service_helper(void) { return helper_answer(); }
int service_inner(void) { return helper_inner(); }

int service_answer(void) {
  std::lock_guard<std::mutex> lock(mu);
  ++served;
  return SERVICE_VERSION * 10000 + helper_answer() * 100 + helper_inner();
}

uint64_t service_served(void) {
  std::lock_guard<std::mutex> lock(mu);
  return served;
}

}  // extern "C"
