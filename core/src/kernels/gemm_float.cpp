// Float32 products on fixed row blocks with Eigen; see gemm_float.h.
#include "kernels/gemm_float.h"

#include <Eigen/Core>

#include <tbb/parallel_for.h>

#include <algorithm>

namespace bitbench {

namespace {

template <typename F> void rowBlocks(int64_t rows, F&& f) {
    tbb::parallel_for(int64_t(0), (rows + kFloatRowBlock - 1) / kFloatRowBlock, [&](int64_t blk) {
        f(blk * kFloatRowBlock, std::min(rows, (blk + 1) * kFloatRowBlock));
    });
}

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMatrix>;
using Map = Eigen::Map<RowMatrix>;

} // namespace

void gemm_f32_nt(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
    const ConstMap b(B, N, K);
    rowBlocks(M, [&](int64_t lo, int64_t hi) {
        Map(C + lo * N, hi - lo, N).noalias() = ConstMap(A + lo * K, hi - lo, K) * b.transpose();
    });
}

void gemm_f32_tn(int64_t M, int64_t N, int64_t R, const float* A, const float* B, float* C) {
    const ConstMap a(A, R, M), b(B, R, N);
    rowBlocks(M, [&](int64_t lo, int64_t hi) {
        Map(C + lo * N, hi - lo, N).noalias() = a.middleCols(lo, hi - lo).transpose() * b;
    });
}

void gemm_f32_nn(int64_t M, int64_t K, int64_t Nn, const float* A, const float* B, float* C) {
    const ConstMap b(B, Nn, K);
    rowBlocks(M, [&](int64_t lo, int64_t hi) {
        Map(C + lo * K, hi - lo, K).noalias() = ConstMap(A + lo * Nn, hi - lo, Nn) * b;
    });
}

} // namespace bitbench
