// AVX-512 VNNI block kernel (vpdpbusd, u8 x s8 -> s32), built with its own -mavx512* flags.
#include "kernels/gemm_impl.h"

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

template <Operands kOps>
inline __m512i dot4(__m512i acc, __m512i x, __m512i b) {
    return kOps == Operands::AUnsigned ? _mm512_dpbusd_epi32(acc, x, b) : _mm512_dpbusd_epi32(acc, b, x);
}

// Finishes one row of a tile: corrections, prior C, masked store of the valid columns.
// c0, c1: where the row's two panels go (c0 + 16 unless scattered).
template <int NP>
inline void storeRow(int32_t* c0, int32_t* c1, __m512i v0, __m512i v1, const __mmask16* mask, bool loadC,
                     __m512i rowCorr, const __m512i* colCorr) {
    v0 = _mm512_sub_epi32(_mm512_sub_epi32(v0, rowCorr), colCorr[0]);
    if (loadC) v0 = _mm512_add_epi32(v0, _mm512_maskz_loadu_epi32(mask[0], c0));
    _mm512_mask_storeu_epi32(c0, mask[0], v0);
    if constexpr (NP == 2) {
        v1 = _mm512_sub_epi32(_mm512_sub_epi32(v1, rowCorr), colCorr[1]);
        if (loadC) v1 = _mm512_add_epi32(v1, _mm512_maskz_loadu_epi32(mask[1], c1));
        _mm512_mask_storeu_epi32(c1, mask[1], v1);
    }
}

// The 12 rows of a tile, spelt out: with an array of accumulators GCC spills them to the stack
// inside the loop, with named variables they stay in registers.
#define BB_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// One tile of kRows rows times NP panels. vpdpbusd lanes wrap modulo 2^32 (it is not the
// saturating vpdpbusds), which the offset correction relies on.
// kRaw: A unpacked, row r at a + r * lda (rows past rowsValid read row 0 instead: their results
// are never stored, and the matrix may end at the last valid row); otherwise a packed tile.
template <int NP, Operands kOps, bool kRaw>
void tile(const int8_t* a, int64_t lda, const int8_t* b, int64_t panelStride, int64_t kGroups, int32_t* c,
          int64_t ldc, int rowsValid, int64_t colsValid, bool loadC, const int32_t* colCorr,
          const int32_t* rowCorr, const int64_t* rowOff, const int64_t* colOff) {
    static_assert(kOps != Operands::BothSigned, "vpdpbusd needs one unsigned operand");
#define BB_DECL(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = _mm512_setzero_si512();
    BB_ROWS(BB_DECL)
#undef BB_DECL
    const int8_t* b1p = b + (NP == 2 ? panelStride : 0);
    if constexpr (kRaw) {
        const int8_t* rp[kRows];
        for (int r = 0; r < kRows; ++r) rp[r] = a + (r < rowsValid ? r : 0) * lda;
        for (int64_t g = 0; g < kGroups; ++g) {
            const __m512i b0 = _mm512_loadu_si512(b + g * 64);
            const __m512i b1 = NP == 2 ? _mm512_loadu_si512(b1p + g * 64) : _mm512_setzero_si512();
#define BB_STEP(r)                                                                                 \
    {                                                                                              \
        const __m512i x = broadcast4(rp[r] + g * kGroup);                                          \
        c##r##0 = dot4<kOps>(c##r##0, x, b0);                                                      \
        if constexpr (NP == 2) c##r##1 = dot4<kOps>(c##r##1, x, b1);                               \
    }
            BB_ROWS(BB_STEP)
#undef BB_STEP
        }
    } else {
        for (int64_t g = 0; g < kGroups; ++g) {
            const __m512i b0 = _mm512_loadu_si512(b + g * 64);
            const __m512i b1 = NP == 2 ? _mm512_loadu_si512(b1p + g * 64) : _mm512_setzero_si512();
            const int8_t* ag = a + g * kRows * kGroup;
#define BB_STEP(r)                                                                                 \
    {                                                                                              \
        const __m512i x = broadcast4(ag + (r) * kGroup);                                           \
        c##r##0 = dot4<kOps>(c##r##0, x, b0);                                                      \
        if constexpr (NP == 2) c##r##1 = dot4<kOps>(c##r##1, x, b1);                               \
    }
            BB_ROWS(BB_STEP)
#undef BB_STEP
        }
    }

    __mmask16 mask[2];
    __m512i cc[2];
    for (int p = 0; p < 2; ++p) {
        mask[p] = p < NP ? columnMask(colsValid - 16 * p) : __mmask16(0);
        cc[p] = colCorr ? _mm512_maskz_loadu_epi32(mask[p], colCorr + 16 * p) : _mm512_setzero_si512();
    }
#define BB_STORE(r)                                                                                \
    if ((r) < rowsValid) {                                                                         \
        int32_t* p0 = rowOff ? c + rowOff[r] + colOff[0] : c + (r) * ldc;                          \
        int32_t* p1 = rowOff ? (NP == 2 ? c + rowOff[r] + colOff[16] : p0) : p0 + 16;              \
        storeRow<NP>(p0, p1, c##r##0, c##r##1, mask, loadC, _mm512_set1_epi32(rowCorr ? rowCorr[r] : 0), cc); \
    }
    BB_ROWS(BB_STORE)
#undef BB_STORE
}
#undef BB_ROWS

template <Operands kOps, bool kRaw>
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
            // Scattered: c stays the base and the offsets move instead.
            int32_t* c = x.rowOff ? x.c : x.c + t * kRows * x.ldc + p * kPanelCols;
            const int64_t* rowOff = x.rowOff ? x.rowOff + t * kRows : nullptr;
            const int64_t* colOff = x.rowOff ? x.colOff + p * kPanelCols : nullptr;
            const int32_t* rowCorr = x.rowCorr ? x.rowCorr + t * kRows : nullptr;
            if (panels - p >= 2)
                tile<2, kOps, kRaw>(a, x.lda, b, x.bPanelStride, x.kGroups, c, x.ldc, rows, cols, x.loadC,
                                    colCorr, rowCorr, rowOff, colOff);
            else
                tile<1, kOps, kRaw>(a, x.lda, b, x.bPanelStride, x.kGroups, c, x.ldc, rows, cols, x.loadC,
                                    colCorr, rowCorr, rowOff, colOff);
        }
    }
}

void block(const BlockArgs& x) {
    if (x.lda > 0) {
        assert(x.operands == Operands::AUnsigned);
        blockTyped<Operands::AUnsigned, true>(x);
    } else if (x.operands == Operands::AUnsigned)
        blockTyped<Operands::AUnsigned, false>(x);
    else {
        assert(x.operands == Operands::BUnsigned);
        blockTyped<Operands::BUnsigned, false>(x);
    }
}

} // namespace

const KernelSet& kernels_avx512vnni() {
    static const KernelSet set{kRows, true, &block, true, true};
    return set;
}

} // namespace bitbench::gemm_detail

#endif
