// Float32 products on fixed row blocks (Eigen, one thread per block): every output element is
// always computed by the same loop whatever the thread count, so sums keep one order and results
// stay bit-identical. Shared by the float engine and the graph executor's fast kernels.
#pragma once

#include <cstdint>

namespace bitbench {

// Rows per block: the unit of parallel work.
inline constexpr int64_t kFloatRowBlock = 64;

// C[i][j] = sum_k A[i][k] B[j][k]   (A is M x K, B is N x K, C is M x N; all row-major)
void gemm_f32_nt(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
// C[i][j] = sum_r A[r][i] B[r][j]   (A is R x M, B is R x N, C is M x N)
void gemm_f32_tn(int64_t M, int64_t N, int64_t R, const float* A, const float* B, float* C);
// C[i][j] = sum_n A[i][n] B[n][j]   (A is M x Nn, B is Nn x K, C is M x K)
void gemm_f32_nn(int64_t M, int64_t K, int64_t Nn, const float* A, const float* B, float* C);

} // namespace bitbench
