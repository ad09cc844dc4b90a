// AVX-512 float32 tile kernels (vfmadd231ps on zmm, one lane per output element), built with
// their own -mavx512f flags and -ffp-contract=off.
#include "kernels/sgemm_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

namespace bitbench::sgemm_detail {

namespace {

inline __mmask16 laneMask(int valid) {
    return valid >= 16 ? __mmask16(0xFFFF) : valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1);
}

// MR rows x NV vectors of 16 columns: MR * NV accumulators plus NV vectors of B in the 32 zmm
// registers; A is broadcast from memory into each fused multiply-add. Lanes past `cols` load B as
// 0 and are never stored; loads are masked, so B may end at column `cols`.
template <int MR, int NV, bool kColsA>
void tile(const Tile& t) {
    __mmask16 mask[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) mask[v] = laneMask(t.cols - 16 * v);

    __m512 acc[MR][NV];
#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
            acc[r][v] = (t.load && r >= t.rowBegin && r < t.rowEnd)
                            ? _mm512_maskz_loadu_ps(mask[v], t.c + r * t.ldc + 16 * v)
                            : _mm512_setzero_ps();

    const float* a = t.a;
    const float* b = t.b;
    const int64_t lda = t.lda, ldb = t.ldb, steps = t.k;
    const int64_t aStep = kColsA ? lda : 1;  // from step s to s + 1
    const int64_t aRow = kColsA ? 1 : lda;   // from row r to r + 1
    for (int64_t s = 0; s < steps; ++s) {
        __m512 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = _mm512_maskz_loadu_ps(mask[v], b + 16 * v);
#pragma GCC unroll 32
        for (int r = 0; r < MR; ++r) {
            const __m512 x = _mm512_set1_ps(a[r * aRow]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
        a += aStep;
        b += ldb;
    }

#pragma GCC unroll 32
    for (int r = 0; r < MR; ++r) {
        if (r < t.rowBegin || r >= t.rowEnd) continue;
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(t.c + r * t.ldc + 16 * v, mask[v], acc[r][v]);
    }
}

void copyRows(const float* src, int64_t ld, int64_t rows, int width, int stride, float* dst) {
    for (int64_t s = 0; s < rows; ++s)
        for (int t = 0; t < stride; t += 16)
            _mm512_storeu_ps(dst + s * stride + t, _mm512_maskz_loadu_ps(laneMask(width - t), src + s * ld + t));
}

template <int MR, int NV>
constexpr TileKernel shape() {
    return {MR, 16 * NV, &tile<MR, NV, false>, &tile<MR, NV, true>};
}

// 28, 24 or 16 accumulators: at least the 8 independent chains two FMA pipes of latency 4 need.
constexpr TileKernel kShapes[] = {shape<14, 2>(), shape<6, 4>(), shape<8, 2>(), shape<28, 1>()};

} // namespace

KernelMenu sgemm_kernels_avx512() { return {kShapes, int(sizeof kShapes / sizeof kShapes[0]), 16, &copyRows}; }

} // namespace bitbench::sgemm_detail

#endif
