// AVX-512 VNNI tile of the int16 products (vpdpwssd, int16 x int16 pairs -> int32), own flags.
#include "kernels/gemm16_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

namespace bitbench::gemm16_detail {

namespace {

constexpr int kRows = 8; // 8 x 32 tile: 16 accumulators

inline __m512i broadcastWord(const int32_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

inline __mmask16 columnMask(int64_t valid) {
    return valid >= 16 ? __mmask16(0xFFFF) : valid <= 0 ? __mmask16(0) : __mmask16((1u << valid) - 1);
}

// GCC 12's own headers leave a dummy operand uninitialized in the sign extensions below.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Adds the 16 int32 lanes of v, sign-extended, to c[0..15] where mask is set.
inline void addWide(int64_t* c, __m512i v, __mmask16 mask) {
    const __mmask8 m0 = __mmask8(mask & 0xFF), m1 = __mmask8(mask >> 8);
    const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
    const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
    _mm512_mask_storeu_epi64(c, m0, _mm512_add_epi64(lo, _mm512_maskz_loadu_epi64(m0, c)));
    _mm512_mask_storeu_epi64(c + 8, m1, _mm512_add_epi64(hi, _mm512_maskz_loadu_epi64(m1, c + 8)));
}

// kRows rows x NP panels; kPacked: A rows are consecutive words (aRow == 1) and all kRows are
// real, so the row offsets are constants of the loop.
template <int NP, bool kPacked>
void tileT(const Tile16& t) {
    __m512i acc[kRows][NP];
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 2
        for (int v = 0; v < NP; ++v) acc[r][v] = _mm512_setzero_si512();
    int64_t rowOff[kRows];
    for (int r = 0; r < kRows; ++r) rowOff[r] = kPacked ? r : (r < t.rows ? r : 0) * t.aRow;
    const int32_t* a = t.a;
    const int32_t* b = t.b;
    for (int64_t p = 0; p < t.pairs; ++p) {
        __m512i bv[NP];
#pragma GCC unroll 2
        for (int v = 0; v < NP; ++v) bv[v] = _mm512_loadu_si512(b + v * t.bPanel);
#pragma GCC unroll 8
        for (int r = 0; r < kRows; ++r) {
            const __m512i x = broadcastWord(a + rowOff[r]);
#pragma GCC unroll 2
            for (int v = 0; v < NP; ++v) acc[r][v] = _mm512_dpwssd_epi32(acc[r][v], x, bv[v]);
        }
        a += t.aPair;
        b += t.bPair;
    }
    __mmask16 mask[NP];
    for (int v = 0; v < NP; ++v) mask[v] = columnMask(t.cols - 16 * v);
    for (int r = 0; r < kRows && r < t.rows; ++r)
        for (int v = 0; v < NP; ++v) {
            if (t.c32) _mm512_mask_storeu_epi32(t.c32 + r * t.ldc + 16 * v, mask[v], acc[r][v]);
            else addWide(t.c64 + r * t.ldc + 16 * v, acc[r][v], mask[v]);
        }
}

#pragma GCC diagnostic pop

void tile(const Tile16& t) {
    // Constant row offsets only when every row is real (an nt tile read in place with lda == 2
    // also has aRow == 1, and its rows past `rows` are past the end of A).
    const bool packed = t.aRow == 1 && t.rows == kRows;
    if (t.cols > 16) return packed ? tileT<2, true>(t) : tileT<2, false>(t);
    return packed ? tileT<1, true>(t) : tileT<1, false>(t);
}

void interleave8(const int8_t* r0, const int8_t* r1, int64_t n, int64_t padded, int32_t* out) {
    interleaveRows(r0, r1, n, padded, out);
}
void interleave16(const int16_t* r0, const int16_t* r1, int64_t n, int64_t padded, int32_t* out) {
    interleaveRows(r0, r1, n, padded, out);
}

} // namespace

const Kernel16& gemm16_kernel_avx512vnni() {
    static const Kernel16 k{kRows, 2, tile, interleave8, interleave16};
    return k;
}

} // namespace bitbench::gemm16_detail

#endif
