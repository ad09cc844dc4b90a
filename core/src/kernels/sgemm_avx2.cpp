// AVX2 float32 tile kernels (vfmadd231ps on ymm, one lane per output element), built with their
// own -mavx2 -mfma flags and -ffp-contract=off.
#include "kernels/sgemm_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

namespace bitbench::sgemm_detail {

namespace {

// Lanes [0, valid) set, as vmaskmovps wants them (sign bits).
inline __m256i laneMask(int valid) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lanes);
}

// MR rows x NV vectors of 8 columns: MR * NV accumulators, NV vectors of B and one broadcast of
// A in the 16 ymm registers. kMasked: the tile's last columns are missing (cols < nr), B and C
// are read and written through vmaskmovps, which never touches the masked-off addresses.
template <int MR, int NV, bool kColsA, bool kMasked>
void tileOf(const Tile& t) {
    __m256i mask[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) mask[v] = laneMask(kMasked ? t.cols - 8 * v : 8);

    __m256 acc[MR][NV];
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            const float* c = t.c + r * t.ldc + 8 * v;
            acc[r][v] = !(t.load && r >= t.rowBegin && r < t.rowEnd) ? _mm256_setzero_ps()
                        : kMasked                                    ? _mm256_maskload_ps(c, mask[v])
                                                                     : _mm256_loadu_ps(c);
        }

    const float* a = t.a;
    const float* b = t.b;
    const int64_t lda = t.lda, ldb = t.ldb, steps = t.k;
    const int64_t aStep = kColsA ? lda : 1;
    const int64_t aRow = kColsA ? 1 : lda;
    for (int64_t s = 0; s < steps; ++s) {
        __m256 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = kMasked ? _mm256_maskload_ps(b + 8 * v, mask[v]) : _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 16
        for (int r = 0; r < MR; ++r) {
            const __m256 x = _mm256_broadcast_ss(a + r * aRow);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
        }
        a += aStep;
        b += ldb;
    }

#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
        if (r < t.rowBegin || r >= t.rowEnd) continue;
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            float* c = t.c + r * t.ldc + 8 * v;
            if (kMasked) _mm256_maskstore_ps(c, mask[v], acc[r][v]);
            else _mm256_storeu_ps(c, acc[r][v]);
        }
    }
}

template <int MR, int NV, bool kColsA>
void tile(const Tile& t) {
    if (t.cols < 8 * NV) tileOf<MR, NV, kColsA, true>(t);
    else tileOf<MR, NV, kColsA, false>(t);
}

void copyRows(const float* src, int64_t ld, int64_t rows, int width, int stride, float* dst) {
    for (int64_t s = 0; s < rows; ++s)
        for (int t = 0; t < stride; t += 8)
            _mm256_storeu_ps(dst + s * stride + t, _mm256_maskload_ps(src + s * ld + t, laneMask(width - t)));
}

template <int MR, int NV>
constexpr TileKernel shape() {
    return {MR, 8 * NV, &tile<MR, NV, false>, &tile<MR, NV, true>};
}

// 12 accumulators each: enough independent chains for two FMA pipes of latency 4-5.
constexpr TileKernel kShapes[] = {shape<6, 2>(), shape<4, 3>(), shape<12, 1>()};

} // namespace

KernelMenu sgemm_kernels_avx2() { return {kShapes, int(sizeof kShapes / sizeof kShapes[0]), 8, &copyRows}; }

} // namespace bitbench::sgemm_detail

#endif
