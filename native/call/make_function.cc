// lib.func(): builds the per-function record (call/function_record.h) and the JS functions that
// call it, repoints them at another library (rebindFunction, for hot reload), and prepares the cif
// of each list of variadic value types a function is called with.
#include <string>

#include "call/call_paths.h"
#include "call/trampoline.h"
#include "common/errors.h"
#include "common/exports.h"
#include "image/native_library.h"
#include "image/thread_scan.h"
#include "namespace/namespace_pool.h"
#include "signals/fault_js.h"

namespace dlswap {

namespace {

// Marks the JS function objects made here, so that rebindFunction cannot be fooled into treating
// another wrapped object (a NativeLibrary, another addon's) as a FunctionRecord.
constexpr napi_type_tag kFunctionTag = {0x646c737761702d66ULL, 0x756e6374696f6e31ULL};

void FinalizeFunction(napi_env env, void *data, void *hint) { ReleaseRecord(static_cast<FunctionRecord *>(data)); }

int *ErrnoPointer(FunctionRecord *rec) {
  // Called on the JS thread: the address is that thread's errno in the library's own libc.
  if (rec->lib && rec->lib->errno_location) return rec->lib->errno_location();
  return &rec->fallback_errno;
}

FunctionRecord *RecordOf(Napi::Env env, Napi::Value fn) {
  bool tagged = false;
  if (!fn.IsFunction() || napi_check_object_type_tag(env, fn, &kFunctionTag, &tagged) != napi_ok || !tagged) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "expected a function made by lib.func()");
  }
  void *rec = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_unwrap(env, fn, &rec), nullptr);
  return static_cast<FunctionRecord *>(rec);
}

const void *AddressFromJs(Napi::Env env, Napi::Value v) {
  if (!v.IsBigInt()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "address must be a bigint");
  bool lossless = false;
  uint64_t a = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless || a == 0) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "address must be a non-zero 64-bit address");
  return reinterpret_cast<const void *>(static_cast<uintptr_t>(a));
}

napi_value MakeJsFunction(Napi::Env env, FunctionRecord *rec, const std::string &name, napi_callback cb) {
  napi_value fn;
  NAPI_THROW_IF_FAILED(env, napi_create_function(env, name.c_str(), name.size(), cb, rec, &fn), nullptr);
  NAPI_THROW_IF_FAILED(env, napi_type_tag_object(env, fn, &kFunctionTag), nullptr);
  NAPI_THROW_IF_FAILED(env, napi_wrap(env, fn, rec, FinalizeFunction, nullptr, nullptr), nullptr);
  RetainRecord(rec);
  return fn;
}

// makeFunction(library, address, spec) -> [call, callAsync]
//   spec: { name, returns: kind, params: kind[], names: string[], types: string[], variadic, errno }
// For variadic functions both take the id from prepareVariadic() as their first argument.
Napi::Value MakeFunctionJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[2].IsObject()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeFunction(library, address, spec)");
  }
  LibraryRef lib = NativeLibrary::From(env, info[0]);
  if (lib->closed) throw CodedError(env, "ERR_DLSWAP_CLOSED", "the library is closed; open it again");
  if (lib->faulted.load(std::memory_order_acquire)) throw Napi::Error(env, MakeFaultedError(env, "lib.func", *lib));
  const void *address = AddressFromJs(env, info[1]);
  Napi::Object spec = info[2].As<Napi::Object>();
  Napi::Value params_v = spec.Get("params"), names_v = spec.Get("names"), types_v = spec.Get("types");
  if (!params_v.IsArray() || !names_v.IsArray() || !types_v.IsArray() || !spec.Get("name").IsString()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeFunction: malformed spec");
  }
  Napi::Array params = params_v.As<Napi::Array>(), names = names_v.As<Napi::Array>(), types = types_v.As<Napi::Array>();
  if (params.Length() > kMaxFixedParams || names.Length() != params.Length() || types.Length() != params.Length()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG",
                         "makeFunction: at most " + std::to_string(kMaxFixedParams) + " parameters, with one name and type each");
  }

  // Sync calls run on this JS thread: give it the namespace libc's per-thread state now, not on
  // the fast path (a worker_thread's JS thread is not the one that created the namespace).
  EnsureThreadReady(lib->ns);
  NoteCountedThread();
  auto rec = std::make_unique<FunctionRecord>();
  rec->faults = ThisThreadFaults(ThreadRole::kJs);
  rec->lib = lib;
  rec->address = address;
  rec->name = spec.Get("name").As<Napi::String>().Utf8Value();
  rec->ret_kind = KindFromJs(env, spec.Get("returns"), true, "kind code");
  rec->nparams = static_cast<uint8_t>(params.Length());
  bool variadic = spec.Get("variadic").ToBoolean();
  if (variadic) rec->flags |= kFlagVariadic;
  if (spec.Get("errno").ToBoolean()) rec->flags |= kFlagErrnoResult;

  // Structs by value: their shapes, per parameter (null for the others) and for the result.
  Napi::Value shapes_v = spec.Get("paramShapes"), ret_shape = spec.Get("returnShape");
  Napi::Array shapes = shapes_v.IsArray() ? shapes_v.As<Napi::Array>() : Napi::Array::New(env, 0);
  std::vector<ffi_type *> shape_types(params.Length(), nullptr);
  bool aggregates = false;
  auto add_shape = [&](Napi::Value shape) -> ffi_type * {
    rec->aggregates.push_back(BuildAggregate(env, shape));
    aggregates = true;
    return &rec->aggregates.back()->type;
  };
  ffi_type *ret_type = nullptr;
  if (rec->ret_kind == kAggregate) {
    if (!ret_shape.IsObject()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeFunction: a struct result needs its shape");
    ret_type = add_shape(ret_shape);
    rec->ret_in_arg = true;
  }

  int gpr = 0, fpr = 0;
  for (uint32_t i = 0; i < params.Length(); i++) {
    uint8_t k = KindFromJs(env, params.Get(i), false, "kind code");
    rec->kinds[i] = k;
    if (k == kAggregate) {
      if (variadic) throw CodedTypeError(env, "ERR_DLSWAP_SIGNATURE", "structs by value are not supported in variadic functions");
      Napi::Value shape = i < shapes.Length() ? shapes.Get(i) : env.Undefined();
      if (!shape.IsObject()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeFunction: a struct parameter needs its shape");
      shape_types[i] = add_shape(shape);
    }
    if (k == kString) rec->flags |= kFlagHasStrings;
    // Register slot on the fast path (meaningless, and unused, once a class overflows).
    int &used = IsFloatKind(k) ? fpr : gpr;
    rec->slots[i] = static_cast<uint8_t>(IsFloatKind(k) ? kGprSlots + (used % kFprSlots) : used % kGprSlots);
    used++;
    Napi::Value n = names.Get(i);
    rec->param_names.push_back(n.IsString() ? n.As<Napi::String>().Utf8Value() : std::string());
    rec->param_types.push_back(types.Get(i).ToString().Utf8Value());
  }
  bool fast = !variadic && !aggregates && gpr <= kGprSlots && fpr <= kFprSlots;
  if (fast) rec->flags |= kFlagFast;
  if (fpr > 0) rec->flags |= kFlagFloatArgs;

  if (!fast && !variadic) {
    rec->ffi_types.reserve(rec->nparams);
    for (size_t i = 0; i < rec->nparams; i++) {
      rec->ffi_types.push_back(shape_types[i] ? shape_types[i] : FfiType(rec->kinds[i], false));
    }
    if (ffi_prep_cif(&rec->cif, FFI_DEFAULT_ABI, rec->nparams, ret_type ? ret_type : FfiType(rec->ret_kind, false),
                     rec->ffi_types.data()) != FFI_OK) {
      throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "libffi cannot prepare a call for " + rec->name);
    }
    for (const auto &agg : rec->aggregates) {
      if (!AggregateMatches(*agg)) {
        throw CodedError(env, "ERR_DLSWAP_INTERNAL", rec->name + ": libffi lays a struct out differently from dlswap's layout");
      }
    }
  }
  rec->errno_ptr = ErrnoPointer(rec.get());

  rec->resource_name = "dlswap:" + rec->name;

  napi_callback sync_cb = variadic ? CallVariadic : fast ? FastCallback(*rec) : CallFfi;
  napi_callback async_cb = variadic ? CallVariadicAsync : CallAsync;
  FunctionRecord *raw = rec.release();
  // From here the JS functions own the record: a failure below leaves it to their finalizers.
  raw->refs = 1;
  Napi::Array out = Napi::Array::New(env, 2);
  try {
    out.Set(0u, Napi::Value(env, MakeJsFunction(env, raw, raw->name, sync_cb)));
    out.Set(1u, Napi::Value(env, MakeJsFunction(env, raw, raw->name, async_cb)));
  } catch (...) {
    ReleaseRecord(raw);
    throw;
  }
  ReleaseRecord(raw);
  return out;
}

// rebindFunction(fn, library, address): the same signature, another image. Sync calls see the new
// target from the next call on; async calls already queued keep the (library, address) they
// captured, and their reference keeps that library mapped until they finish.
Napi::Value RebindFunctionJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "rebindFunction(fn, library, address)");
  FunctionRecord *rec = RecordOf(env, info[0]);
  LibraryRef lib = NativeLibrary::From(env, info[1]);
  if (lib->closed) throw CodedError(env, "ERR_DLSWAP_CLOSED", "cannot rebind to a closed library");
  const void *address = AddressFromJs(env, info[2]);
  EnsureThreadReady(lib->ns);
  rec->lib = std::move(lib);
  rec->address = address;
  rec->errno_ptr = ErrnoPointer(rec);
  return env.Undefined();
}

Napi::Value FunctionAddressJs(const Napi::CallbackInfo &info) {
  FunctionRecord *rec = RecordOf(info.Env(), info[0]);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(rec->address)));
}

// prepareVariadic(fn, kinds) -> id: a cif for the fixed params followed by variadic values of these
// kinds (as declared; promoted here), cached per list so that a call shape is prepared once.
Napi::Value PrepareVariadicJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  FunctionRecord *rec = RecordOf(env, info[0]);
  if (!(rec->flags & kFlagVariadic)) throw CodedTypeError(env, "ERR_DLSWAP_ARG", rec->name + " is not variadic");
  if (info.Length() < 2 || !info[1].IsArray()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "prepareVariadic(fn, kinds)");
  Napi::Array list = info[1].As<Napi::Array>();
  if (rec->nparams + list.Length() > kMaxArgs) {
    throw CodedError(env, "ERR_DLSWAP_ARG",
                     rec->name + "(): at most " + std::to_string(kMaxArgs - rec->nparams) + " variadic values per call");
  }
  std::string key;
  for (uint32_t i = 0; i < list.Length(); i++) key.push_back(static_cast<char>(KindFromJs(env, list.Get(i), false, "kind code")));
  auto found = rec->variadic_index.find(key);
  if (found != rec->variadic_index.end()) return Napi::Number::New(env, found->second);

  auto vc = std::make_shared<VariadicCif>();
  for (size_t i = 0; i < rec->nparams; i++) {
    vc->kinds.push_back(rec->kinds[i]);
    vc->types.push_back(FfiType(rec->kinds[i], false));
  }
  for (char c : key) {
    vc->kinds.push_back(static_cast<uint8_t>(c));
    vc->types.push_back(FfiType(static_cast<uint8_t>(c), true));
  }
  if (ffi_prep_cif_var(&vc->cif, FFI_DEFAULT_ABI, rec->nparams, static_cast<unsigned>(vc->types.size()), FfiType(rec->ret_kind, false),
                       vc->types.data()) != FFI_OK) {
    throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "libffi cannot prepare this variadic call of " + rec->name);
  }
  uint32_t id = static_cast<uint32_t>(rec->variadic.size());
  rec->variadic.push_back(std::move(vc));
  rec->variadic_index.emplace(std::move(key), id);
  return Napi::Number::New(env, id);
}

}  // namespace

void RetainRecord(FunctionRecord *rec) { rec->refs++; }

void ReleaseRecord(FunctionRecord *rec) {
  if (--rec->refs > 0) return;
  // Finalizers and async completions, the only callers that can drop the last reference, run on
  // the JS thread of the env that made the record.
  delete rec;
}

void RegisterCalls(Napi::Env env, Napi::Object exports) {
  Export(env, exports,
         {{"makeFunction", MakeFunctionJs},
          {"rebindFunction", RebindFunctionJs},
          {"functionAddress", FunctionAddressJs},
          {"prepareVariadic", PrepareVariadicJs}});
}

}  // namespace dlswap
