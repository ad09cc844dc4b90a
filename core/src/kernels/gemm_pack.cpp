// Packing of int8 GEMM operands into the tile and panel layouts of gemm_impl.h, and scratch buffers.
#include "kernels/gemm_impl.h"

#include <algorithm>
#include <array>
#include <cassert>

#if defined(__x86_64__)
#include <emmintrin.h> // SSE2 is part of x86-64 itself, so this needs no run-time check
#endif

namespace bitbench::gemm_detail {

namespace {

#if defined(__x86_64__)
inline __m128i load16(const int8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store16(int8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }
#endif

// Copies up to n (< 16) bytes into a zeroed 16-byte block, so edges take the vector path too.
inline void copyEdge(const int8_t* src, int64_t n, int8_t* out16) {
    std::memset(out16, 0, 16);
    if (n > 0) std::memcpy(out16, src, size_t(std::min<int64_t>(n, 16)));
}

} // namespace

void pack_tiles_rows(const int8_t* src, int64_t ld, int64_t rows, int64_t k, int mr, bool shift,
                     int8_t* dst) {
    assert(mr % 4 == 0);
    const int64_t groups = groups_of(k);
    const int64_t tiles = (rows + mr - 1) / mr;
    const int64_t tileBytes = groups * mr * kGroup;
    const uint8_t flip = shift ? 0x80 : 0x00;
    for (int64_t t = 0; t < tiles; ++t) {
        int8_t* tile = dst + t * tileBytes;
        for (int q = 0; q < mr; q += 4) {
            const int64_t r0 = t * mr + q;
            const int64_t validRows = std::clamp<int64_t>(rows - r0, 0, 4);
            int64_t g = 0;
#if defined(__x86_64__)
            // 4 rows x 16 bytes (4 groups) at a time: a 4 x 4 transpose of 32-bit groups. Past
            // K the loaded bytes are masked to zero; a load may pass the row's end as long as it
            // stays inside the matrix (the next row's bytes are masked away).
            const int64_t limit = (rows - 1) * ld + k; // bytes of the matrix from src
            if (validRows == 4) {
                const __m128i x80 = _mm_set1_epi8(char(flip));
                const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                for (; g < groups && (r0 + 3) * ld + g * kGroup + 16 <= limit; g += 4) {
                    const int8_t* s = src + r0 * ld + g * kGroup;
                    const __m128i keep = _mm_cmplt_epi8(iota, _mm_set1_epi8(char(std::min<int64_t>(k - g * kGroup, 16))));
                    const __m128i x0 = _mm_xor_si128(_mm_and_si128(load16(s), keep), x80);
                    const __m128i x1 = _mm_xor_si128(_mm_and_si128(load16(s + ld), keep), x80);
                    const __m128i x2 = _mm_xor_si128(_mm_and_si128(load16(s + 2 * ld), keep), x80);
                    const __m128i x3 = _mm_xor_si128(_mm_and_si128(load16(s + 3 * ld), keep), x80);
                    const __m128i t0 = _mm_unpacklo_epi32(x0, x1);
                    const __m128i t1 = _mm_unpacklo_epi32(x2, x3);
                    const __m128i t2 = _mm_unpackhi_epi32(x0, x1);
                    const __m128i t3 = _mm_unpackhi_epi32(x2, x3);
                    int8_t* d = tile + g * mr * kGroup + q * kGroup;
                    // Groups past the last one are not stored: the next tile starts there.
                    const int64_t n = std::min<int64_t>(groups - g, 4);
                    store16(d, _mm_unpacklo_epi64(t0, t1));
                    if (n > 1) store16(d + mr * kGroup, _mm_unpackhi_epi64(t0, t1));
                    if (n > 2) store16(d + 2 * mr * kGroup, _mm_unpacklo_epi64(t2, t3));
                    if (n > 3) store16(d + 3 * mr * kGroup, _mm_unpackhi_epi64(t2, t3));
                }
            }
#endif
            // Edges: the last groups (K not a multiple of 16) and rows past the end, zero-padded
            // before the shift; a shifted pad byte meets a zero pad byte of the other operand.
            for (; g < groups; ++g) {
                int8_t* d = tile + g * mr * kGroup + q * kGroup;
                for (int r = 0; r < 4; ++r)
                    for (int b = 0; b < kGroup; ++b) {
                        const int64_t kk = g * kGroup + b;
                        const int8_t v = (r < validRows && kk < k) ? src[(r0 + r) * ld + kk] : 0;
                        d[r * kGroup + b] = int8_t(uint8_t(v) ^ flip);
                    }
            }
        }
    }
}

void pack_cols(const int8_t* src, int64_t ld, int64_t width, int64_t r, int block, bool shift,
               int8_t* dst, int64_t blockStride) {
    assert(block % 4 == 0 && block <= 16);
    const int64_t groups = groups_of(r);
    const int64_t blocks = (width + block - 1) / block;
    const uint8_t flip = shift ? 0x80 : 0x00;
    alignas(16) int8_t edge[4][16];
    for (int64_t bi = 0; bi < blocks; ++bi) {
        const int64_t c0 = bi * block;
        const int64_t validCols = std::min<int64_t>(width - c0, block);
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t r0 = g * kGroup;
            const int64_t validRows = std::min<int64_t>(r - r0, 4);
            const int8_t* rowPtr[4];
            // Full 16-byte loads whenever they stay inside the matrix, even past this row's
            // width: the extra bytes land in padding columns, whose results are never stored.
            const bool direct = validRows == 4 && (r0 + 3) * ld + c0 + 16 <= (r - 1) * ld + width;
            for (int i = 0; i < 4; ++i) {
                if (direct) {
                    rowPtr[i] = src + (r0 + i) * ld + c0;
                } else {
                    copyEdge(i < validRows ? src + (r0 + i) * ld + c0 : nullptr,
                             i < validRows ? validCols : 0, edge[i]);
                    rowPtr[i] = edge[i];
                }
            }
            int8_t* d = dst + bi * blockStride + g * block * kGroup;
#if defined(__x86_64__)
            const __m128i x80 = _mm_set1_epi8(char(flip));
            const __m128i x0 = _mm_xor_si128(load16(rowPtr[0]), x80);
            const __m128i x1 = _mm_xor_si128(load16(rowPtr[1]), x80);
            const __m128i x2 = _mm_xor_si128(load16(rowPtr[2]), x80);
            const __m128i x3 = _mm_xor_si128(load16(rowPtr[3]), x80);
            const __m128i lo01 = _mm_unpacklo_epi8(x0, x1), hi01 = _mm_unpackhi_epi8(x0, x1);
            const __m128i lo23 = _mm_unpacklo_epi8(x2, x3), hi23 = _mm_unpackhi_epi8(x2, x3);
            const __m128i out[4] = {_mm_unpacklo_epi16(lo01, lo23), _mm_unpackhi_epi16(lo01, lo23),
                                    _mm_unpacklo_epi16(hi01, hi23), _mm_unpackhi_epi16(hi01, hi23)};
            for (int o = 0; o < block / 4; ++o) store16(d + 16 * o, out[o]);
#else
            for (int c = 0; c < block; ++c)
                for (int i = 0; i < 4; ++i) d[c * kGroup + i] = int8_t(uint8_t(rowPtr[i][c]) ^ flip);
#endif
        }
    }
}

// Sums wrap modulo 2^32 on purpose: 128 * K * 127 can pass 2^31 for the largest K, and the
// kernels' int32 lanes wrap the same way, so the corrected result is exact modulo 2^32, hence
// exact, since the true result fits in int32.
void sums_rows(const int8_t* src, int64_t ld, int64_t rows, int64_t k, int32_t* out) {
    for (int64_t i = 0; i < rows; ++i) {
        const int8_t* s = src + i * ld;
        int32_t acc = 0;
        for (int64_t kk = 0; kk < k; ++kk) acc += s[kk];
        out[i] = int32_t(uint32_t(acc) * 128u);
    }
}

void sums_cols(const int8_t* src, int64_t ld, int64_t width, int64_t r, int32_t* out) {
    std::fill(out, out + width, 0);
    for (int64_t rr = 0; rr < r; ++rr) {
        const int8_t* s = src + rr * ld;
        for (int64_t j = 0; j < width; ++j) out[j] += s[j];
    }
    for (int64_t j = 0; j < width; ++j) out[j] = int32_t(uint32_t(out[j]) * 128u);
}

// --- scratch ----------------------------------------------------------------------------------

struct ScratchSlot {
    std::vector<unsigned char> bytes;
    bool busy = false;
};

namespace {
// A handful of buffers per thread, living as long as the thread.
thread_local std::array<ScratchSlot, kSlotCount> t_slots;

void* alignedIn(std::vector<unsigned char>& v, size_t bytes) {
    if (v.size() < bytes + 64) v.resize(bytes + 64);
    const auto p = reinterpret_cast<uintptr_t>(v.data());
    return reinterpret_cast<void*>((p + 63) & ~uintptr_t(63));
}
} // namespace

Scratch::Scratch(int slot) {
    ScratchSlot& s = t_slots[size_t(slot)];
    if (s.busy) {
        m_owned = true;
    } else {
        s.busy = true;
        m_slot = &s;
    }
}

Scratch::~Scratch() {
    if (m_slot) m_slot->busy = false;
}

void* Scratch::get(size_t bytes) { return alignedIn(m_owned ? m_own : m_slot->bytes, bytes); }

} // namespace bitbench::gemm_detail
