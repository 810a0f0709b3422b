// readElf and readElfBytes: the ELF reader (elf/elf_reader.h) as lib/elf/elf.ts sees it.
#include "elf/elf_js.h"

#include "common/errors.h"
#include "common/js_values.h"
#include "common/exports.h"
#include "elf/elf_reader.h"

namespace dlswap {

void SetDynamicNames(Napi::Env env, Napi::Object o, const ElfInfoStruct &s) {
  o.Set("soname", OptString(env, s.soname));
  o.Set("needed", ToArray(env, s.needed));
  o.Set("rpath", OptString(env, s.rpath));
  o.Set("runpath", OptString(env, s.runpath));
  o.Set("buildId", OptString(env, s.build_id));
}

namespace {

Napi::Value ToJs(Napi::Env env, const ElfInfoStruct &s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("class", static_cast<double>(s.elf_class));
  o.Set("endian", s.big_endian ? "big" : "little");
  o.Set("machine", static_cast<double>(s.machine));
  o.Set("machineName", s.machine_name);
  o.Set("type", s.type);
  o.Set("fileSize", static_cast<double>(s.file_size));
  SetDynamicNames(env, o, s);
  o.Set("flags", static_cast<double>(s.flags));
  o.Set("flags1", static_cast<double>(s.flags1));
  o.Set("nodelete", s.nodelete);
  o.Set("textrel", s.textrel);
  o.Set("execstack", s.execstack ? Napi::Value(Napi::Boolean::New(env, *s.execstack)) : env.Null());
  if (s.tls) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("memsz", static_cast<double>(s.tls->memsz));
    t.Set("filesz", static_cast<double>(s.tls->filesz));
    t.Set("align", static_cast<double>(s.tls->align));
    o.Set("tls", t);
  } else {
    o.Set("tls", env.Null());
  }
  o.Set("staticTlsModel", s.static_tls_model);
  o.Set("finiArrayEntries", static_cast<double>(s.fini_array_entries));
  o.Set("exports", ToArray(env, s.exports));
  o.Set("imports", ToArray(env, s.imports));
  o.Set("weakImports", ToArray(env, s.weak_imports));
  o.Set("uniqueSymbols", ToArray(env, s.unique_symbols));
  o.Set("copyRelocs", ToArray(env, s.copy_relocs));
  o.Set("initFiniSymbols", ToArray(env, s.init_fini_symbols));
  o.Set("selfBoundSymbols", ToArray(env, s.self_bound_symbols));
  o.Set("truncated", s.truncated);
  return o;
}

Napi::Value ReadElfJs(const Napi::CallbackInfo &cb) {
  Napi::Env env = cb.Env();
  if (cb.Length() < 1 || !cb[0].IsString()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readElf(path): path must be a string");
  }
  const std::string path = cb[0].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readElf(path): path must be a non-empty string without NUL bytes");
  }
  ElfInfoStruct s;
  NativeError err;
  if (!ReadElfFile(path, s, err)) throw CodedError(env, err);
  return ToJs(env, s);
}

// readElfBytes(bytes: Uint8Array, name: string): the same as readElf, on bytes already read (so that
// what is checked is exactly what was hashed, whatever happens to the file meanwhile).
Napi::Value ReadElfBytesJs(const Napi::CallbackInfo &cb) {
  Napi::Env env = cb.Env();
  if (cb.Length() < 2 || !cb[0].IsTypedArray() || !cb[1].IsString()) {
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readElfBytes(bytes: Uint8Array, name: string)");
  }
  Napi::TypedArray ta = cb[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array)
    throw CodedTypeError(env, "ERR_DLSWAP_ARG", "readElfBytes: bytes must be a Uint8Array or Buffer");
  Napi::Uint8Array bytes = cb[0].As<Napi::Uint8Array>();
  const std::string name = cb[1].As<Napi::String>().Utf8Value();
  ElfInfoStruct s;
  NativeError err;
  if (!ReadElfBytes(bytes.Data(), bytes.ElementLength(), name, s, err)) throw CodedError(env, err);
  return ToJs(env, s);
}

}  // namespace

void RegisterElf(Napi::Env env, Napi::Object exports) { Export(env, exports, {{"readElf", ReadElfJs}, {"readElfBytes", ReadElfBytesJs}}); }

}  // namespace dlswap
