// lib.func(): builds the per-function record and the JS functions that call it, repoints them at
// another library (rebindFunction, for hot reload), and holds the slow paths every call path shares:
// error messages and the pointer/string/64-bit argument conversions.
//
// Everything a call can know in advance (kinds, register slots, the libffi cif, the errno address,
// names for messages) is computed here once, so that a call does only conversions and the call.
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "common/addon_data.h"
#include "call/convert.h"
#include "common/errors.h"
#include "common/module.h"
#include "image/native_library.h"
#include "image/thread_scan.h"

namespace dlswap {

namespace {

// Marks the JS function objects made here, so that rebindFunction cannot be fooled into treating
// another wrapped object (a NativeLibrary, another addon's) as a FunctionRecord.
constexpr napi_type_tag kFunctionTag = {0x646c737761702d66ULL, 0x756e6374696f6e31ULL};

const char *KindName(uint8_t kind) {
  static const char *const names[kKindCount] = {"void",  "bool",   "int8",  "uint8",   "int16",   "uint16",
                                                "int32", "uint32", "int64", "uint64",  "float",   "double",
                                                "pointer", "string", "struct"};
  return kind < kKindCount ? names[kind] : "?";
}

const char *Expectation(uint8_t kind) {
  switch (kind) {
    case kBool:
      return "a boolean (or the number 0 or 1)";
    case kI8:
      return "an integer in [-128, 127]";
    case kU8:
      return "an integer in [0, 255]";
    case kI16:
      return "an integer in [-32768, 32767]";
    case kU16:
      return "an integer in [0, 65535]";
    case kI32:
      return "an integer in [-2147483648, 2147483647]";
    case kU32:
      return "an integer in [0, 4294967295]";
    case kI64:
      return "a bigint in [-9223372036854775808n, 9223372036854775807n] (or a safe-integer number)";
    case kU64:
      return "a bigint in [0n, 18446744073709551615n] (or a non-negative safe-integer number)";
    case kF32:
    case kF64:
      return "a number";
    case kPointer:
      return "a bigint address, null, or a Buffer, TypedArray, DataView or ArrayBuffer";
    case kString:
      return "a string, null, a Buffer or TypedArray, or a bigint address";
    case kAggregate:
      return "the address of the struct's bytes (a bigint or a Buffer)";
    default:
      return "nothing (void)";
  }
}

std::string Describe(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  auto coerced = [&]() {
    napi_value s;
    char buf[64];
    size_t len = 0;
    if (napi_coerce_to_string(env, v, &s) != napi_ok ||
        napi_get_value_string_utf8(env, s, buf, sizeof buf, &len) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      return std::string("?");
    }
    return std::string(buf, len);
  };
  switch (t) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
    case napi_number:
      return coerced();
    case napi_bigint:
      return coerced() + "n";
    case napi_string: {
      char buf[40];
      size_t len = 0;
      napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
      std::string out = "the string \"" + std::string(buf, len);
      return out + (len >= sizeof buf - 5 ? "...\"" : "\"");
    }
    case napi_symbol:
      return "a symbol";
    case napi_function:
      return "a function";
    case napi_external:
      return "an external";
    case napi_object: {
      bool is = false;
      if (napi_is_array(env, v, &is) == napi_ok && is) return "an array";
      if (napi_is_buffer(env, v, &is) == napi_ok && is) return "a Buffer";
      if (napi_is_typedarray(env, v, &is) == napi_ok && is) return "a TypedArray";
      if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return "an ArrayBuffer";
      if (napi_is_dataview(env, v, &is) == napi_ok && is) return "a DataView";
      return "an object";
    }
  }
  return "a value";
}

// "argument 'a' (#1, int)", "argument #2 (const char *)", "variadic value #1 (int32)".
std::string ArgLabel(const FunctionRecord &rec, size_t index, uint8_t kind) {
  if (index < rec.param_names.size()) {
    const std::string &type = rec.param_types[index];
    const std::string &name = rec.param_names[index];
    if (!name.empty()) return "argument '" + name + "' (#" + std::to_string(index + 1) + ", " + type + ")";
    return "argument #" + std::to_string(index + 1) + " (" + type + ")";
  }
  return "variadic value #" + std::to_string(index - rec.param_names.size() + 1) + " (" + KindName(kind) + ")";
}

bool IsNumericKind(uint8_t kind) { return kind >= kI8 && kind <= kF64; }

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

uint8_t KindFromJs(Napi::Env env, Napi::Value v, bool allow_void) {
  if (!v.IsNumber()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "kind codes must be numbers");
  int32_t k = v.As<Napi::Number>().Int32Value();
  if (k < 0 || k >= kKindCount || (!allow_void && k == kVoid)) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "invalid kind code " + std::to_string(k));
  }
  return static_cast<uint8_t>(k);
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
  const void *address = AddressFromJs(env, info[1]);
  Napi::Object spec = info[2].As<Napi::Object>();
  Napi::Value params_v = spec.Get("params"), names_v = spec.Get("names"), types_v = spec.Get("types");
  if (!params_v.IsArray() || !names_v.IsArray() || !types_v.IsArray() || !spec.Get("name").IsString()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeFunction: malformed spec");
  }
  Napi::Array params = params_v.As<Napi::Array>(), names = names_v.As<Napi::Array>(), types = types_v.As<Napi::Array>();
  if (params.Length() > kMaxFixedParams || names.Length() != params.Length() || types.Length() != params.Length()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "makeFunction: at most 64 parameters, with one name and type each");
  }

  // Sync calls run on this JS thread: give it the namespace libc's per-thread state now, not on
  // the fast path (a worker_thread's JS thread is not the one that created the namespace).
  EnsureThreadReady(lib->ns);
  NoteCountedThread();
  auto rec = std::make_unique<FunctionRecord>();
  rec->lib = lib;
  rec->address = address;
  rec->name = spec.Get("name").As<Napi::String>().Utf8Value();
  rec->ret_kind = KindFromJs(env, spec.Get("returns"), true);
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
    uint8_t k = KindFromJs(env, params.Get(i), false);
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
  for (uint32_t i = 0; i < list.Length(); i++) key.push_back(static_cast<char>(KindFromJs(env, list.Get(i), false)));
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
  if (ffi_prep_cif_var(&vc->cif, FFI_DEFAULT_ABI, rec->nparams, static_cast<unsigned>(vc->types.size()),
                       FfiType(rec->ret_kind, false), vc->types.data()) != FFI_OK) {
    throw CodedError(env, "ERR_DLSWAP_SIGNATURE", "libffi cannot prepare this variadic call of " + rec->name);
  }
  uint32_t id = static_cast<uint32_t>(rec->variadic.size());
  rec->variadic.push_back(std::move(vc));
  rec->variadic_index.emplace(std::move(key), id);
  return Napi::Number::New(env, id);
}

// readCString(address, maxBytes?) -> string | null: decodes NUL-terminated UTF-8 at an address (a
// pointer result the caller must free afterwards). Reading an invalid address crashes, like C would.
Napi::Value ReadCStringJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBigInt()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readCString(address: bigint)");
  bool lossless = false;
  uint64_t a = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readCString: address out of range");
  if (a == 0) return env.Null();
  const char *p = reinterpret_cast<const char *>(static_cast<uintptr_t>(a));
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    double max = info[1].ToNumber().DoubleValue();
    if (!(max >= 0 && max <= 9007199254740991.0) || max != std::floor(max)) {
      throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readCString: maxBytes must be a non-negative integer");
    }
    return Napi::String::New(env, p, strnlen(p, static_cast<size_t>(max)));
  }
  return Napi::String::New(env, p);
}

}  // namespace

void RetainRecord(FunctionRecord *rec) { rec->refs++; }

void ReleaseRecord(FunctionRecord *rec) {
  if (--rec->refs > 0) return;
  // Finalizers and async completions, the only callers that can drop the last reference, run on
  // the JS thread of the env that made the record.
  delete rec;
}

// ---------------------------------------------------------------------------------------------------
// Shared slow paths

napi_value ThrowCode(napi_env env, const char *code, const std::string &message, bool type_error) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message.c_str(), message.size(), &m);
  if (type_error) {
    napi_create_type_error(env, c, m, &err);
  } else {
    napi_create_error(env, c, m, &err);
  }
  napi_throw(env, err);
  return nullptr;
}

napi_value MakeCodedError(napi_env env, const char *code, const std::string &message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message.c_str(), message.size(), &m);
  napi_create_error(env, c, m, &err);
  return err;
}

static napi_value ThrowArgErrorImpl(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind,
                                    napi_value value, const char *detail);

// Called from raw Node-API callbacks: nothing may escape as a C++ exception.
napi_value ThrowArgError(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value value,
                         const char *detail) {
  try {
    return ThrowArgErrorImpl(env, rec, index, kind, value, detail);
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_ARG", "invalid argument (and no memory left to describe it)");
    return nullptr;
  }
}

static napi_value ThrowArgErrorImpl(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind,
                                    napi_value value, const char *detail) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return nullptr;  // a getter or coercion already threw: that is the better error
  napi_valuetype t = napi_undefined;
  napi_typeof(env, value, &t);
  // A value of the right JS type that does not fit is a RangeError; anything else a TypeError.
  bool right_type = (IsNumericKind(kind) && t == napi_number) || ((kind == kI64 || kind == kU64) && t == napi_bigint) ||
                    (kind == kPointer && t == napi_bigint) || (kind == kString && t == napi_string);
  std::string msg = rec.name + "(): " + ArgLabel(rec, index, kind) + " ";
  if (detail) {
    msg += detail;
  } else {
    msg += std::string("expects ") + Expectation(kind) + "; got " + Describe(env, value);
    if ((kind == kI64 || kind == kU64) && t == napi_number) msg += " (numbers beyond 2^53 lose precision: pass a bigint)";
    if (IsNumericKind(kind) && kind != kI64 && kind != kU64 && t == napi_bigint) msg += " (pass a number, not a bigint)";
  }
  napi_value c, m, err;
  napi_create_string_utf8(env, "ERR_DLSWAP_ARG", NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  if (right_type) {
    napi_create_range_error(env, c, m, &err);
  } else {
    napi_create_type_error(env, c, m, &err);
  }
  napi_throw(env, err);
  return nullptr;
}

napi_value ThrowArgCount(napi_env env, const FunctionRecord &rec, size_t got, size_t want, bool variadic) {
  char msg[96];
  snprintf(msg, sizeof msg, "() takes %s%zu argument%s, got %zu", variadic ? "at least " : "", want, want == 1 ? "" : "s",
           got);
  try {
    return ThrowCode(env, "ERR_DLSWAP_ARG", rec.name + msg, true);
  } catch (...) {
    napi_throw_type_error(env, "ERR_DLSWAP_ARG", msg);
    return nullptr;
  }
}

napi_value ThrowClosed(napi_env env, const FunctionRecord &rec) {
  try {
    if (rec.lib && rec.lib->gated) {
      return ThrowCode(env, "ERR_DLSWAP_BUSY",
                       rec.name + "(): a handover is moving this library's state to its next generation; call again "
                                  "when the reload resolves, or use .async(), which waits for it");
    }
    return ThrowCode(env, "ERR_DLSWAP_CLOSED",
                     rec.name + "(): its library is closed; open the library again and make the function anew");
  } catch (...) {
    napi_throw_error(env, "ERR_DLSWAP_CLOSED", "the library is closed");
    return nullptr;
  }
}

napi_value WithErrno(napi_env env, napi_value value, int err) {
  napi_value obj, e;
  napi_create_object(env, &obj);
  napi_create_int32(env, err, &e);
  napi_set_named_property(env, obj, "value", value);
  napi_set_named_property(env, obj, "errno", e);
  return obj;
}

// A conversion Node-API refused for a reason other than the value's type (or memory ran out).
static ArgBits Unconvertible(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v) {
  ThrowArgError(env, rec, index, kind, v, "could not be converted (out of memory?)");
  return {0, false};
}

ArgBits ConvertWideArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v) {
  if (kind == kBool) {
    bool b;
    if (napi_get_value_bool(env, v, &b) == napi_ok) return {b ? 1u : 0u, true};
    double d;
    if (napi_get_value_double(env, v, &d) == napi_ok && (d == 0 || d == 1)) return {d == 1 ? 1u : 0u, true};
  } else if (kind == kI64) {
    int64_t i;
    bool lossless = false;
    if (napi_get_value_bigint_int64(env, v, &i, &lossless) == napi_ok) {
      if (lossless) return {static_cast<uint64_t>(i), true};
    } else {
      ArgBits r = IntFromNumber(env, v, -9007199254740991.0, 9007199254740991.0);
      if (r.ok) return r;
    }
  } else if (kind == kU64) {
    uint64_t u;
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, v, &u, &lossless) == napi_ok) {
      if (lossless) return {u, true};
    } else {
      ArgBits r = IntFromNumber(env, v, 0.0, 9007199254740991.0);
      if (r.ok) return r;
    }
  }
  ThrowArgError(env, rec, index, kind, v);
  return {0, false};
}

ArgBits ConvertPointerArg(napi_env env, const FunctionRecord &rec, size_t index, uint8_t kind, napi_value v,
                          KeepAlive *keep) {
  uint64_t addr;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, v, &addr, &lossless) == napi_ok) {
    if (lossless) return {addr, true};
    ThrowArgError(env, rec, index, kind, v, "expects an address in [0n, 2n ** 64n - 1n]; got a bigint outside it");
    return {0, false};
  }
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  if (t == napi_null) return {0, true};
  if (t == napi_object) {
    void *data = nullptr;
    napi_value backing = nullptr;  // the ArrayBuffer whose memory is passed
    bool is = false;
    bool ok = false;
    if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
      // Also materializes an on-heap typed array's storage, so the address stays put.
      ok = napi_get_typedarray_info(env, v, nullptr, nullptr, &data, &backing, nullptr) == napi_ok;
    } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
      ok = napi_get_dataview_info(env, v, nullptr, &data, &backing, nullptr) == napi_ok;
    } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
      ok = napi_get_arraybuffer_info(env, v, &data, nullptr) == napi_ok;
      backing = v;
    }
    // A detached buffer (transferred to a worker, structuredClone'd with transfer, ab.transfer())
    // has no memory: it would reach C as NULL, and a C function that takes a buffer rarely expects
    // NULL. Checked here, on the pointer conversion's slow path, never on the fast one.
    bool detached = false;
    if (ok && backing != nullptr && napi_is_detached_arraybuffer(env, backing, &detached) == napi_ok && detached) {
      ThrowArgError(env, rec, index, kind, v,
                    "is a detached ArrayBuffer (or a view of one): its memory was transferred away, and C would "
                    "get NULL. Pass a buffer that is still attached (copy it before transferring it), or null "
                    "to pass NULL on purpose");
      return {0, false};
    }
    if (ok) {
      if (keep) {
        napi_ref ref;
        if (napi_create_reference(env, v, 1, &ref) != napi_ok) return Unconvertible(env, rec, index, kind, v);
        keep->refs.push_back(ref);
      }
      return {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)), true};
    }
    // A callback (lib.callback() or a temporary one): its code address.
    uint64_t code = 0;
    bool live = false;
    if (CallbackHandleAddress(env, v, &code, &live)) {
      if (!live) {
        ThrowArgError(env, rec, index, kind, v, "is a callback that was released; make a new one");
        return {0, false};
      }
      return {code, true};
    }
  }
  ThrowArgError(env, rec, index, kind, v);
  return {0, false};
}

static inline ArgBits FinishString(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, char *dst,
                                   size_t len) {
  if (const char *nul = FindNul(dst, len)) {
    char detail[160];
    snprintf(detail, sizeof detail,
             "contains a NUL character at byte %td; C would see only the text before it. Pass a Buffer to send "
             "bytes that include NUL",
             nul - dst);
    ThrowArgError(env, rec, index, kString, v, detail);
    return {0, false};
  }
  return {static_cast<uint64_t>(reinterpret_cast<uintptr_t>(dst)), true};
}

ArgBits ConvertStringArg(napi_env env, const FunctionRecord &rec, size_t index, napi_value v, StringStore *strings,
                         KeepAlive *keep) {
  size_t cap = strings->remaining();
  size_t len = 0;
  if (cap >= 16) {
    char *dst = strings->cursor();
    napi_status s = napi_get_value_string_utf8(env, v, dst, cap, &len);
    if (s == napi_string_expected) return ConvertPointerArg(env, rec, index, kString, v, keep);
    if (s != napi_ok) return Unconvertible(env, rec, index, kString, v);
    // Node copies whole characters only, so a copy that stopped short of the end may still be
    // truncated; with room for 4 more bytes (the longest UTF-8 character) left over, it is complete.
    if (len + 5 <= cap) {
      strings->commit(len + 1);
      return FinishString(env, rec, index, v, dst, len);
    }
  }
  napi_status s = napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  if (s == napi_string_expected) return ConvertPointerArg(env, rec, index, kString, v, keep);
  if (s != napi_ok) return Unconvertible(env, rec, index, kString, v);
  char *dst = strings->heap(len + 1);
  size_t copied = 0;
  if (!dst || napi_get_value_string_utf8(env, v, dst, len + 1, &copied) != napi_ok) {
    return Unconvertible(env, rec, index, kString, v);
  }
  return FinishString(env, rec, index, v, dst, copied);
}

ffi_type *FfiType(uint8_t kind, bool promoted) {
  switch (kind) {
    case kVoid:
      return &ffi_type_void;
    case kBool:
      return promoted ? &ffi_type_sint32 : &ffi_type_uint8;
    case kI8:
      return promoted ? &ffi_type_sint32 : &ffi_type_sint8;
    case kU8:
      return promoted ? &ffi_type_sint32 : &ffi_type_uint8;
    case kI16:
      return promoted ? &ffi_type_sint32 : &ffi_type_sint16;
    case kU16:
      return promoted ? &ffi_type_sint32 : &ffi_type_uint16;
    case kI32:
      return &ffi_type_sint32;
    case kU32:
      return &ffi_type_uint32;
    case kI64:
      return &ffi_type_sint64;
    case kU64:
      return &ffi_type_uint64;
    case kF32:
      return promoted ? &ffi_type_double : &ffi_type_float;
    case kF64:
      return &ffi_type_double;
    default:
      return &ffi_type_pointer;
  }
}

void PromoteVariadic(uint8_t kind, uint64_t *slot) {
  // Integers are already sign/zero-extended to 64 bits, which as an int is the promoted value.
  if (kind == kF32) {
    uint32_t bits = static_cast<uint32_t>(*slot);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    double d = f;
    std::memcpy(slot, &d, sizeof d);
  }
}

void InitCalls(Napi::Env env, Napi::Object exports) {
  exports.Set("makeFunction", Napi::Function::New(env, MakeFunctionJs, "makeFunction"));
  exports.Set("rebindFunction", Napi::Function::New(env, RebindFunctionJs, "rebindFunction"));
  exports.Set("functionAddress", Napi::Function::New(env, FunctionAddressJs, "functionAddress"));
  exports.Set("prepareVariadic", Napi::Function::New(env, PrepareVariadicJs, "prepareVariadic"));
  exports.Set("readCString", Napi::Function::New(env, ReadCStringJs, "readCString"));
}

}  // namespace dlswap
