// Built-in op graphs as JSON text, for model_builtin_json (model.cpp).
#pragma once

#include <string>

namespace bitbench {

// The JSON text of the built-in graph `name`, or nullptr when graph_builtin_names() lacks it.
const char* graph_builtin_text(const std::string& name);

} // namespace bitbench
