// Integer products of wide codes (9 to 16 bits): int16 x int16 operands, exact int64 sums. The graph
// executor's int16 path (core/doc/executors.md, "Integer products"). The integer engine's int16
// errors have their own per-ISA int16 x int8 kernels (gemm16.h).
#pragma once

#include <cstdint>

namespace bitbench {

// C[i*ldc + j] = sum_k A[i*lda + k] * B[j*ldb + k]   for i < M, j < N (the "nt" form).
// requires: |A| <= boundA and |B| <= boundB for every entry, 1 <= boundA, boundB <= 32767.
// ensures: C exact (no overflow: partial sums are held in int32 over chunks of k short enough
//          that chunk * boundA * boundB < 2^31, then added in int64); the same for any thread
//          count, and equal to gemm_i16_nt_ref.
void gemm_i16_nt(int64_t M, int64_t N, int64_t K, const int16_t* A, int64_t lda, const int16_t* B, int64_t ldb,
                 int64_t* C, int64_t ldc, int32_t boundA, int32_t boundB);
// The definition: one int64 accumulator per output, k ascending, on the calling thread.
void gemm_i16_nt_ref(int64_t M, int64_t N, int64_t K, const int16_t* A, int64_t lda, const int16_t* B,
                     int64_t ldb, int64_t* C, int64_t ldc);

// The k chunk gemm_i16_nt sums in int32: the largest c with c * boundA * boundB < 2^31, at least 1.
int64_t gemm_i16_chunk(int32_t boundA, int32_t boundB);

} // namespace bitbench
