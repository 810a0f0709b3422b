// One loaded image (one dlopen/dlmopen handle), and what keeps it from being closed under code that
// runs in it.
//
// An async call holds a LibraryRef and counts in `in_flight` until it completes; close and retire
// refuse while the count is above zero. Sync calls run on the JS thread and check `closed` first;
// the JS thread raises `closed` before it hands the image to a retirement (which runs on the loader
// thread), so no call can start once a close is under way. Leases are not counted here: a
// HotLibrary generation counts them itself (lib/hot/generation.ts) and retires its image only once
// its leases and calls are gone.
//
// Who writes what: the fields set when the image is opened (handle's first value, isolation,
// lmid, paths, map, ns, hooks, the libc entry points) are written by the thread that opened it,
// before the handle is shared, and only read afterwards. `handle`, `closed` and `keep_mapped` change later, on
// whichever thread closes or retires the image, and are atomic. `copy_name` and `private_names`
// belong to the thread that runs the load and retire jobs (the loader thread, or the JS thread for
// the synchronous open() and close). `gated`, `calls` and `last_errno` are the JS thread's.
#pragma once
#include <link.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "image/image_closure.h"
#include "image/process_hooks.h"
#include "image/thread_scan.h"
#include "namespace/runtime_host.h"

namespace dlswap {

struct FaultRecord;

// lib/native.ts IsolationCode has the same numbers (checked by test/package/wire_constants.test.ts).
enum class Isolation : int { Local = 0, DeepBind = 1, Namespace = 2, FreshNamespace = 3 };

struct LibraryHandle {
  std::atomic<void *> handle{nullptr};  // from dlopen/dlmopen; null once closed
  Isolation isolation = Isolation::Local;
  long lmid = 0;            // link-map namespace (0 = base)
  std::string mapped_path;  // the file that is mapped: the private copy's path in the private area
  std::string loader_name;  // l_name: the name the dynamic loader knows it by (RTLD_NOLOAD probes)
  const struct link_map *map = nullptr;
  NamespaceRecord *ns = nullptr;           // the namespace dlswap made for it (null in local and deepbind)
  std::string copy_name;                   // its file in the private area ("" for a file loaded as it is)
  std::vector<std::string> private_names;  // names reserved for it (a private dependency's new SONAME...)
  // Retired but deliberately never closed (objects of its classes may live on in a shared library):
  // calls are refused, the mapping stays for the life of the process.
  std::atomic<bool> keep_mapped{false};
  // The signal dispositions from before this image (and the private dependencies loaded with it)
  // first ran: what its retirement restores (image/process_hooks.h). Null for a dependency's handle.
  std::shared_ptr<ProcessHooks> hooks;
  // The threads' CPU times from before this image (and the private dependencies loaded with it) was
  // mapped: the holders check skips threads that have not run since (image/thread_scan.h). Null
  // for a dependency's handle; then every thread is looked at.
  std::shared_ptr<const ThreadClocks> clocks_before_load;

  // Resolved in the library's own namespace: its libc's errno, free and fflush. In the namespace
  // modes these are a different libc from node's; using node's would read the wrong errno, corrupt
  // the heap, or lose buffered output.
  int *(*errno_location)() = nullptr;
  void (*free_fn)(void *) = nullptr;
  void *(*malloc_fn)(size_t) = nullptr;
  int (*fflush_fn)(void *) = nullptr;

  std::atomic<int64_t> in_flight{0};  // async calls running or queued on this image
  // Completed calls (sync + async), for observability. JS thread only (sync calls and async
  // completions both run there): a plain increment, which costs the sync path less than an atomic.
  uint64_t calls = 0;
  std::atomic<uint64_t> errors{0};  // calls that raised (argument errors excluded)
  // No call may start: raised by the JS thread when a retirement or a handover's gate begins, and by
  // Close (on the thread that dlcloses).
  std::atomic<bool> closed{false};
  // A handover is moving this image's state: `closed` is raised too (the one check every call path
  // makes), and a call is refused as busy rather than closed. JS thread only.
  bool gated = false;

  // What fault reports call it (signals/fault_record.h): the path the user gave, the generation (0
  // for a plain library), the build-id of the mapped copy. Set by NativeLibrary.describe on the JS
  // thread before it serves calls; read by the fault paths afterwards.
  std::string display_path;
  int generation = 0;
  std::string build_id;
  // Quarantine (signals/fault_record.h): set by the first fault contained in a call of this image.
  // Every call path refuses a faulted image; it is never finalized or unmapped.
  std::atomic<bool> faulted{false};
  std::mutex fault_mutex;
  std::shared_ptr<const FaultRecord> first_fault;  // guarded by fault_mutex

  // Errno captured right after the last call on this thread (JS thread for sync calls, copied back
  // on completion for async calls).
  int last_errno = 0;

  int ReadErrno() const { return errno_location ? *errno_location() : 0; }

  // Threads that closing the image now could pull code from under: threads the image (or a
  // dependency that would go with it) started and that are alive, threads found with the program
  // counter or a live frame in that code (running ones asked with dlswap's signal), and running
  // threads that could not be looked at. Empty when closing is safe as far as dlswap can see.
  std::vector<ThreadNote> Holders() const { return ScanHolders({}).threads; }

  struct HolderScan {
    std::vector<ThreadNote> threads;
    ObjectList objects;              // what the close would unmap
    std::vector<AddressRange> code;  // their executable mappings: the code that was looked for
  };
  // Holders() of closing this image together with `closed_with` (its private dependencies, closed
  // right after it: they are not counted as keeping anything), and the objects that would go.
  HolderScan ScanHolders(const std::vector<const struct link_map *> &closed_with) const;

  // Flushes the image's stdio (its own libc's in the namespace modes: buffered output there is lost
  // at dlclose otherwise) and dlcloses, with the namespace's key destructors withheld meanwhile.
  // Returns dlclose's result; `error` gets dlerror's text. Returns -1 without closing if a key
  // destructor of the namespace kept running in its code.
  int Close(std::string *error);

  // A handle nobody closed (its Library and every function made from it were collected) is closed
  // by the deleter its LibraryRef was made with, on the loader thread (loader/unreferenced.cc).
};

using LibraryRef = std::shared_ptr<LibraryHandle>;

// ScanHolders() of several images at once, at the cost of one: each thread of the process is looked
// at once, and each namespace's objects indexed once, however many images are asked about (pinned
// generations looked at again together). Each image's answer is as if it alone were closed (with
// its `closed_with[i]`). `patience`: how long threads running in user space may take to answer
// (image/thread_scan.h); one that does not is a holder.
std::vector<LibraryHandle::HolderScan> ScanHoldersOf(const std::vector<const LibraryHandle *> &images,
                                                     const std::vector<std::vector<const struct link_map *>> &closed_with,
                                                     std::chrono::milliseconds patience = std::chrono::milliseconds(1000));

}  // namespace dlswap
