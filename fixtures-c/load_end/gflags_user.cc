// gflags_user: defines one gflags flag, as DEFINE_bool does, against the system's libgflags (no
// headers needed: FlagRegisterer's constructor is all DEFINE_bool calls). A second generation in the
// same namespace registers the flag again, and libgflags calls exit(1) from its constructor:
// "something wrong with flag 'dlswap_fixture_flag' ... linked both statically and dynamically".
namespace google {
class FlagRegisterer {
 public:
  template <typename FlagType>
  FlagRegisterer(const char *name, const char *help, const char *filename, FlagType *current_storage, FlagType *defvalue_storage);
};
}  // namespace google

namespace {
bool FLAGS_dlswap_fixture_flag = true;
bool FLAGS_nodlswap_fixture_flag = true;
google::FlagRegisterer o_dlswap_fixture_flag("dlswap_fixture_flag", "a flag of dlswap's fixture", "gflags_user.cc",
                                             &FLAGS_dlswap_fixture_flag, &FLAGS_nodlswap_fixture_flag);
}  // namespace

extern "C" int gflags_user_flag(void) { return FLAGS_dlswap_fixture_flag ? 1 : 0; }
