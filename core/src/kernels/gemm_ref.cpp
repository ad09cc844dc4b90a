// Reference integer GEMM kernels (plain loops) and the wide int32 x int32 -> int64 products.
#include "bitbench/gemm.h"

#include <tbb/parallel_for.h>

namespace bitbench {

void gemm_s8_nt_ref(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B,
                    int64_t ldb, int32_t* C, int64_t ldc, bool accumulate) {
    for (int64_t i = 0; i < M; ++i) {
        const int8_t* a = A + i * lda;
        for (int64_t j = 0; j < N; ++j) {
            const int8_t* b = B + j * ldb;
            int32_t s = 0;
            for (int64_t k = 0; k < K; ++k) s += int32_t(a[k]) * int32_t(b[k]);
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
        }
    }
}

void gemm_s8_tn_ref(int64_t M, int64_t N, int64_t R, const int8_t* A, int64_t lda, const int8_t* B,
                    int64_t ldb, int32_t* C, int64_t ldc, bool accumulate) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            int32_t s = 0;
            for (int64_t r = 0; r < R; ++r) s += int32_t(A[r * lda + i]) * int32_t(B[r * ldb + j]);
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
        }
}

void gemm_i32_nt(int64_t M, int64_t N, int64_t K, const int32_t* A, int64_t lda, const int32_t* B,
                 int64_t ldb, int64_t* C, int64_t ldc, bool accumulate) {
    tbb::parallel_for(int64_t(0), M, [&](int64_t i) {
        const int32_t* a = A + i * lda;
        for (int64_t j = 0; j < N; ++j) {
            const int32_t* b = B + j * ldb;
            int64_t s = 0;
            for (int64_t k = 0; k < K; ++k) s += int64_t(a[k]) * int64_t(b[k]);
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
        }
    });
}

void gemm_i32_tn(int64_t M, int64_t N, int64_t R, const int32_t* A, int64_t lda, const int32_t* B,
                 int64_t ldb, int64_t* C, int64_t ldc, bool accumulate) {
    tbb::parallel_for(int64_t(0), M, [&](int64_t i) {
        for (int64_t j = 0; j < N; ++j) {
            int64_t s = 0;
            for (int64_t r = 0; r < R; ++r) s += int64_t(A[r * lda + i]) * int64_t(B[r * ldb + j]);
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
        }
    });
}

} // namespace bitbench
