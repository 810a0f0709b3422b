// Library code of a load that tries to end the process (load_steps.h, namespace/runtime_exit.h).
#include "loader/load_steps.h"

namespace dlswap {

bool FailEnded(LoadResult &out, const LibraryEnd &end, const std::string &entry, const std::string &image) {
  out.ended_call = EndCallText(end);
  out.ended_by = end.object;
  out.ended_in = entry;
  out.ended_image = image;
  return Fail(out.error, "ERR_DLSWAP_EXIT_DURING_LOAD", "library-ended-process");
}

bool OpenRunningConstructors(const LoadSpec &spec, NamespaceRecord *ns, const std::string &file, const std::string &shown, LoadResult &out,
                             void *&handle) {
  handle = nullptr;
  LibraryEnd end;
  void *opened = nullptr;
  LibraryCodeSite site;
  site.doing = "loading " + shown;
  site.lmid = ns ? ns->lmid : 0;
  site.file = file;
  site.constructors_in_node_libc = ns == nullptr;
  if (CallLibraryCode(
          site, [&] { opened = OpenImage(spec.isolation, ns, file); }, end)) {
    handle = opened;
    return true;
  }
  // The loader had mapped and relocated the image and was running its constructors: it stays as they
  // left it. Its namespace, too: a fresh namespace is never freed under it.
  KeepInterruptedImage(OpenLoaded(spec.isolation, ns, file));
  if (ns) RetainNamespace(ns);
  return FailEnded(out, end, "constructor", shown);
}

}  // namespace dlswap
