// AVX2 tile of the int16 products (vpmaddwd + vpaddd: int16 pairs -> int32), own flags.
#include "kernels/gemm16_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>

namespace bitbench::gemm16_detail {

namespace {

constexpr int kRows = 6; // 6 x 16 tile: 12 ymm accumulators

inline __m256i broadcastWord(const int32_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

// vpmaddwd cannot overflow here: |pair| <= 2 * 32767 * 32767 < 2^31 (no code is -32768).
template <bool kPacked>
void tileT(const Tile16& t) {
    __m256i acc[kRows][2];
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    int64_t rowOff[kRows];
    for (int r = 0; r < kRows; ++r) rowOff[r] = kPacked ? r : (r < t.rows ? r : 0) * t.aRow;
    const int32_t* a = t.a;
    const int32_t* b = t.b;
    for (int64_t p = 0; p < t.pairs; ++p) {
        const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
        const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
#pragma GCC unroll 6
        for (int r = 0; r < kRows; ++r) {
            const __m256i x = broadcastWord(a + rowOff[r]);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
        }
        a += t.aPair;
        b += t.bPair;
    }
    const int64_t cols = t.cols < 16 ? t.cols : 16;
    for (int r = 0; r < kRows && r < t.rows; ++r) {
        alignas(32) int32_t v[16];
        _mm256_store_si256(reinterpret_cast<__m256i*>(v), acc[r][0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(v + 8), acc[r][1]);
        if (t.c32) {
            int32_t* c = t.c32 + r * t.ldc;
            if (cols == 16) {
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), acc[r][0]);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), acc[r][1]);
            } else {
                for (int64_t j = 0; j < cols; ++j) c[j] = v[j];
            }
        } else {
            int64_t* c = t.c64 + r * t.ldc;
            for (int64_t j = 0; j < cols; ++j) c[j] += v[j];
        }
    }
}

// Constant row offsets only when every row of the tile is real: an nt tile read in place with
// lda == 2 also has aRow == 1, and its rows past `rows` are past the end of A.
void tile(const Tile16& t) { return t.aRow == 1 && t.rows == kRows ? tileT<true>(t) : tileT<false>(t); }

void interleave8(const int8_t* r0, const int8_t* r1, int64_t n, int64_t padded, int32_t* out) {
    interleaveRows(r0, r1, n, padded, out);
}
void interleave16(const int16_t* r0, const int16_t* r1, int64_t n, int64_t padded, int32_t* out) {
    interleaveRows(r0, r1, n, padded, out);
}

} // namespace

const Kernel16& gemm16_kernel_avx2() {
    static const Kernel16 k{kRows, 1, tile, interleave8, interleave16};
    return k;
}

} // namespace bitbench::gemm16_detail

#endif
