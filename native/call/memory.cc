// Typed memory, the native half (lib/call/memory.ts does the typing): the address of a JS buffer, copies
// between buffers and addresses, C strings read at an address, and allocation with a library's own
// allocator.
//
// Addresses are trusted, as in C: a bad one crashes. Every JS buffer access is bounds-checked here.
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/addresses.h"
#include "common/errors.h"
#include "common/exports.h"
#include "common/loader_lock.h"
#include "image/library_handle.h"
#include "image/native_library.h"
#include "namespace/namespace_pool.h"

namespace dlswap {

namespace {

// Refuses an address no mapping can hold (common/addresses.h); 0 is the caller's to judge.
void RefuseNeverMapped(Napi::Env env, uint64_t a, const char *what) {
  if (a == 0 || !NeverMapped(a)) return;
  char hex[24];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(a));
  throw CodedError(
      env, "ERR_DLSWAP_ARG",
      std::string(what) + ": " + hex + " is not an address this process can have memory at (below 64 KiB, or past the user address space)");
}

uint64_t AddressArg(Napi::Env env, Napi::Value v, const char *what) {
  if (!v.IsBigInt()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", std::string(what) + ": address must be a bigint");
  bool lossless = false;
  uint64_t a = v.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw CodedTypeError(env, "ERR_DLSWAP_ARG", std::string(what) + ": address out of range");
  RefuseNeverMapped(env, a, what);
  return a;
}

// Data pointer and length of a buffer-like JS value (ArrayBuffer, TypedArray, DataView), or false.
// `detached` (if given) says whether its memory was transferred away (then data is null, length 0).
bool BufferOf(Napi::Env env, Napi::Value v, uint8_t **data, size_t *length, bool *detached = nullptr) {
  napi_value raw = v;
  napi_value backing = nullptr;
  bool is = false;
  void *p = nullptr;
  size_t len = 0;
  if (napi_is_typedarray(env, raw, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count = 0;
    if (napi_get_typedarray_info(env, raw, &type, &count, &p, &backing, nullptr) != napi_ok) return false;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array:
      case napi_uint16_array: elem = 2; break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array: elem = 4; break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array: elem = 8; break;
      default: break;
    }
    len = count * elem;
  } else if (napi_is_dataview(env, raw, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, raw, &len, &p, &backing, nullptr) != napi_ok) return false;
  } else if (napi_is_arraybuffer(env, raw, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, raw, &p, &len) != napi_ok) return false;
    backing = raw;
  } else {
    return false;
  }
  if (detached) {
    *detached = false;
    if (backing != nullptr) napi_is_detached_arraybuffer(env, backing, detached);
  }
  *data = static_cast<uint8_t *>(p);
  *length = len;
  return true;
}

size_t SizeArg(Napi::Env env, Napi::Value v, const char *what) {
  if (!v.IsNumber()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    throw CodedError(env, "ERR_DLSWAP_ARG", std::string(what) + " must be a non-negative integer");
  }
  return static_cast<size_t>(d);
}

// addressOf(buffer) -> bigint: where its bytes are (for a view, its first byte).
Napi::Value AddressOfJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint8_t *data = nullptr;
  size_t len = 0;
  bool detached = false;
  if (info.Length() < 1 || !BufferOf(env, info[0], &data, &len, &detached)) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "addressOf(buffer): expected an ArrayBuffer, TypedArray, DataView or Buffer");
  }
  // A detached buffer has no memory: its "address" would be NULL, which C would write through.
  if (detached) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG",
                         "addressOf(buffer): the buffer is detached (transferred, or structuredClone'd with transfer): it has "
                         "no memory any more. Take the address of a buffer that is still attached.");
  }
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)));
}

// The checked arguments of copyFromAddress and copyToAddress: (address, buffer, offset, length).
struct Copy {
  void *address;
  uint8_t *bytes;  // buffer + offset
  size_t length;   // 0: nothing to copy (address and bytes unused)
};

Copy CopyArgs(const Napi::CallbackInfo &info, bool to_address) {
  Napi::Env env = info.Env();
  const std::string fn = to_address ? "copyToAddress" : "copyFromAddress";
  uint64_t addr = AddressArg(env, info[0], fn.c_str());
  uint8_t *data = nullptr;
  size_t len = 0;
  if (!BufferOf(env, info[1], &data, &len)) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", fn + (to_address ? ": source" : ": target") + " must be a buffer");
  }
  size_t off = SizeArg(env, info[2], "offset"), n = SizeArg(env, info[3], "length");
  if (off > len || n > len - off) {
    throw CodedError(env, "ERR_DLSWAP_OUT_OF_BOUNDS",
                     fn + (to_address ? ": the source is shorter than the copy" : ": the copy does not fit in the target"));
  }
  if (n == 0) return {nullptr, nullptr, 0};
  if (addr == 0) {
    throw CodedError(env, "ERR_DLSWAP_ARG", std::string("cannot ") + (to_address ? "write" : "read") + " through a NULL pointer");
  }
  return {reinterpret_cast<void *>(static_cast<uintptr_t>(addr)), data + off, n};
}

// copyFromAddress(address, target, offset, length): `length` bytes at `address` into target[offset..].
Napi::Value CopyFromAddressJs(const Napi::CallbackInfo &info) {
  Copy c = CopyArgs(info, false);
  if (c.length > 0) std::memcpy(c.bytes, c.address, c.length);
  return info.Env().Undefined();
}

// copyToAddress(address, source, offset, length): source[offset..offset+length] to `address`.
Napi::Value CopyToAddressJs(const Napi::CallbackInfo &info) {
  Copy c = CopyArgs(info, true);
  if (c.length > 0) std::memmove(c.address, c.bytes, c.length);
  return info.Env().Undefined();
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
  RefuseNeverMapped(env, a, "readCString");
  const char *p = reinterpret_cast<const char *>(static_cast<uintptr_t>(a));
  size_t len = 0;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readCString: maxBytes must be a number");
    double max = info[1].As<Napi::Number>().DoubleValue();
    if (!(max >= 0 && max <= 9007199254740991.0) || max != std::floor(max)) {
      throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readCString: maxBytes must be a non-negative integer");
    }
    len = strnlen(p, static_cast<size_t>(max));
  } else {
    len = strlen(p);
  }
  // V8's longest string (String::kMaxLength on 64-bit): beyond it the string cannot be made at all.
  constexpr size_t kMaxStringBytes = (size_t(1) << 29) - 24;
  if (len > kMaxStringBytes) {
    throw CodedError(env, "ERR_DLSWAP_TOO_LARGE",
                     "readCString: the string is " + std::to_string(len) + " bytes, more than a JS string can hold (" +
                         std::to_string(kMaxStringBytes) + "); read it with readBytes in parts");
  }
  return Napi::String::New(env, p, len);
}

// The library's own calloc, found the way the loader finds its free: through the image's scope (the
// global scope in 'local', where an allocator node was started with is the one the library uses),
// else the namespace runtime's libc.
void *(*CallocOf(const LibraryHandle &h))(size_t, size_t) {
  void *scope = h.isolation == Isolation::Local ? RTLD_DEFAULT : h.handle.load();
  dlerror();
  void *p = dlsym(scope, "calloc");
  dlerror();
  if (!p && h.ns && h.ns->runtime) {
    p = dlsym(h.ns->runtime, "calloc");
    dlerror();
  }
  return reinterpret_cast<void *(*)(size_t, size_t)>(p);
}

// allocIn(library, count, size) -> bigint: zeroed memory from the library's allocator, for lib.free.
Napi::Value AllocInJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  LibraryRef lib = NativeLibrary::From(env, info[0]);
  if (lib->closed || !lib->handle) throw CodedError(env, "ERR_DLSWAP_CLOSED", "the library is closed; open it again");
  // Finding its calloc takes the dynamic loader's lock.
  const std::string hung = LoaderLockRefusal("cannot allocate in the library's namespace");
  if (!hung.empty()) throw CodedError(env, "ERR_DLSWAP_LOADER_HUNG", hung);
  size_t count = SizeArg(env, info[1], "count"), size = SizeArg(env, info[2], "size");
  if (count == 0 || size == 0) throw CodedError(env, "ERR_DLSWAP_ARG", "alloc: the size must be at least 1 byte");
  auto calloc_fn = CallocOf(*lib);
  if (!calloc_fn) {
    throw CodedError(env, "ERR_DLSWAP_MODE_UNSUPPORTED", "this library has no libc in its scope, so it has no allocator to allocate with");
  }
  if (lib->ns) EnsureThreadReady(lib->ns);
  void *p = calloc_fn(count, size);
  if (!p)
    throw CodedError(
        env, "ERR_DLSWAP_NO_MEMORY",
        "alloc: the library's allocator is out of memory (" + std::to_string(count) + " x " + std::to_string(size) + " bytes)");
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

// discardPages(address, length): the whole pages inside [address, address + length) are given back to
// the system (MADV_DONTNEED: they read as zero when touched again). For a block lib.free holds back
// from the allocator (lib/call/memory.ts): it keeps its address, not its memory. The allocator's own
// bookkeeping lives outside the block (its chunk header before it, the next chunk's after it), and
// what free() later writes into the block lands on fresh zero pages.
Napi::Value DiscardPagesJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const uint64_t addr = AddressArg(env, info[0], "discardPages");
  const size_t len = SizeArg(env, info[1], "length");
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (addr == 0 || len > UINT64_MAX - page || addr > UINT64_MAX - page - len) {
    throw CodedError(env, "ERR_DLSWAP_ARG", "discardPages: not a range of the address space");
  }
  const uint64_t first = (addr + page - 1) / page * page;
  const uint64_t end = (addr + len) / page * page;
  if (end > first && madvise(reinterpret_cast<void *>(static_cast<uintptr_t>(first)), end - first, MADV_DONTNEED) != 0) {
    throw CodedError(env, "ERR_DLSWAP_INTERNAL", std::string("discardPages: madvise failed: ") + std::strerror(errno));
  }
  return env.Undefined();
}

}  // namespace

void RegisterMemory(Napi::Env env, Napi::Object exports) {
  Export(env, exports,
         {{"addressOf", AddressOfJs},
          {"copyFromAddress", CopyFromAddressJs},
          {"copyToAddress", CopyToAddressJs},
          {"readCString", ReadCStringJs},
          {"allocIn", AllocInJs},
          {"discardPages", DiscardPagesJs}});
}

}  // namespace dlswap
