// See aggregate.h.
#include "call/aggregate.h"

#include <string>

#include "call/kinds.h"
#include "common/errors.h"

namespace dlswap {

namespace {

constexpr int kMaxDepth = 32;
constexpr uint32_t kMaxElements = 1u << 20;

std::unique_ptr<FfiAggregate> Build(Napi::Env env, Napi::Value shape, int depth, uint32_t *budget) {
  if (depth > kMaxDepth || !shape.IsObject()) {
    throw CodedTypeError(env, "ERR_DLSWAP_SIGNATURE", "malformed struct shape (too deep, or not an object)");
  }
  Napi::Object o = shape.As<Napi::Object>();
  Napi::Value size = o.Get("size"), align = o.Get("align"), elements = o.Get("elements");
  if (!size.IsNumber() || !align.IsNumber() || !elements.IsArray()) {
    throw CodedTypeError(env, "ERR_DLSWAP_SIGNATURE", "malformed struct shape: { size, align, elements } expected");
  }
  auto agg = std::make_unique<FfiAggregate>();
  agg->size = size.As<Napi::Number>().Uint32Value();
  agg->align = align.As<Napi::Number>().Uint32Value();
  Napi::Array list = elements.As<Napi::Array>();
  if (list.Length() == 0 || list.Length() > *budget) {
    throw CodedTypeError(env, "ERR_DLSWAP_SIGNATURE", "malformed struct shape: between 1 and 2^20 elements expected");
  }
  *budget -= list.Length();
  agg->elements.reserve(list.Length() + 1);
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value e = list.Get(i);
    if (e.IsNumber()) {
      int32_t k = e.As<Napi::Number>().Int32Value();
      if (k <= kVoid || k == kString || k >= kAggregate) {
        throw CodedTypeError(env, "ERR_DLSWAP_SIGNATURE", "malformed struct shape: bad element kind " + std::to_string(k));
      }
      agg->elements.push_back(FfiType(static_cast<uint8_t>(k), false));
    } else {
      agg->children.push_back(Build(env, e, depth + 1, budget));
      agg->elements.push_back(&agg->children.back()->type);
    }
  }
  agg->elements.push_back(nullptr);
  agg->type.size = 0;
  agg->type.alignment = 0;
  agg->type.type = FFI_TYPE_STRUCT;
  agg->type.elements = agg->elements.data();
  return agg;
}

}  // namespace

std::unique_ptr<FfiAggregate> BuildAggregate(Napi::Env env, Napi::Value shape) {
  uint32_t budget = kMaxElements;
  return Build(env, shape, 0, &budget);
}

bool AggregateMatches(const FfiAggregate &agg) {
  if (agg.type.size != agg.size || agg.type.alignment != agg.align) return false;
  for (const auto &c : agg.children) {
    if (!AggregateMatches(*c)) return false;
  }
  return true;
}

}  // namespace dlswap
