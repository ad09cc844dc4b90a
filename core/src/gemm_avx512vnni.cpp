// AVX-512 VNNI block kernel (vpdpbusd, u8 x s8 -> s32), built with its own -mavx512* flags.
#include "gemm_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cassert>

namespace bitbench::gemm_detail {

namespace {

constexpr int kRows = 12; // 12 x 32 tile: 24 accumulators of the 32 zmm registers

inline __m512i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

inline __mmask16 columnMask(int64_t valid) {
    return valid >= 16 ? __mmask16(0xFFFF) : valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1);
}

// One tile of kRows rows times NP panels. vpdpbusd lanes wrap modulo 2^32 (it is not the
// saturating vpdpbusds), which the offset correction relies on.
template <int NP, Operands kOps>
void tile(const int8_t* a, const int8_t* b, int64_t panelStride, int64_t kGroups, int32_t* c,
          int64_t ldc, int rowsValid, int64_t colsValid, bool loadC, const int32_t* colCorr,
          const int32_t* rowCorr) {
    static_assert(kOps != Operands::BothSigned, "vpdpbusd needs one unsigned operand");
    __mmask16 mask[NP];
    for (int p = 0; p < NP; ++p) mask[p] = columnMask(colsValid - 16 * p);

    __m512i acc[kRows][NP];
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 2
        for (int p = 0; p < NP; ++p)
            acc[r][p] = (loadC && r < rowsValid) ? _mm512_maskz_loadu_epi32(mask[p], c + r * ldc + 16 * p)
                                                 : _mm512_setzero_si512();

    for (int64_t g = 0; g < kGroups; ++g) {
        __m512i bv[NP];
#pragma GCC unroll 2
        for (int p = 0; p < NP; ++p) bv[p] = _mm512_loadu_si512(b + p * panelStride + g * 64);
        const int8_t* ag = a + g * kRows * kGroup;
#pragma GCC unroll 12
        for (int r = 0; r < kRows; ++r) {
            const __m512i x = broadcast4(ag + r * kGroup);
#pragma GCC unroll 2
            for (int p = 0; p < NP; ++p)
                acc[r][p] = kOps == Operands::AUnsigned ? _mm512_dpbusd_epi32(acc[r][p], x, bv[p])
                                                        : _mm512_dpbusd_epi32(acc[r][p], bv[p], x);
        }
    }

    if (colCorr) {
        for (int p = 0; p < NP; ++p) {
            const __m512i corr = _mm512_maskz_loadu_epi32(mask[p], colCorr + 16 * p);
            for (int r = 0; r < kRows; ++r) acc[r][p] = _mm512_sub_epi32(acc[r][p], corr);
        }
    }
    for (int r = 0; r < kRows; ++r) {
        if (r >= rowsValid) break;
        const __m512i corr = _mm512_set1_epi32(rowCorr ? rowCorr[r] : 0);
        for (int p = 0; p < NP; ++p)
            _mm512_mask_storeu_epi32(c + r * ldc + 16 * p, mask[p], _mm512_sub_epi32(acc[r][p], corr));
    }
}

template <Operands kOps>
void blockTyped(const BlockArgs& x) {
    const int64_t tiles = (x.rows + kRows - 1) / kRows;
    const int64_t panels = (x.cols + kPanelCols - 1) / kPanelCols;
    // Panel pairs outside, tiles inside: the pair's 128 bytes per group stay in L1 while the
    // tiles of A stream past.
    for (int64_t p = 0; p < panels; p += 2) {
        const int8_t* b = x.b + p * x.bPanelStride;
        const int64_t cols = x.cols - p * kPanelCols;
        const int32_t* colCorr = x.colCorr ? x.colCorr + p * kPanelCols : nullptr;
        for (int64_t t = 0; t < tiles; ++t) {
            const int rows = int(std::min<int64_t>(kRows, x.rows - t * kRows));
            const int8_t* a = x.a + t * x.aTileStride;
            int32_t* c = x.c + t * kRows * x.ldc + p * kPanelCols;
            const int32_t* rowCorr = x.rowCorr ? x.rowCorr + t * kRows : nullptr;
            if (panels - p >= 2)
                tile<2, kOps>(a, b, x.bPanelStride, x.kGroups, c, x.ldc, rows, cols, x.loadC, colCorr,
                              rowCorr);
            else
                tile<1, kOps>(a, b, x.bPanelStride, x.kGroups, c, x.ldc, rows, cols, x.loadC, colCorr,
                              rowCorr);
        }
    }
}

void block(const BlockArgs& x) {
    if (x.operands == Operands::AUnsigned)
        blockTyped<Operands::AUnsigned>(x);
    else {
        assert(x.operands == Operands::BUnsigned);
        blockTyped<Operands::BUnsigned>(x);
    }
}

} // namespace

const KernelSet& kernels_avx512vnni() {
    static const KernelSet set{kRows, true, &block};
    return set;
}

} // namespace bitbench::gemm_detail

#endif
