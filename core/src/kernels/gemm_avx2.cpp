// AVX2 block kernel (vpmaddubsw + vpmaddwd, no VNNI), built with its own -mavx2 -mfma flags.
#include "kernels/gemm_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cassert>

namespace bitbench::gemm_detail {

namespace {

constexpr int kRows = 4; // 4 x 16 tile: 8 ymm accumulators of 16, the rest for operands

inline __m256i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

// Why vpmaddubsw cannot saturate here. It multiplies u8 by s8 and adds adjacent pairs into an
// int16 with saturation, so a pair must stay within [-32768, 32767].
//  - AUnsigned / BUnsigned: the driver picks these only for an operand flagged non-negative, so
//    the u8 side is a code in [0, 127] (never shifted by +128 on this path) and the s8 side is in
//    [-127, 127]: |pair| <= 2 * 127 * 127 = 32,258.
//  - BothSigned: u8 side |a| in [0, 127], s8 side sign(a) * b in [-127, 127] (b is never -128,
//    so negating it is exact; vpsignb gives 0 where a is 0, and |a| is 0 there too), and
//    |a| * sign(a) * b = a * b: again |pair| <= 32,258.
// A shifted operand (a + 128, up to 255) could reach 2 * 255 * 127 = 64,770 and saturate, which
// is why this kernel set reports needsUnsignedSide = false and the driver never shifts for it.
// vpmaddwd then adds pairs of int16 into int32 exactly, and vpaddd accumulates.
template <Operands kOps>
inline __m256i product(__m256i x, __m256i absX, __m256i b) {
    if constexpr (kOps == Operands::AUnsigned) return _mm256_maddubs_epi16(x, b);
    else if constexpr (kOps == Operands::BUnsigned) return _mm256_maddubs_epi16(b, x);
    else return _mm256_maddubs_epi16(absX, _mm256_sign_epi8(b, x));
}

// One row's step: 4 bytes of A times 16 columns of the group, added to two int32 accumulators.
template <Operands kOps>
inline void step(__m256i& acc0, __m256i& acc1, const int8_t* a4, __m256i b0, __m256i b1, __m256i ones) {
    const __m256i x = broadcast4(a4);
    const __m256i absX = kOps == Operands::BothSigned ? _mm256_abs_epi8(x) : x;
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(product<kOps>(x, absX, b0), ones));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(product<kOps>(x, absX, b1), ones));
}

inline void storeRow(int32_t* c, __m256i v0, __m256i v1, const __m256i* mask, bool loadC) {
    if (loadC) {
        v0 = _mm256_add_epi32(v0, _mm256_maskload_epi32(c, mask[0]));
        v1 = _mm256_add_epi32(v1, _mm256_maskload_epi32(c + 8, mask[1]));
    }
    _mm256_maskstore_epi32(c, mask[0], v0);
    _mm256_maskstore_epi32(c + 8, mask[1], v1);
}

// Named accumulators rather than an array: GCC keeps these in registers across the loop.
template <Operands kOps>
void tile(const int8_t* a, const int8_t* b, int64_t kGroups, int32_t* c, int64_t ldc, int rowsValid,
          int64_t colsValid, bool loadC) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
            c30 = c00, c31 = c00;
    for (int64_t g = 0; g < kGroups; ++g) {
        const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + g * 64));
        const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + g * 64 + 32));
        const int8_t* ag = a + g * kRows * kGroup;
        step<kOps>(c00, c01, ag, b0, b1, ones);
        step<kOps>(c10, c11, ag + 4, b0, b1, ones);
        step<kOps>(c20, c21, ag + 8, b0, b1, ones);
        step<kOps>(c30, c31, ag + 12, b0, b1, ones);
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int valid = int(std::min<int64_t>(colsValid, 16));
    const __m256i mask[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lane),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(valid - 8), lane)};
    storeRow(c, c00, c01, mask, loadC);
    if (rowsValid > 1) storeRow(c + ldc, c10, c11, mask, loadC);
    if (rowsValid > 2) storeRow(c + 2 * ldc, c20, c21, mask, loadC);
    if (rowsValid > 3) storeRow(c + 3 * ldc, c30, c31, mask, loadC);
}

template <Operands kOps>
void blockTyped(const BlockArgs& x) {
    const int64_t tiles = (x.rows + kRows - 1) / kRows;
    const int64_t panels = (x.cols + kPanelCols - 1) / kPanelCols;
    for (int64_t p = 0; p < panels; ++p) {
        const int8_t* b = x.b + p * x.bPanelStride;
        for (int64_t t = 0; t < tiles; ++t) {
            const int rows = int(std::min<int64_t>(kRows, x.rows - t * kRows));
            tile<kOps>(x.a + t * x.aTileStride, b, x.kGroups, x.c + t * kRows * x.ldc + p * kPanelCols,
                       x.ldc, rows, x.cols - p * kPanelCols, x.loadC);
        }
    }
}

void block(const BlockArgs& x) {
    assert(!x.colCorr && !x.rowCorr); // never shifted, see the saturation argument above
    switch (x.operands) {
    case Operands::AUnsigned: blockTyped<Operands::AUnsigned>(x); break;
    case Operands::BUnsigned: blockTyped<Operands::BUnsigned>(x); break;
    case Operands::BothSigned: blockTyped<Operands::BothSigned>(x); break;
    }
}

} // namespace

const KernelSet& kernels_avx2() {
    static const KernelSet set{kRows, false, &block};
    return set;
}

} // namespace bitbench::gemm_detail

#endif
