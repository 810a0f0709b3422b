// A dependency plan as the plain objects lib/native.ts types as NativeDependency.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "loader/closure_copy.h"
#include "loader/dependency_plan.h"

namespace dlswap {

// The plan's nodes after the library itself. With a load's closure: each private node's copy and new
// name, what each was bound to, and which entry of the loaded images (`dep_nodes`) it is.
Napi::Array DependenciesToJs(Napi::Env env, const DependencyPlan &plan, const ClosureCopies *closure,
                             const std::vector<std::string> *bound_to, const std::vector<int> &dep_nodes);

// The registries of lib/load/registries.ts as the planner takes them: an array of
// { what, sonames[], registers[], pointsIntoImage }; anything else is skipped.
std::vector<RegistryRule> RegistryRules(Napi::Value v);

}  // namespace dlswap
