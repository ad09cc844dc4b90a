// Private pieces of the int16 products: the pair layout, the tile kernel interface, the interleaves.
#pragma once

#include <cstdint>
#include <cstring>

namespace bitbench::gemm16_detail {

// Both forms are one product over "words", each holding two int16 of the reduction (low half
// first): C[i][j] = sum_p dot(Aw(i, p), Bw(j, p)), dot(x, y) = lo(x) lo(y) + hi(x) hi(y), the
// sum of one 32-bit lane of vpdpwssd or vpmaddwd. An odd reduction is padded with a zero.
//   A word (row i, pair p) at a + i * aRow + p * aPair (in words; read with memcpy, so A may
//     be an int16 matrix read in place: nt with an even lda).
//   B: panels of 16 columns; word (column 16q + t, pair p) at b + q * bPanel + p * bPair + t.
// A tile is mr rows x np panels; rows at or past `rows` are read as row 0 and never stored.
struct Tile16 {
    const int32_t* a = nullptr;
    int64_t aRow = 0, aPair = 0;
    int rows = 0;
    const int32_t* b = nullptr;
    int64_t bPanel = 0, bPair = 0;
    int64_t cols = 0; // valid columns, 1 .. 16 * np
    int64_t pairs = 0;
    // Exactly one of: c32, overwritten with the int32 sums; c64, to which the sums are added
    // (sign-extended: each call's sums must fit int32).
    int32_t* c32 = nullptr;
    int64_t* c64 = nullptr;
    int64_t ldc = 0;
};

struct Kernel16 {
    int mr, np;
    void (*tile)(const Tile16& t);
    // out[j] = word(r0[j], r1[j]) for j < n (r1 null: zeros), then zeros up to `padded`.
    void (*interleave8)(const int8_t* r0, const int8_t* r1, int64_t n, int64_t padded, int32_t* out);
    void (*interleave16)(const int16_t* r0, const int16_t* r1, int64_t n, int64_t padded, int32_t* out);
};

inline int32_t word16(int32_t lo, int32_t hi) { return int32_t(uint32_t(uint16_t(lo)) | (uint32_t(uint16_t(hi)) << 16)); }

// The interleaves as plain loops, compiled in each ISA file (the compiler vectorizes them).
template <typename T>
inline void interleaveRows(const T* __restrict r0, const T* __restrict r1, int64_t n, int64_t padded,
                           int32_t* __restrict out) {
    if (r1)
        for (int64_t j = 0; j < n; ++j) out[j] = word16(r0[j], r1[j]);
    else
        for (int64_t j = 0; j < n; ++j) out[j] = word16(r0[j], 0);
    for (int64_t j = n; j < padded; ++j) out[j] = 0;
}

#if defined(__x86_64__)
const Kernel16& gemm16_kernel_avx2();
const Kernel16& gemm16_kernel_avx512vnni();
#endif

} // namespace bitbench::gemm16_detail
