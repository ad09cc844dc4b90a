// AVX2 kernels of the integer engine: Philox in 8 lanes, the SSE2 byte transpose, the vectorized passes.
#include "kernels/wage_kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace bitbench::wage_kernels {

namespace {

#define BITBENCH_WAGE_LOOPS_ROWS 1
#include "kernels/wage_loops.inc"
#undef BITBENCH_WAGE_LOOPS_ROWS

// Philox4x32-10 of 8 blocks per half in the lanes of a ymm: vpmuludq gives the 64-bit products
// of the even lanes, the odd ones after a 32-bit shift; blends put hi and lo words back in place.
void philoxDraws(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws) {
    const __m256i m0 = _mm256_set1_epi32(int(0xD2511F53u)), m1 = _mm256_set1_epi32(int(0xCD9E8D57u));
    for (int half = 0; half < 2; ++half) {
        __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(int(firstBlock + 8 * half)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256i c1 = _mm256_set1_epi32(int(p.c1)), c2 = _mm256_set1_epi32(int(p.c2)), c3 = _mm256_set1_epi32(int(p.c3));
        uint32_t k0 = p.key0, k1 = p.key1;
        for (int round = 0; round < 10; ++round) {
            const __m256i e0 = _mm256_mul_epu32(c0, m0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), m0);
            const __m256i e1 = _mm256_mul_epu32(c2, m1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), m1);
            const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
            const __m256i lo0 = _mm256_blend_epi32(e0, _mm256_slli_epi64(o0, 32), 0xAA);
            const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
            const __m256i lo1 = _mm256_blend_epi32(e1, _mm256_slli_epi64(o1, 32), 0xAA);
            c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int(k0)));
            c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int(k1)));
            c1 = lo1;
            c3 = lo0;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        alignas(32) uint32_t w[4][8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(w[0]), c0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(w[1]), c1);
        _mm256_store_si256(reinterpret_cast<__m256i*>(w[2]), c2);
        _mm256_store_si256(reinterpret_cast<__m256i*>(w[3]), c3);
        for (int b = 0; b < 8; ++b)
            for (int j = 0; j < 4; ++j) draws[4 * (8 * half + b) + j] = w[j][b];
    }
}

// dst = src^T for a 16 x 16 block of bytes (SSE2): four rounds of interleaving rows i and i + 8
// (a perfect shuffle each) transpose it.
inline void transpose16(const int8_t* src, int64_t lds, int8_t* dst, int64_t ldd) {
    __m128i a[16], b[16];
    for (int i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * lds));
    for (int round = 0; round < 4; ++round) {
        for (int i = 0; i < 8; ++i) {
            b[2 * i] = _mm_unpacklo_epi8(a[i], a[i + 8]);
            b[2 * i + 1] = _mm_unpackhi_epi8(a[i], a[i + 8]);
        }
        for (int i = 0; i < 16; ++i) a[i] = b[i];
    }
    for (int i = 0; i < 16; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i * ldd), a[i]);
}

// Whole 16 x 16 blocks with transpose16; the edges byte by byte (columns past the whole blocks,
// then rows past them).
void transpose(const int8_t* src, int64_t lds, int64_t rows, int64_t cols, int8_t* dst, int64_t ldd) {
    const int64_t r16 = rows / 16 * 16, k16 = cols / 16 * 16;
    for (int64_t r = 0; r < r16; r += 16)
        for (int64_t k = 0; k < k16; k += 16) transpose16(src + r * lds + k, lds, dst + k * ldd + r, ldd);
    for (int64_t k = k16; k < cols; ++k)
        for (int64_t r = 0; r < rows; ++r) dst[k * ldd + r] = src[r * lds + k];
    for (int64_t k = 0; k < k16; ++k)
        for (int64_t r = r16; r < rows; ++r) dst[k * ldd + r] = src[r * lds + k];
}

} // namespace

const Kernels& kernels_avx2() {
    static const Kernels set = [] {
        Kernels t = kernels_reference(); // the direct conv kernels stay the reference ones
        t.isa = GemmIsa::Avx2;
        setLoops(t);
        t.philoxDraws = philoxDraws;
        t.transpose = transpose;
        return t;
    }();
    return set;
}

} // namespace bitbench::wage_kernels

#endif
