// Float32 products whose every bit is defined: one fused multiply-add chain per output element,
// the same on every instruction set and for every thread count (the graph executor's kernels).
#pragma once

#include <cstdint>

namespace bitbench {

// The exact chain. Every output element is
//     acc = 0.0f;  for k = 0, 1, ..., K-1:  acc = fmaf(a_k, b_k, acc);
// with a_k, b_k the two operands' k-th entries for that element, in ascending k, each step one
// correctly rounded fused multiply-add in round-to-nearest-even (the default floating-point
// environment: no flush-to-zero). Kernels vectorize over output rows and columns only, never
// over k; they may stop a chain after some k, store it to C and resume from C, which is exact.
// So the reference (plain loops with std::fma), the AVX2+FMA and the AVX-512 kernels, and every
// split of the work over threads give the same bits (a NaN result may differ in its payload).
// K = 0 gives C = 0.
//
// Shapes and layouts are those of gemm_f32_* (kernels/gemm_float.h); all matrices row-major and
// dense, C overwritten.
// requires: C does not overlap A or B.

// C[i][j] = sum_k A[i][k] B[j][k]   (A is M x K, B is N x K, C is M x N)
void sgemm_nt(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
// C[i][j] = sum_r A[r][i] B[r][j]   (A is R x M, B is R x N, C is M x N)
void sgemm_tn(int64_t M, int64_t N, int64_t R, const float* A, const float* B, float* C);
// C[i][j] = sum_n A[i][n] B[n][j]   (A is M x Nn, B is Nn x K, C is M x K)
void sgemm_nn(int64_t M, int64_t K, int64_t Nn, const float* A, const float* B, float* C);

// The definition: plain loops with std::fma on the calling thread (the reference ISA's kernels
// and what tests compare against).
void sgemm_nt_ref(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C);
void sgemm_tn_ref(int64_t M, int64_t N, int64_t R, const float* A, const float* B, float* C);
void sgemm_nn_ref(int64_t M, int64_t K, int64_t Nn, const float* A, const float* B, float* C);

} // namespace bitbench
