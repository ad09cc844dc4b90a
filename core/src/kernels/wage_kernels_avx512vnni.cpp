// AVX-512 VNNI kernels of the integer engine: direct conv rows and gradient, Philox in 16 lanes, the passes.
#include "kernels/wage_kernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace bitbench::wage_kernels {

namespace {

// The per-row passes come from the AVX2 table (see wage_kernels.h).
#define BITBENCH_WAGE_LOOPS_ROWS 0
#include "kernels/wage_loops.inc"
#undef BITBENCH_WAGE_LOOPS_ROWS

inline __m512i broadcastTaps(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

// One conv product row of a one-channel input with a 5 x 5 kernel, straight from the input codes
// (no im2col, no packing). vpdpbusd sums 4 taps per lane, which must be 4 consecutive bytes:
// groups 0-4 are kernel row ky's taps kx 0-3 (4 consecutive input bytes), group 5 is column 4 of
// rows 0-3, taken from quad (each input byte with the 3 below it, [y][x][4]), group 6 is the last
// tap alone (zero weights for its other 3 bytes). 7 groups for 25 taps instead of 10. Input codes
// are non-negative, the unsigned side. wp: per group, per 16 output channels, [channel][4].
// Reads up to 3 bytes past the row's last tap (times zero weights): the caller keeps them inside
// its buffer.
template <int NV>
void convRowTyped(const int8_t* in, const int8_t* quad, int64_t inW, int64_t convW, const int8_t* wp,
                  int32_t* out) {
    constexpr int64_t N = 16 * NV;
    auto taps = [&](int g, int64_t x) {
        return g < 5 ? in + g * inW + x : g == 5 ? quad + (x + 4) * 4 : in + 4 * inW + x + 4;
    };
    int64_t ox = 0;
    for (; ox + 4 <= convW; ox += 4) {
        __m512i acc[4][NV];
        for (int p = 0; p < 4; ++p)
            for (int v = 0; v < NV; ++v) acc[p][v] = _mm512_setzero_si512();
        for (int g = 0; g < kDirectGroups; ++g) {
            const int8_t* w = wp + g * NV * 64;
            __m512i wv[NV];
            for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_si512(w + 64 * v);
            for (int p = 0; p < 4; ++p) {
                const __m512i xb = broadcastTaps(taps(g, ox + p));
                for (int v = 0; v < NV; ++v) acc[p][v] = _mm512_dpbusd_epi32(acc[p][v], xb, wv[v]);
            }
        }
        for (int p = 0; p < 4; ++p)
            for (int v = 0; v < NV; ++v) _mm512_storeu_si512(out + (ox + p) * N + 16 * v, acc[p][v]);
    }
    for (; ox < convW; ++ox) {
        __m512i acc[NV];
        for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_si512();
        for (int g = 0; g < kDirectGroups; ++g) {
            const __m512i xb = broadcastTaps(taps(g, ox));
            for (int v = 0; v < NV; ++v)
                acc[v] = _mm512_dpbusd_epi32(acc[v], xb, _mm512_loadu_si512(wp + g * NV * 64 + 64 * v));
        }
        for (int v = 0; v < NV; ++v) _mm512_storeu_si512(out + ox * N + 16 * v, acc[v]);
    }
}

// quad[y][x][j] = in[y + j][x] for rows y < rows (each input byte with the 3 below it): the 4 taps
// of a kernel column as one vpdpbusd lane. SSE2 byte and word interleaves of 4 rows.
void buildQuad(const int8_t* in, int64_t inW, int64_t rows, int8_t* quad) {
    for (int64_t y = 0; y < rows; ++y) {
        const int8_t* r = in + y * inW;
        int8_t* q = quad + y * inW * 4;
        int64_t x = 0;
        for (; x + 16 <= inW; x += 16) {
            const __m128i a0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + x));
            const __m128i a1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + inW + x));
            const __m128i a2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 2 * inW + x));
            const __m128i a3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 3 * inW + x));
            const __m128i t0 = _mm_unpacklo_epi8(a0, a1), t1 = _mm_unpackhi_epi8(a0, a1);
            const __m128i t2 = _mm_unpacklo_epi8(a2, a3), t3 = _mm_unpackhi_epi8(a2, a3);
            auto* d = reinterpret_cast<__m128i*>(q + x * 4);
            _mm_storeu_si128(d, _mm_unpacklo_epi16(t0, t2));
            _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(t0, t2));
            _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(t1, t3));
            _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(t1, t3));
        }
        for (; x < inW; ++x)
            for (int j = 0; j < 4; ++j) q[x * 4 + j] = r[j * inW + x];
    }
}
// Weight gradient of a direct layer (kernel KS x KS), channels 16v..16v+15, images [b0, b1),
// added to out ([tap][16 channels]): g[c][ky*KS+kx] = sum eq[oy][ox][c] * in[oy+ky][ox+kx], where eq
// is the pooled error codes routed through the argmax (both [pooled row][channel]). A lane's
// 4 bytes are 4 consecutive ox: the input taps are then 4 consecutive bytes again (unsigned side)
// and eq's 4 rows x 16 channels are interleaved once per group for all KS*KS taps.
template <int KS>
void gradTyped(const int8_t* in, int64_t inH, int64_t inW, const int8_t* eq, const uint8_t* argmax, int64_t convH,
               int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int32_t* out) {
    __m512i acc[KS * KS];
    for (int t = 0; t < KS * KS; ++t) acc[t] = _mm512_loadu_si512(out + 16 * t);
    for (int64_t b = b0; b < b1; ++b)
        for (int64_t oy = 0; oy < convH; ++oy)
            for (int64_t ox = 0; ox < convW; ox += 4) {
                // The pooled codes routed to their window positions here: 4 product columns are
                // 2 pooled ones, and a column keeps the code where the argmax is its position.
                const int64_t o = ((b * (convH / 2) + oy / 2) * (convW / 2) + ox / 2) * N + 16 * v;
                const __m128i c0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(eq + o));
                const __m128i c1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(eq + o + N));
                const __m128i g0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(argmax + o));
                const __m128i g1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(argmax + o + N));
                const __m128i left = _mm_set1_epi8(char(2 * (oy & 1))), right = _mm_set1_epi8(char(2 * (oy & 1) + 1));
                __m128i a[4];
                a[0] = _mm_and_si128(_mm_cmpeq_epi8(g0, left), c0);
                a[1] = _mm_and_si128(_mm_cmpeq_epi8(g0, right), c0);
                a[2] = _mm_and_si128(_mm_cmpeq_epi8(g1, left), c1);
                a[3] = _mm_and_si128(_mm_cmpeq_epi8(g1, right), c1);
                const __m128i t0 = _mm_unpacklo_epi8(a[0], a[1]), t1 = _mm_unpackhi_epi8(a[0], a[1]);
                const __m128i t2 = _mm_unpacklo_epi8(a[2], a[3]), t3 = _mm_unpackhi_epi8(a[2], a[3]);
                __m512i ev = _mm512_castsi128_si512(_mm_unpacklo_epi16(t0, t2));
                ev = _mm512_inserti32x4(ev, _mm_unpackhi_epi16(t0, t2), 1);
                ev = _mm512_inserti32x4(ev, _mm_unpacklo_epi16(t1, t3), 2);
                ev = _mm512_inserti32x4(ev, _mm_unpackhi_epi16(t1, t3), 3);
                const int8_t* x = in + (b * inH + oy) * inW + ox;
                for (int ky = 0; ky < KS; ++ky)
                    for (int kx = 0; kx < KS; ++kx)
                        acc[ky * KS + kx] = _mm512_dpbusd_epi32(acc[ky * KS + kx], broadcastTaps(x + ky * inW + kx), ev);
            }
    for (int t = 0; t < KS * KS; ++t) _mm512_storeu_si512(out + 16 * t, acc[t]);
}

// gradTyped with int16 error codes (vpdpwssd): a lane's two int16 are 2 consecutive ox (one
// pooled column: the code where the argmax is left, the code where it is right), times the
// input pair (in[ox+kx], in[ox+kx+1]) from a widened copy of the image. One image's sums stay
// int32 (the caller's bound), then go to the int64 out.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <int KS>
void grad16Typed(const int8_t* in, int64_t inH, int64_t inW, const int16_t* eq, const uint8_t* argmax, int64_t convH,
                 int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int64_t* out) {
    std::vector<int16_t> img(size_t(inH * inW + 2), 0);
    for (int64_t b = b0; b < b1; ++b) {
        for (int64_t i = 0; i < inH * inW; ++i) img[size_t(i)] = in[b * inH * inW + i];
        __m512i acc[KS * KS];
        for (int t = 0; t < KS * KS; ++t) acc[t] = _mm512_setzero_si512();
        for (int64_t oy = 0; oy < convH; ++oy) {
            const __m128i left = _mm_set1_epi8(char(2 * (oy & 1))), right = _mm_set1_epi8(char(2 * (oy & 1) + 1));
            for (int64_t ox = 0; ox < convW; ox += 2) {
                const int64_t o = ((b * (convH / 2) + oy / 2) * (convW / 2) + ox / 2) * N + 16 * v;
                const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(eq + o));
                const __m128i g = _mm_loadu_si128(reinterpret_cast<const __m128i*>(argmax + o));
                const __m256i cl = _mm256_maskz_mov_epi16(_mm_cmpeq_epi8_mask(g, left), c);
                const __m256i cr = _mm256_maskz_mov_epi16(_mm_cmpeq_epi8_mask(g, right), c);
                // Words (cl, cr) per channel: the unpacks give 128-bit lanes of channels 0-3, 8-11
                // (lo) and 4-7, 12-15 (hi); the shuffle puts them in order.
                const __m512i mixed = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_unpacklo_epi16(cl, cr)),
                                                         _mm256_unpackhi_epi16(cl, cr), 1);
                const __m512i ev = _mm512_shuffle_i32x4(mixed, mixed, _MM_SHUFFLE(3, 1, 2, 0));
                const int16_t* x = img.data() + oy * inW + ox;
                for (int ky = 0; ky < KS; ++ky)
                    for (int kx = 0; kx < KS; ++kx) {
                        int32_t w;
                        std::memcpy(&w, x + ky * inW + kx, sizeof w);
                        acc[ky * KS + kx] = _mm512_dpwssd_epi32(acc[ky * KS + kx], _mm512_set1_epi32(w), ev);
                    }
            }
        }
        for (int t = 0; t < KS * KS; ++t) {
            int64_t* o = out + 16 * t;
            const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc[t]));
            const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc[t], 1));
            _mm512_storeu_si512(o, _mm512_add_epi64(lo, _mm512_loadu_si512(o)));
            _mm512_storeu_si512(o + 8, _mm512_add_epi64(hi, _mm512_loadu_si512(o + 8)));
        }
    }
}
#pragma GCC diagnostic pop

void gradOneChannel16(const int8_t* in, int64_t inH, int64_t inW, const int16_t* eq, const uint8_t* argmax,
                      int64_t convH, int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int64_t* out) {
    grad16Typed<5>(in, inH, inW, eq, argmax, convH, convW, N, v, b0, b1, out);
}

void convRowOneChannel(const int8_t* in, const int8_t* quad, int64_t inW, int64_t convW, int64_t N, const int8_t* wp,
                       int32_t* out) {
    if (N == 16) convRowTyped<1>(in, quad, inW, convW, wp, out);
    else if (N == 32) convRowTyped<2>(in, quad, inW, convW, wp, out);
    else convRowTyped<4>(in, quad, inW, convW, wp, out);
}

void gradOneChannel(const int8_t* in, int64_t inH, int64_t inW, const int8_t* eq, const uint8_t* argmax,
                    int64_t convH, int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int32_t* out) {
    gradTyped<5>(in, inH, inW, eq, argmax, convH, convW, N, v, b0, b1, out);
}

// Philox4x32-10 of 16 blocks in the lanes of a zmm (vpmuludq: 64-bit products of the even
// lanes, the odd ones after a 32-bit shift; masked blends put hi and lo words back in place).
// GCC 12 reports its own _mm512_undefined_epi32() (used by the shift intrinsics) as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void philoxDraws(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws) {
    const __m512i m0 = _mm512_set1_epi32(int(0xD2511F53u)), m1 = _mm512_set1_epi32(int(0xCD9E8D57u));
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(int(firstBlock)),
                                  _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    __m512i c1 = _mm512_set1_epi32(int(p.c1)), c2 = _mm512_set1_epi32(int(p.c2)), c3 = _mm512_set1_epi32(int(p.c3));
    uint32_t k0 = p.key0, k1 = p.key1;
    const __mmask16 odd = 0xAAAA;
    for (int round = 0; round < 10; ++round) {
        const __m512i e0 = _mm512_mul_epu32(c0, m0), o0 = _mm512_mul_epu32(_mm512_srli_epi64(c0, 32), m0);
        const __m512i e1 = _mm512_mul_epu32(c2, m1), o1 = _mm512_mul_epu32(_mm512_srli_epi64(c2, 32), m1);
        const __m512i hi0 = _mm512_mask_blend_epi32(odd, _mm512_srli_epi64(e0, 32), o0);
        const __m512i lo0 = _mm512_mask_blend_epi32(odd, e0, _mm512_slli_epi64(o0, 32));
        const __m512i hi1 = _mm512_mask_blend_epi32(odd, _mm512_srli_epi64(e1, 32), o1);
        const __m512i lo1 = _mm512_mask_blend_epi32(odd, e1, _mm512_slli_epi64(o1, 32));
        c0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int(k0)));
        c2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int(k1)));
        c1 = lo1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    // [word][block] -> [block][word]: 32-bit interleaves give each 128-bit lane L of uj block
    // 4L + j, then a 4 x 4 transpose of 128-bit lanes puts the blocks in order.
    const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
    const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    const __m512i lo01 = _mm512_shuffle_i32x4(u0, u1, 0x44), lo23 = _mm512_shuffle_i32x4(u2, u3, 0x44);
    const __m512i hi01 = _mm512_shuffle_i32x4(u0, u1, 0xEE), hi23 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
    _mm512_storeu_si512(draws, _mm512_shuffle_i32x4(lo01, lo23, 0x88));
    _mm512_storeu_si512(draws + 16, _mm512_shuffle_i32x4(lo01, lo23, 0xDD));
    _mm512_storeu_si512(draws + 32, _mm512_shuffle_i32x4(hi01, hi23, 0x88));
    _mm512_storeu_si512(draws + 48, _mm512_shuffle_i32x4(hi01, hi23, 0xDD));
}
#pragma GCC diagnostic pop

} // namespace

const Kernels& kernels_avx512vnni() {
    static const Kernels set = [] {
        const Kernels& avx2 = kernels_avx2();
        Kernels t = avx2; // the per-row passes and the SSE2 transpose
        t.isa = GemmIsa::Avx512Vnni;
        setLoops(t);
        t.philoxDraws = philoxDraws;
        t.directConv = true;
        t.buildQuad = buildQuad;
        t.convRowOneChannel = convRowOneChannel;
        t.gradOneChannel = gradOneChannel;
        t.gradOneChannel16 = gradOneChannel16;
        return t;
    }();
    return set;
}

} // namespace bitbench::wage_kernels

#endif
