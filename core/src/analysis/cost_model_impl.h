// Helpers shared by the cost model's layer form (cost_model.cpp) and experiment form
// (cost_model_graph.cpp).
#pragma once

#include <cstdint>

namespace bitbench::cost_detail {

// The smallest n with 2^n >= k (0 for k <= 1): the extra adder bits a sum of k terms needs.
inline int32_t ceilLog2(int64_t k) {
    int32_t n = 0;
    while ((int64_t(1) << n) < k) ++n;
    return n;
}

} // namespace bitbench::cost_detail
