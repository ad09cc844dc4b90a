// Reference float32 products: the exact chain of sgemm.h written as plain loops.
#include "kernels/sgemm.h"

#include <cmath>

namespace bitbench {

void sgemm_nt_ref(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            float acc = 0.0f;
            for (int64_t k = 0; k < K; ++k) acc = std::fma(A[i * K + k], B[j * K + k], acc);
            C[i * N + j] = acc;
        }
}

void sgemm_tn_ref(int64_t M, int64_t N, int64_t R, const float* A, const float* B, float* C) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            float acc = 0.0f;
            for (int64_t r = 0; r < R; ++r) acc = std::fma(A[r * M + i], B[r * N + j], acc);
            C[i * N + j] = acc;
        }
}

void sgemm_nn_ref(int64_t M, int64_t K, int64_t Nn, const float* A, const float* B, float* C) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < K; ++j) {
            float acc = 0.0f;
            for (int64_t n = 0; n < Nn; ++n) acc = std::fma(A[i * Nn + n], B[n * K + j], acc);
            C[i * K + j] = acc;
        }
}

} // namespace bitbench
