// Internal pieces of the solvers: their constructors and the fixed-chunk element loop.
#pragma once

#include "bitbench/optim.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace bitbench {

std::unique_ptr<Solver> solver_create_sgd(const OptimizerConfig& c, int64_t n);
std::unique_ptr<Solver> solver_create_adam(const OptimizerConfig& c, int64_t n);
std::unique_ptr<Solver> solver_create_wage(int64_t n, const SolverTensor& t);

// Runs f(lo, hi) over [0, n) in chunks of kSolverChunk elements, in parallel when there is more
// than one chunk. Solvers are element-wise, so the split never changes a result; the chunks are
// fixed anyway so that a per-chunk draw block (WAGE) always starts at the same element.
constexpr int64_t kSolverChunk = 16384;

template <typename F> void solver_chunks(int64_t n, F&& f) {
    const int64_t chunks = (n + kSolverChunk - 1) / kSolverChunk;
    if (chunks <= 1) {
        if (n > 0) f(int64_t(0), n);
        return;
    }
    tbb::parallel_for(int64_t(0), chunks, [&](int64_t c) {
        f(c * kSolverChunk, std::min(n, (c + 1) * kSolverChunk));
    });
}

} // namespace bitbench
