// The addon's exports, all of them: each module below registers its own, and lib/native.ts types
// what they add up to. Per environment (each worker_thread loads the addon anew), the state they
// share is an AddonData.
#include <napi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/addon_data.h"
#include "common/pool_exit.h"
#include "common/process_end.h"

namespace dlswap {

void RegisterWire(Napi::Env env, Napi::Object exports);              // wire.cc: WIRE, the numbers lib/ shares
void RegisterNativeLibrary(Napi::Env env, Napi::Object exports);     // image/: NativeLibrary, a loaded image
void RegisterImageOrigins(Napi::Env env, Napi::Object exports);      // image/: mappedImages, where each image lives
void RegisterNamespaces(Napi::Env env, Napi::Object exports);        // namespace/: the runtime, the anchor, stats
void RegisterNamespaceProbe(Napi::Env env, Napi::Object exports);    // namespace/: probeNamespaces (doctor)
void RegisterLoaderJobs(Napi::Env env, Napi::Object exports);        // loader/: load, retire, handover
void RegisterPrivateArea(Napi::Env env, Napi::Object exports);       // loader/: the private area
void RegisterDependencies(Napi::Env env, Napi::Object exports);      // loader/: dependency plans
void RegisterFaults(Napi::Env env, Napi::Object exports);            // common/: the fault table
void RegisterProcMaps(Napi::Env env, Napi::Object exports);          // common/: mappingRun (tests)
void RegisterElf(Napi::Env env, Napi::Object exports);               // elf/: readElf, readElfBytes
void RegisterCalls(Napi::Env env, Napi::Object exports);             // call/: makeFunction and its kin
void RegisterMemory(Napi::Env env, Napi::Object exports);            // call/: addresses, copies, alloc
void RegisterCallbacks(Napi::Env env, Napi::Object exports);         // callback/: JS functions as C pointers
void RegisterHandles(Napi::Env env, Napi::Object exports);           // call/: handles, pointers of one image
void RegisterPluginHost(Napi::Env env, Napi::Object exports);        // plugin/: PluginHost, PLUGIN_ABI_VERSION
void PrepareThreadSamples();                                         // image/thread_scan.cc: the sampling signal
void RegisterFaultContainment(Napi::Env env, Napi::Object exports);  // signals/: fault handlers, describe, listener

}  // namespace dlswap

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  using namespace dlswap;
  // Before any other exit handler of the addon: it must run after all of them (common/pool_exit.h).
  JoinThreadPoolAtExitRegister();
  env.SetInstanceData(new AddonData());
  // The main environment runs on the process's first thread; its teardown is the process ending.
  // Registered first, so it runs after every other hook of the addon (they run in reverse).
  if (syscall(SYS_gettid) == getpid()) env.AddCleanupHook([] { NoteProcessEnding(); });
  RegisterWire(env, exports);
  RegisterNativeLibrary(env, exports);
  RegisterImageOrigins(env, exports);
  RegisterNamespaces(env, exports);
  RegisterNamespaceProbe(env, exports);
  RegisterLoaderJobs(env, exports);
  RegisterPrivateArea(env, exports);
  RegisterDependencies(env, exports);
  RegisterFaults(env, exports);
  RegisterProcMaps(env, exports);
  RegisterElf(env, exports);
  RegisterCalls(env, exports);
  RegisterMemory(env, exports);
  RegisterCallbacks(env, exports);
  RegisterHandles(env, exports);
  RegisterPluginHost(env, exports);
  RegisterPoolExit(env, exports);
  // Installed with the addon, before any library is loaded: its handler is dlswap's own, there
  // before every library (which the checks of what a closed library leaves behind rely on).
  PrepareThreadSamples();
  RegisterFaultContainment(env, exports);
  return exports;
}

NODE_API_MODULE(dlswap, InitAddon)
