// The load and retire pipelines: everything that touches the user's file, the dynamic loader or
// the plugin's entry points, with no Node-API in sight, so that it runs on a loader thread (or
// inline, for the synchronous open()). The JS thread does the swap and nothing else.
//
//   RunLoad:   LoaderFree -> CopySource (copy + hash, sha256 pin) -> CheckHeaders (ELF checks)
//              -> CopyDependencies (dependency plan, private copies renamed: closure_copy.h)
//              -> EnterNamespace -> OpenDependency, each in the plan's order -> OpenLibrary
//              (dlopen, binding check) -> Verify (functions, then StartPlugin: abi_version,
//              version, init); then the undo of all of it if a step failed       load_job.cc
//   RunRetire: fini -> stdio flush -> holders check [-> its destructors, if only threads it
//              started hold it -> wait for those threads] -> signal handlers pointing into it
//              (image/process_hooks.h) -> dlclose (library, then its dependencies) -> unload
//              verification, per image                                              retire_job.cc
//   RunHandover: dlswap_state_export of one image into dlswap_state_import of another
//                                                                                   handover_job.cc
//
// Contract of both: on failure, everything the pipeline created is undone (no copy, no mapping, no
// namespace of its own, fini after a successful init) and the result names the step that failed.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/native_error.h"
#include "elf/elf_reader.h"
#include "image/library_handle.h"
#include "loader/closure_copy.h"
#include "loader/dependency_plan.h"

namespace dlswap {

struct LoadSpec {
  std::string path;       // as the user gave it: every message names it
  std::string temp_base;  // where the private area is (made on the first load)
  // Process-wide state the job needs, read by the JS thread that asked (a loader thread never reads
  // what a JS thread may be writing): the current directory that a relative `path` and relative
  // search paths resolve against, and, for the namespace modes, the environment the namespace's libc
  // is given (process.env as that JS thread sees it; has_environment false: keep the last one).
  std::string cwd;
  std::vector<std::string> environment;
  bool has_environment = false;
  bool keep_copies = false;  // from this load on, no copy is ever removed (DLSWAP_KEEP_COPIES)
  Isolation isolation = Isolation::Namespace;
  std::string expect_sha256;  // lowercase hex; empty: not pinned
  // The copy's digest is read (LoadResult::sha256): taken as it is copied. When false (and not
  // pinned) it is taken only if the copy is about to be rewritten; otherwise lib/ takes it from the
  // mapped copy if it is ever asked for (lib/load/library.ts).
  bool hash = true;
  // Refusals decided by lib/ before the library runs any code (the policy and its wording are
  // there; this only finds the symbols):
  std::vector<std::string> refuse_imports;      // imports that break this mode (deepbind's copy relocations)
  bool refuse_node_init_fini = false;           // constructor/destructor entries bound to node's exports
  bool refuse_node_interposition = false;       // its own calls to symbols node exports too
  std::vector<std::string> functions;           // must all resolve, or the load fails in 'verifying'
  std::vector<std::string> share_dependencies;  // loaded as they are, shared by every generation
  // Process-wide registries a generation gets its own copy of when it registers in one (policy of
  // lib/load/registries.ts; loader/registry_plan.h). Empty in fresh-namespace.
  std::vector<RegistryRule> registries;
  // Load from a file that another user could replace (a directory others can write, not sticky): the
  // user's `force`. Refused otherwise (common/dir_safety.h).
  bool allow_replaceable = false;
  bool plugin = false;  // run dlswap_abi_version, dlswap_version and dlswap_init
  uint32_t abi_min = 0, abi_max = 0;
  const void *plugin_host = nullptr;     // the dlswap_host handed to dlswap_init
  std::shared_ptr<void> host_keepalive;  // keeps it alive while the job may run plugin code
  // Library code the job runs is bounded on a loader thread: the constructors (in the dlopen of the
  // library and of each dependency it loads), dlswap_abi_version, dlswap_version and dlswap_init by
  // init_timeout_ms; what the undo of a failed load runs (dlswap_fini, destructors) by
  // fini_timeout_ms. Past a bound the job is abandoned and on_timeout(message, phase) runs (on the
  // watchdog thread); the load then fails whenever that code returns.
  double init_timeout_ms = 0, fini_timeout_ms = 0;
  std::function<void(const std::string &message, const std::string &phase)> on_timeout;
};

struct LoadResult {
  // Failure: an ERR_DLSWAP_* code, a message that names the user's path, and where it failed.
  NativeError error;
  std::string dlerror;
  std::string phase = "loading";     // 'loading' | 'verifying'
  std::vector<std::string> symbols;  // the symbols a refusal or a missing function is about
  std::string loader_path;           // the name the dynamic loader was given (for messages)
  bool opened = false;               // the image had been mapped before the failure (then undone)
  bool undone_unloaded = false;      // and the undo unmapped it

  LibraryRef lib;                              // success: the image, its namespace retained
  std::shared_ptr<ProcessHooks> hooks;         // the dispositions before any of its code ran (lib->hooks once opened)
  std::shared_ptr<const ThreadClocks> clocks;  // the threads' CPU times then (lib->clocks_before_load)
  std::shared_ptr<void> host_keepalive;        // the plugin's dlswap_host, for whoever retires `lib` unseen
  // Its dependencies as planned (nodes[0] is the library), the private copies made of them, and the
  // images loaded before it: private copies and shared dependencies, in the plan's load order.
  DependencyPlan plan;
  ClosureCopies closure;
  std::vector<LibraryRef> deps;
  std::vector<int> dep_nodes;         // deps[i] is plan.nodes[dep_nodes[i]]
  std::vector<std::string> bound_to;  // per node: the file the loader bound it to ("" unknown)
  std::string refused_in;             // a refusal is about this private dependency, not the library
  std::string refused_in_registry;    // which is a system library copied for this registry (registry_plan.h)
  // ERR_DLSWAP_EXIT_DURING_LOAD: what the library's code called ("exit(1)"), the object whose code
  // called it, in which entry ("constructor", "dlswap_init"...), of which image (the library or a
  // dependency).
  std::string ended_call, ended_by, ended_in, ended_image;
  // The generation must stay mapped when retired (set by the load, e.g. its C++ classes derive
  // from a shared library's, which may keep objects of them): why.
  std::string keep_mapped;
  // Set when the library (or a private dependency) asks where it lives and gets its private copy's
  // answers instead of its source's (origin_step.h): what the user should know.
  std::string origin_note;
  std::string real_path, sha256;
  uint64_t size = 0;
  double mtime_ms = 0;
  ElfInfoStruct elf;                      // of the copy that was mapped (symbol lists dropped on success)
  bool thread_local_destructors = false;  // it imports __cxa_thread_atexit(_impl)
  bool has_version = false;
  std::string version;       // dlswap_version()
  bool initialized = false;  // dlswap_init returned 0
  uint32_t abi = 0;
  std::shared_ptr<const FaultRecord> fault;  // code ERR_DLSWAP_FAULT: what a plugin entry point raised
  double copy_ms = 0, deps_ms = 0, open_ms = 0, verify_ms = 0;
};

void RunLoad(const LoadSpec &spec, LoadResult &out);

struct RetireSpec {
  LibraryRef lib;
  std::vector<LibraryRef> deps;
  bool run_fini = false;                 // the plugin's dlswap_init ran and it exports dlswap_fini
  bool keep_mapped = false;              // run fini and stop calls, but never dlclose (LoadResult::keep_mapped)
  std::shared_ptr<void> host_keepalive;  // the plugin's dlswap_host, alive while fini may log
  // dlswap_fini and the destructors are bounded like a load's code (those dlclose runs, and those run
  // before it to stop the library's threads); a retirement whose step overran goes on when the step
  // returns. on_timeout(message, step) runs on the watchdog thread.
  double fini_timeout_ms = 0;
  std::function<void(const std::string &message, const std::string &step)> on_timeout;
  // The JS thread's alternate signal stack was in the image's memory and was disabled, when the
  // retirement was asked for (that thread's own check; the job checks the thread it runs on).
  bool js_altstack_disabled = false;
};

struct RetireResult {
  NativeError error;       // a step failed: nothing after it ran
  std::string step;        // 'fini' | 'destructors' | 'dlclose' | 'after-dlclose'
  bool finalized = false;  // dlswap_fini ran (or none was due)
  // The library's ELF destructors were run before dlclose (now or by an earlier pass), because the
  // only holders were threads it started (image/early_destructors.h).
  bool destructors_ran = false;
  std::string destructors_error;  // why they could not be run early
  bool closed = false;            // dlclose was called
  int rc = 0;
  std::string dlclose_error;
  std::vector<ThreadNote> holders;  // not closed because of these
  // Not closed because a unit loaded while its handler for these signals was installed may call it.
  std::vector<int> held_signals;
  // Kept mapped for good: thread-specific data keys of node's libc whose destructor is in its code,
  // still in use after its destructors ran (local, deepbind: image/thread_keys.h).
  std::vector<unsigned> held_keys;
  std::vector<int> restored_signals;         // dispositions that pointed into its code, set back before dlclose
  std::vector<std::string> restored_locale;  // categories of its namespace's locale it changed, set back
  bool altstack_disabled = false;            // a thread's alternate signal stack was in its memory
  bool still_loaded = false;                 // after dlclose: the image is still there
  bool kept_mapped = false;                  // not closed on purpose (RetireSpec::keep_mapped)
  std::vector<bool> deps_mapped;             // per RetireSpec::deps: still mapped afterwards
  bool namespace_freed = false;              // fresh-namespace: glibc freed the namespace
  double fini_ms = 0, close_ms = 0;
  bool quarantined = false;                  // a call faulted: neither finalized nor closed (signals/fault_record.h)
  std::shared_ptr<const FaultRecord> fault;  // code ERR_DLSWAP_FAULT: what dlswap_fini raised
};

void RunRetire(const RetireSpec &spec, RetireResult &out);

// Images a retirement left mapped because threads held them (no fini is due any more), looked at
// again together: one look at the threads for all of them (HoldersOf), then each one nothing holds
// is closed as RunRetire would. One result per spec, in order.
struct RetireBatchResult {
  std::vector<RetireResult> results;
};
void RunRetireHeld(const std::vector<RetireSpec> &specs, std::vector<RetireResult> &out);

// The state transfer of the handover policy: the old generation's dlswap_state_export, passed to the
// new one's dlswap_state_import. Each call bounded like init and fini.
struct HandoverSpec {
  LibraryRef from, to;
  std::string path;                          // the new generation's, for messages
  std::shared_ptr<void> from_host, to_host;  // their dlswap_hosts, alive while their code runs
  double export_timeout_ms = 0, import_timeout_ms = 0;
  std::function<void(const std::string &step)> on_timeout;
};

struct HandoverResult {
  NativeError error;
  std::string step;  // 'export' | 'import' (where it failed)
  uint64_t bytes = 0;
  bool transferred = false;                  // both exist and the import returned 0
  std::shared_ptr<const FaultRecord> fault;  // code ERR_DLSWAP_FAULT: what the export or import raised
  double ms = 0;
};

void RunHandover(const HandoverSpec &spec, HandoverResult &out);

}  // namespace dlswap
