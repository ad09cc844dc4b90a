// Products with int16 codes (a class of 9 to 16 bits): int16 x int8 operands, exact sums.
#pragma once

#include "bitbench/gemm.h"

#include <tbb/enumerable_thread_specific.h>

#include <cstdint>
#include <vector>

namespace bitbench {

// The integer engine's products when its errors E are int16 codes (kE of 9 to 16 bits):
//   error product   dx = E · Wq          nt form, int32 sums (the caller proves the bound),
//   weight gradient dW = E^T · A         tn form, int64 sums.
// Both run on pairs of int16 (what one 32-bit lane of vpdpwssd, or of vpmaddwd, sums); the int8
// operand is widened while it is packed. Int32 lanes wrap modulo 2^32 (vpdpwssd, vpaddd), so a
// sum is exact whenever its true value fits int32; the tn form therefore sums chunks of rows
// short enough that every chunk fits (chunk * maxA * maxB < 2^31) and adds the chunks in int64.
// Every kernel equals the reference loops (gemm_s16_*_ref) bit for bit, for any thread count
// and ISA (gemm_isa_active(); core/doc/kernels.md, "int16 products").

// B of the nt form packed once for many products (the layer's weights within a step).
struct Gemm16PackedB {
    int64_t N = 0, K = 0, pairs = 0;
    const int8_t* b = nullptr; // the source [N][ldb] (the reference path multiplies from it)
    int64_t ldb = 0;
    std::vector<int32_t> panels; // [N/16 panels][pairs][16 columns] words of two int16
};
// requires: B codes in [-127, 127]. Allocates only when packed grows.
void gemm_s16_pack_b(int64_t N, int64_t K, const int8_t* B, int64_t ldb, Gemm16PackedB& packed);

// nt: C[i*ldc + j] = sum_k A[i*lda + k] * B[j][k] for i < M, j < B.N (C overwritten).
// requires: codes within +-32767 (A) and +-127 (B); |every sum| < 2^31 (the caller's bound,
//           e.g. K * maxA * maxB < 2^31). parallel: split over TBB tasks, else this thread only.
void gemm_s16_nt_packed(int64_t M, const int16_t* A, int64_t lda, const Gemm16PackedB& B, int32_t* C, int64_t ldc,
                        bool parallel);

// Buffers of the tn form, kept by the caller between calls (they grow to the largest shape).
struct Gemm16Workspace {
    std::vector<int32_t> a, b; // A and B interleaved by pairs of rows (the whole reduction)
    tbb::enumerable_thread_specific<std::vector<int32_t>> taskA, taskB; // per-task chunks
    tbb::enumerable_thread_specific<std::vector<int64_t>> partial;      // per-thread partial C
};

// tn: C[i*ldc + j] (+)= sum_r A[r*lda + i] * B[r*ldb + j] for i < M, j < N, r < R, int64 C.
// requires: |A| <= maxA <= 32767, |B| <= maxB <= 127 (B int8 codes). Exact for any R.
void gemm_s16_tn(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                 int64_t* C, int64_t ldc, bool accumulate, int32_t maxA, int32_t maxB, Gemm16Workspace& ws);

// tn with int16 B (both operands wide: banner8's int16 E_grad codes against u8 activations minus
// their zero point). requires: |A| <= maxA <= 32767, |B| <= maxB <= 32767 (a pair of products
// then never saturates vpmaddwd: 2 * 32767^2 < 2^31). Exact for any R, equal to gemm_s16_tn_ref.
void gemm_s16_tn(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int16_t* B, int64_t ldb,
                 int64_t* C, int64_t ldc, bool accumulate, int32_t maxA, int32_t maxB, Gemm16Workspace& ws);

// Rows of the tn form summed per int32 chunk: the largest even count with rows * maxA * maxB < 2^31
// (capped for cache). requires: maxA, maxB >= 1.
int64_t gemm_s16_tn_chunk_rows(int32_t maxA, int32_t maxB);

// Reference loops: int64 sums in plain loops, the definition.
void gemm_s16_nt_ref(int64_t M, int64_t N, int64_t K, const int16_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                     int32_t* C, int64_t ldc);
void gemm_s16_tn_ref(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                     int64_t* C, int64_t ldc, bool accumulate);
void gemm_s16_tn_ref(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int16_t* B, int64_t ldb,
                     int64_t* C, int64_t ldc, bool accumulate);

} // namespace bitbench
