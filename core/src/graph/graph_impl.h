// Helpers shared by the op graph's sources (names of op kinds, shape text).
#pragma once

#include "bitbench/graph.h"

#include <optional>
#include <string>

namespace bitbench {

// The kind whose op_kind_name is `name`; nullopt for an unknown name.
std::optional<OpKind> op_kind_from_name(const std::string& name);
// The JSON names of every kind, for messages: "conv, fc, ...".
std::string op_kind_names_list();

// "HxWxC", as messages print shapes.
inline std::string shape_text(const TensorShape& s) {
    return std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c);
}

// "input" names the network input in every op's inputs; no op may take it as its name.
inline constexpr const char* kGraphInputName = "input";

} // namespace bitbench
