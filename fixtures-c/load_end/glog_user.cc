// glog_user: a library that registers a gflags flag and links glog, which registers its own flags in
// the same libgflags (no headers needed: the declarations below are gflags' and glog's). Each
// generation must get its own copy of libgflags and, since libglog needs it, of libglog too: then
// this generation's registry holds glog's flags and its own, with its own default.
#include <cstdlib>
#include <string>

namespace google {
class FlagRegisterer {
 public:
  template <typename FlagType>
  FlagRegisterer(const char *name, const char *help, const char *filename, FlagType *current_storage, FlagType *defvalue_storage);
};
bool GetCommandLineOption(const char *name, std::string *value);
const char *GetLogSeverityName(int severity);
}  // namespace google

namespace {
int FLAGS_dlswap_glog_user_flag = GLOG_USER_VERSION;
int FLAGS_nodlswap_glog_user_flag = GLOG_USER_VERSION;
google::FlagRegisterer o_dlswap_glog_user_flag("dlswap_glog_user_flag", "a flag of dlswap's fixture", "glog_user.cc",
                                               &FLAGS_dlswap_glog_user_flag, &FLAGS_nodlswap_glog_user_flag);

// The value of a flag as the registry this generation binds to holds it; -1 when it has none.
int Option(const char *name) {
  std::string value;
  return google::GetCommandLineOption(name, &value) ? std::atoi(value.c_str()) : -1;
}
}  // namespace

extern "C" int glog_user_version(void) { return GLOG_USER_VERSION; }
// This generation's own flag, read back from the registry: its default is the version.
extern "C" int glog_user_own_flag(void) { return Option("dlswap_glog_user_flag"); }
// glog's flag 'minloglevel' (default 0), found in the same registry only if this generation's libglog
// registered in this generation's libgflags.
extern "C" int glog_user_glog_flag(void) { return Option("minloglevel"); }
extern "C" const char *glog_user_severity(int severity) { return google::GetLogSeverityName(severity); }
