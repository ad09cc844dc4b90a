// int16 x int16 products with exact int64 sums (gemm_i16.h). The inner loop is a widening
// multiply-add the compiler turns into pmaddwd (vpdpwssd with AVX-512 VNNI) over chunks of k.
#include "kernels/gemm_i16.h"

#include <tbb/parallel_for.h>

#include <algorithm>

namespace bitbench {

int64_t gemm_i16_chunk(int32_t boundA, int32_t boundB) {
    const int64_t product = int64_t(boundA) * int64_t(boundB);
    return std::max<int64_t>(1, (int64_t(0x7FFFFFFF) - 1) / std::max<int64_t>(1, product));
}

namespace {

// One output: sum over k in [0, K) in int32 chunks of `chunk`, added in int64.
inline int64_t dot(const int16_t* a, const int16_t* b, int64_t K, int64_t chunk) {
    int64_t s = 0;
    for (int64_t k0 = 0; k0 < K; k0 += chunk) {
        const int64_t k1 = std::min(K, k0 + chunk);
        int32_t acc = 0;
        for (int64_t k = k0; k < k1; ++k) acc += int32_t(a[k]) * int32_t(b[k]);
        s += acc;
    }
    return s;
}

// Four outputs of one A row against four B rows at once: each A load serves four products.
inline void dot4(const int16_t* a, const int16_t* const b[4], int64_t K, int64_t chunk, int64_t* out) {
    int64_t s[4] = {0, 0, 0, 0};
    for (int64_t k0 = 0; k0 < K; k0 += chunk) {
        const int64_t k1 = std::min(K, k0 + chunk);
        int32_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (int64_t k = k0; k < k1; ++k) {
            const int32_t x = a[k];
            acc0 += x * int32_t(b[0][k]);
            acc1 += x * int32_t(b[1][k]);
            acc2 += x * int32_t(b[2][k]);
            acc3 += x * int32_t(b[3][k]);
        }
        s[0] += acc0;
        s[1] += acc1;
        s[2] += acc2;
        s[3] += acc3;
    }
    for (int t = 0; t < 4; ++t) out[t] = s[t];
}

} // namespace

void gemm_i16_nt(int64_t M, int64_t N, int64_t K, const int16_t* A, int64_t lda, const int16_t* B, int64_t ldb,
                 int64_t* C, int64_t ldc, int32_t boundA, int32_t boundB) {
    const int64_t chunk = gemm_i16_chunk(boundA, boundB);
    // Integer sums are exact, so any split of the work gives the same result.
    tbb::parallel_for(int64_t(0), M, [&](int64_t i) {
        const int16_t* a = A + i * lda;
        int64_t* c = C + i * ldc;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            const int16_t* b[4] = {B + j * ldb, B + (j + 1) * ldb, B + (j + 2) * ldb, B + (j + 3) * ldb};
            dot4(a, b, K, chunk, c + j);
        }
        for (; j < N; ++j) c[j] = dot(a, B + j * ldb, K, chunk);
    });
}

void gemm_i16_nt_ref(int64_t M, int64_t N, int64_t K, const int16_t* A, int64_t lda, const int16_t* B,
                     int64_t ldb, int64_t* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            int64_t s = 0;
            for (int64_t k = 0; k < K; ++k) s += int64_t(A[i * lda + k]) * int64_t(B[j * ldb + k]);
            C[i * ldc + j] = s;
        }
}

} // namespace bitbench
