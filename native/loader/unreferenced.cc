// A loaded image that nobody closed: its Library, the functions made from it and every job that
// held it are gone, and the last reference was dropped wherever that happened (a GC finalizer on a
// JS thread, the end of a job). It is closed on the loader thread, where every other dlclose of
// dlswap runs, so that no JS thread runs a dlclose it did not ask for (docs/ARCHITECTURE.md,
// Threads).
#include "common/loader_lock.h"
#include "common/process_end.h"
#include "common/proc_maps.h"
#include "image/image_origins.h"
#include "image/library_handle.h"
#include "loader/private_area.h"
#include "loader/load_steps.h"
#include "loader/loader_pool.h"

namespace dlswap {

void DeleteLibraryHandle(LibraryHandle *image) {
  if (image == nullptr) return;
  // At the process's end it stays mapped: _dl_fini runs its destructors with everyone else's.
  // A faulted image is quarantined: never unmapped (its state may be half-changed).
  if (!image->handle.load() || image->keep_mapped.load() || image->faulted.load() || ProcessEnding()) {
    delete image;
    return;
  }
  LoaderPool::RunOrQueue([image] {
    // Threads still in its code keep it mapped: leaked, never pulled from under them. So does library
    // code that hung holding the dynamic loader's lock (the scan and dlclose would wait for it).
    if (LoaderLockHolder().empty() && image->Holders().empty()) {
      image->Close(nullptr);
      // Its copy's file and record go with the mapping, as after a retirement (loader/origin_step.h).
      if (!image->copy_name.empty() && !ProcMaps().Maps(image->mapped_path)) {
        UnregisterImage(image->map, image->loader_name);
        ReleaseCopy(image->copy_name);
      }
    }
    delete image;
  });
}

}  // namespace dlswap
