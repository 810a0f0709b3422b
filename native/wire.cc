// WIRE: the numbers lib/ and the addon pass each other, as the addon has them. lib/ keeps its own
// copies where it needs them at compile time (KIND_CODES and MAX_PARAMS in lib/signature/signature.ts, the
// IsolationCode const enum in lib/native.ts, MAX_NAMESPACES and MAX_DEPENDENCIES in lib/wire.ts, the
// integer ranges in lib/signature/int_ranges.ts), and
// test/package/wire_constants.test.ts checks each against this object. The same test checks that every
// ERR_DLSWAP_* code of native/ is one of lib/errors.ts's.
#include "call/int_ranges.h"
#include "call/kinds.h"
#include "common/exports.h"
#include "image/library_handle.h"
#include "loader/dependency_plan.h"
#include "namespace/namespace_pool.h"
#include "plugin/plugin_host.h"

namespace dlswap {

namespace {

Napi::Object Frozen(Napi::Object o) {
  o.Freeze();
  return o;
}

// Keyed by lib/signature/signature.ts's names of the kinds.
Napi::Object KindCodes(Napi::Env env) {
  static constexpr struct {
    const char *name;
    Kind kind;
  } kKinds[] = {{"void", kVoid}, {"bool", kBool}, {"i8", kI8},           {"u8", kU8},         {"i16", kI16},
                {"u16", kU16},   {"i32", kI32},   {"u32", kU32},         {"i64", kI64},       {"u64", kU64},
                {"f32", kF32},   {"f64", kF64},   {"pointer", kPointer}, {"string", kString}, {"aggregate", kAggregate}};
  static_assert(sizeof kKinds / sizeof kKinds[0] == kKindCount, "every kind has its name");
  Napi::Object o = Napi::Object::New(env);
  for (const auto &k : kKinds) o.Set(k.name, static_cast<double>(k.kind));
  return Frozen(o);
}

// What a JS number may carry into each integer kind (call/int_ranges.h), keyed like KindCodes.
Napi::Object IntRanges(Napi::Env env) {
  static constexpr struct {
    const char *name;
    Kind kind;
  } kInts[] = {{"i8", kI8}, {"u8", kU8}, {"i16", kI16}, {"u16", kU16}, {"i32", kI32}, {"u32", kU32}, {"i64", kI64}, {"u64", kU64}};
  Napi::Object o = Napi::Object::New(env);
  for (const auto &k : kInts) {
    Napi::Object range = Napi::Object::New(env);
    range.Set("lo", NumberRangeOf(k.kind).lo);
    range.Set("hi", NumberRangeOf(k.kind).hi);
    o.Set(k.name, Frozen(range));
  }
  return Frozen(o);
}

// Keyed by the isolation modes' names in lib/load/isolation.ts.
Napi::Object IsolationCodes(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("local", static_cast<double>(Isolation::Local));
  o.Set("deepbind", static_cast<double>(Isolation::DeepBind));
  o.Set("namespace", static_cast<double>(Isolation::Namespace));
  o.Set("fresh-namespace", static_cast<double>(Isolation::FreshNamespace));
  return Frozen(o);
}

}  // namespace

void RegisterWire(Napi::Env env, Napi::Object exports) {
  Napi::Object wire = Napi::Object::New(env);
  wire.Set("kinds", KindCodes(env));
  wire.Set("kindCount", static_cast<double>(kKindCount));
  wire.Set("intRanges", IntRanges(env));
  wire.Set("isolation", IsolationCodes(env));
  wire.Set("maxParams", static_cast<double>(kMaxFixedParams));
  wire.Set("maxNamespaces", static_cast<double>(kMaxNamespaces));
  Napi::Object log_queue = Napi::Object::New(env);
  log_queue.Set("lines", static_cast<double>(kLogQueueLines));
  log_queue.Set("bytes", static_cast<double>(kLogQueueBytes));
  wire.Set("logQueue", Frozen(log_queue));
  wire.Set("maxDependencies", static_cast<double>(kMaxPlanNodes - 1));
  exports.Set("WIRE", Frozen(wire));
}

}  // namespace dlswap
