// Integer matrix products for training steps: int8 codes in, int32 sums out, ISA chosen at run time.
#pragma once

#include <cstdint>
#include <vector>

namespace bitbench {

// Instruction sets with a kernel of their own (sibling files core/src/gemm_<isa>.cpp).
enum class GemmIsa { Reference, Avx2, Avx512Vnni };

const char* gemm_isa_name(GemmIsa isa);
// Best ISA this CPU supports and this build has a kernel for (from CPUID, once).
GemmIsa gemm_isa_detected();
// The ISA in use: detected, unless forced (tests use this to run every path on one machine)
// or limited through the environment variable BITBENCH_ISA=reference|avx2|avx512vnni.
GemmIsa gemm_isa_active();
// requires: isa <= gemm_isa_detected(). Forcing a higher ISA throws std::invalid_argument.
void gemm_isa_force(GemmIsa isa);

// "nt" form: both operands are K-contiguous rows (dot-product layout).
//   C[i*ldc + j] (+)= sum_k A[i*lda + k] * B[j*ldb + k]   for i < M, j < N.
// requires: codes in [-127, 127] (never -128); K * 127 * 127 < 2^31 (K < 133,144), so int32
//           sums cannot overflow; aNonNegative means every A code is in [0, 127] (activations
//           after relu), which kernels may exploit (u8 x s8 instructions).
// ensures: the result equals gemm_s8_nt_ref bit for bit, for any thread count.
void gemm_s8_nt(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B,
                int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool aNonNegative = false);

// The B operand of the nt form packed once for many products with the same B (a layer's
// weights within a step; the products are chunks of its rows). Holds a pointer to B too: the
// reference path multiplies from it, so B must outlive its use and stay unchanged.
struct GemmPackedB {
    int64_t N = 0, K = 0;
    const int8_t* b = nullptr; // the source, row-major [N][ldb]
    int64_t ldb = 0;
    std::vector<int8_t> panels;   // packed layout of the kernels (empty on the reference path)
    std::vector<int32_t> colCorr; // 128 * sum over k of each row (the correction of a shifted A)
};
// requires: as gemm_s8_nt. ensures: packed can be used by gemm_s8_nt_packed with the same results
// as gemm_s8_nt with this B. Allocates only when packed grows.
void gemm_s8_pack_b(int64_t N, int64_t K, const int8_t* B, int64_t ldb, GemmPackedB& packed);
// gemm_s8_nt with a B packed by gemm_s8_pack_b (while the ISA in use is the same).
void gemm_s8_nt_packed(int64_t M, const int8_t* A, int64_t lda, const GemmPackedB& B, int32_t* C, int64_t ldc,
                       bool accumulate, bool aNonNegative = false);

// gemm_s8_nt_packed adding each sum at an offset, on the calling thread only:
//   C[rowOff[i] + colOff[j]] += sum_k A[i*lda + k] * B[j][k]   for i < M, j < B.N.
// Several (i, j) may share an address (their sums all arrive). This is col2im fused into the
// product (rows: output pixels, columns: kernel taps).
// requires: colOff[16p + t] == colOff[16p] + t for every panel p of 16 columns; the addresses
//           stay inside C. Fast with the VNNI kernel; plain loops otherwise.
void gemm_s8_nt_packed_add_at(int64_t M, const int8_t* A, int64_t lda, const GemmPackedB& B, int32_t* C,
                              const int64_t* rowOff, const int64_t* colOff, bool aNonNegative = false);

// "tn" form: reduction over rows, for weight gradients.
//   C[i*ldc + j] (+)= sum_r A[r*lda + i] * B[r*ldb + j]   for i < M, j < N, r < R.
// requires: as gemm_s8_nt with R in place of K.
void gemm_s8_tn(int64_t M, int64_t N, int64_t R, const int8_t* A, int64_t lda, const int8_t* B,
                int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool bNonNegative = false);

// Reference kernels: plain loops, the definition every optimized kernel is tested against.
void gemm_s8_nt_ref(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B,
                    int64_t ldb, int32_t* C, int64_t ldc, bool accumulate);
void gemm_s8_tn_ref(int64_t M, int64_t N, int64_t R, const int8_t* A, int64_t lda, const int8_t* B,
                    int64_t ldb, int32_t* C, int64_t ldc, bool accumulate);

// Wide codes (a class above 8 bits): int32 codes, int64 sums. Reference speed only.
void gemm_i32_nt(int64_t M, int64_t N, int64_t K, const int32_t* A, int64_t lda, const int32_t* B,
                 int64_t ldb, int64_t* C, int64_t ldc, bool accumulate);
void gemm_i32_tn(int64_t M, int64_t N, int64_t R, const int32_t* A, int64_t lda, const int32_t* B,
                 int64_t ldb, int64_t* C, int64_t ldc, bool accumulate);

} // namespace bitbench
