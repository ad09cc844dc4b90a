// The integer WAGE engine: int8 codes, int32 sums, shifts with round-half-even, no floats.
#include "bitbench/engine.h"

#include "bitbench/error.h"
#include "bitbench/fixed_point.h"
#include "bitbench/gemm.h"
#include "engine/wage_common.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/task_arena.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>

namespace bitbench {

namespace {

#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline __m512i broadcastTaps(const int8_t* p) {
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
constexpr int kDirectGroups = 7;

template <int NV>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void convRowOneChannel(const int8_t* in, const int8_t* quad,
                                                                             int64_t inW, int64_t convW,
                                                                             const int8_t* wp, int32_t* out) {
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
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void gradOneChannel(const int8_t* in, int64_t inH, int64_t inW,
                                                                          const int8_t* eq, const uint8_t* argmax,
                                                                          int64_t convH, int64_t convW,
                                                                          int64_t N, int64_t v, int64_t b0, int64_t b1,
                                                                          int32_t* out) {
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
#endif

// Stochastic rounding needs one Philox block per 4 weights: 145 k blocks a LeNet-5 step, too many
// for scalar code. These fill the draws of kDrawBlocks consecutive blocks at once, in element
// order (element j takes word j % 4 of block j / 4, as Random::word), equal to Random::block bit
// for bit (the vector versions compute the same rounds
// in lanes: vpmuludq gives the 64-bit products of even and odd lanes).
constexpr int64_t kDrawBlocks = 16;

struct PhiloxLanes {
    uint32_t key0, key1, c1, c2, c3; // the counter words shared by all blocks of one tensor and step
};

void philoxDrawsScalar(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws) {
    for (uint32_t b = 0; b < kDrawBlocks; ++b) {
        const PhiloxBlock r = philox4x32_10({firstBlock + b, p.c1, p.c2, p.c3}, {p.key0, p.key1});
        for (int w = 0; w < 4; ++w) draws[4 * b + w] = r[size_t(w)];
    }
}

#if defined(__x86_64__)
// GCC 12 reports its own _mm512_undefined_epi32() (used by the shift intrinsics) as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f"))) void philoxDrawsAvx512(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws) {
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

__attribute__((target("avx2"))) void philoxDrawsAvx2(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws) {
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
#endif

using PhiloxDrawsFn = void (*)(const PhiloxLanes&, uint32_t, uint32_t*);

// The widest version the CPU runs (the GEMM's detection also checks the OS saves the registers),
// capped like the GEMM (BITBENCH_ISA), so every version can be checked on one machine.
PhiloxDrawsFn philoxDraws() {
#if defined(__x86_64__)
    const GemmIsa isa = gemm_isa_active();
    if (isa == GemmIsa::Avx512Vnni) return philoxDrawsAvx512;
    if (isa == GemmIsa::Avx2) return philoxDrawsAvx2;
#endif
    return philoxDrawsScalar;
}

// Seconds since construction or the last lap; for the per-layer time split.
class Stopwatch {
public:
    double lap() {
        const auto now = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(now - m_t0).count();
        m_t0 = now;
        return s;
    }

private:
    std::chrono::steady_clock::time_point m_t0 = std::chrono::steady_clock::now();
};

// clip(round_half_even(x / 2^s), bound), in int32 and without branches, so loops over it
// vectorize. Right shifts: (q, r) = (x >> s, x mod 2^s), +1 when r passes half or equals half with q
// odd. Left shifts (s < 0): x is first clipped to just past bound >> -s, so the shift cannot
// overflow and the final clip still sees a value beyond the bound.
struct Requant {
    int32_t right = 0, left = 0, mask = 0, half = 1, pre = INT32_MAX, bound = 0;
    Requant(int32_t shift, int64_t clipBound) : bound(int32_t(clipBound)) {
        if (shift > 0) {
            right = shift;
            mask = int32_t((int64_t(1) << shift) - 1);
            half = int32_t(int64_t(1) << (shift - 1));
        } else if (shift < 0) {
            left = -shift;
            pre = int32_t((clipBound >> left) + 1);
        }
    }
    int32_t operator()(int32_t x) const {
        const int32_t xc = x > pre ? pre : (x < -pre ? -pre : x);
        const int32_t q = xc >> right, r = xc & mask;
        const int32_t up = ((r > half) | ((r == half) & q)) & 1;
        const int32_t y = int32_t(uint32_t(q + up) << left);
        return y > bound ? bound : (y < -bound ? -bound : y);
    }
};

#if defined(__x86_64__)
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
#endif

template <typename F> void parallelRange(int64_t n, int64_t grain, F&& f) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

// The element-wise passes below are memory-bound loops that vectorize well; the build targets
// plain x86-64, so each is compiled also for AVX2 and AVX-512 and picked at load time (ifunc).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BITBENCH_SIMD_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
// Loops over one pooled row's channels (32 or 64 in LeNet-5) with byte outputs: AVX-512 would
// need 64 bytes per iteration and leave them to the scalar remainder, so these stop at AVX2.
#define BITBENCH_SIMD_CLONES_ROW __attribute__((target_clones("default", "avx2")))
#else
#define BITBENCH_SIMD_CLONES
#define BITBENCH_SIMD_CLONES_ROW
#endif

// One pooled row: max-pool 2x2/2 keeping the first index of the maximum (numpy's argmax), then
// relu and Q_A. r0, r1: the two product rows under it; out, argmax, codes: outW * N each.
BITBENCH_SIMD_CLONES_ROW
void poolRow(const int32_t* __restrict r0, const int32_t* __restrict r1, int64_t outW, int64_t N,
             int32_t* __restrict pooled, uint8_t* __restrict argmax, int8_t* __restrict codes, Requant qa, bool relu) {
    const int32_t floor = relu ? 0 : INT32_MIN;
    for (int64_t px = 0; px < outW; ++px) {
        const int32_t* a = r0 + 2 * px * N;
        const int32_t* b = r1 + 2 * px * N;
        for (int64_t c = 0; c < N; ++c) {
            const int32_t a0 = a[c], a1 = a[N + c], a2 = b[c], a3 = b[N + c];
            const int32_t m01 = a1 > a0 ? a1 : a0, m23 = a3 > a2 ? a3 : a2;
            const uint8_t g01 = a1 > a0 ? 1 : 0, g23 = a3 > a2 ? 3 : 2;
            const bool right = m23 > m01; // ties keep the lower index
            const int32_t best = right ? m23 : m01;
            pooled[px * N + c] = best;
            argmax[px * N + c] = right ? g23 : g01;
            codes[px * N + c] = int8_t(qa(best < floor ? floor : best));
        }
    }
}

// poolRow for evaluation: only the codes, nothing for a backward pass.
BITBENCH_SIMD_CLONES_ROW
void poolRowCodes(const int32_t* __restrict r0, const int32_t* __restrict r1, int64_t outW, int64_t N,
                  int8_t* __restrict codes, Requant qa, bool relu) {
    const int32_t floor = relu ? 0 : INT32_MIN;
    for (int64_t px = 0; px < outW; ++px) {
        const int32_t* a = r0 + 2 * px * N;
        const int32_t* b = r1 + 2 * px * N;
        for (int64_t c = 0; c < N; ++c) {
            const int32_t m01 = a[N + c] > a[c] ? a[N + c] : a[c], m23 = b[N + c] > b[c] ? b[N + c] : b[c];
            const int32_t best = m23 > m01 ? m23 : m01;
            codes[px * N + c] = int8_t(qa(best < floor ? floor : best));
        }
    }
}

BITBENCH_SIMD_CLONES
void reluQuantize(const int32_t* __restrict v, int8_t* __restrict codes, int64_t n, Requant qa, bool relu) {
    const int32_t floor = relu ? 0 : INT32_MIN;
    for (int64_t i = 0; i < n; ++i) codes[i] = int8_t(qa(v[i] < floor ? floor : v[i]));
}

BITBENCH_SIMD_CLONES
uint32_t maxAbsRange(const int32_t* __restrict v, int64_t n) {
    uint32_t m = 0;
    for (int64_t i = 0; i < n; ++i) {
        const uint32_t ax = v[i] < 0 ? 0u - uint32_t(v[i]) : uint32_t(v[i]);
        m = ax > m ? ax : m;
    }
    return m;
}

// Largest |value| of a tensor, in parallel (max is exact, so any split gives the same answer).
uint64_t maxAbs(const int32_t* v, int64_t n) {
    return tbb::parallel_reduce(
        tbb::blocked_range<int64_t>(0, n, 16384), uint64_t(0),
        [&](const tbb::blocked_range<int64_t>& r, uint64_t m) {
            return std::max<uint64_t>(m, maxAbsRange(v + r.begin(), r.end() - r.begin()));
        },
        [](uint64_t a, uint64_t b) { return std::max(a, b); });
}

// Q_A's clip mask on the error (in place), returning max|e| of the masked error. The loop has
// no branch inside (a conditional store kept GCC from vectorizing it).
BITBENCH_SIMD_CLONES
uint32_t clipMaskMaxRange(const int32_t* __restrict v, int32_t* __restrict e, int64_t n, int32_t clip, bool relu) {
    const int32_t floor = relu ? 0 : INT32_MIN;
    uint32_t m = 0;
    for (int64_t i = 0; i < n; ++i) {
        const int32_t a = v[i] < floor ? floor : v[i];
        const int32_t keep = -int32_t((a <= clip) & (a >= -clip)); // all ones or zero
        const int32_t x = e[i] & keep;
        e[i] = x;
        const uint32_t sign = uint32_t(x >> 31);
        const uint32_t ax = (uint32_t(x) ^ sign) - sign;
        m = ax > m ? ax : m;
    }
    return m;
}

uint32_t clipMaskMax(const int32_t* v, int32_t* e, int64_t n, int32_t clip, bool relu, bool mask) {
    return mask ? clipMaskMaxRange(v, e, n, clip, relu) : maxAbsRange(e, n);
}

// Q_E codes with the relu mask (and the logits' clip mask for the last layer).
struct ErrorCode {
    Requant qe;
    int32_t clip;
    bool zero, relu, maskAfter;
    int8_t operator()(int32_t v, int32_t e) const {
        const bool drop = zero | (relu & (v <= 0)) | (maskAfter & ((v > clip) | (v < -clip)));
        return drop ? int8_t(0) : int8_t(qe(e));
    }
};

BITBENCH_SIMD_CLONES
void errorCodes(const int32_t* __restrict v, const int32_t* __restrict e, int8_t* __restrict eq, int64_t n, ErrorCode ec) {
    for (int64_t i = 0; i < n; ++i) eq[i] = ec(v[i], e[i]);
}

// One pooled row of Q_E codes routed back to its windows: the code at the argmax, zeros elsewhere.
BITBENCH_SIMD_CLONES_ROW
void errorRouteRow(const int32_t* __restrict v, const int32_t* __restrict e, const uint8_t* __restrict argmax,
                   int8_t* __restrict r0, int8_t* __restrict r1, int64_t outW, int64_t N, ErrorCode ec) {
    for (int64_t px = 0; px < outW; ++px) {
        int8_t* a = r0 + 2 * px * N;
        int8_t* b = r1 + 2 * px * N;
        const int32_t* vp = v + px * N;
        const int32_t* ep = e + px * N;
        const uint8_t* gp = argmax + px * N;
        for (int64_t c = 0; c < N; ++c) {
            const int8_t code = ec(vp[c], ep[c]);
            const uint8_t g = gp[c];
            a[c] = g == 0 ? code : int8_t(0);
            a[N + c] = g == 1 ? code : int8_t(0);
            b[c] = g == 2 ? code : int8_t(0);
            b[N + c] = g == 3 ? code : int8_t(0);
        }
    }
}

// col2im of one image: sums each column row of the error product into the input positions.
BITBENCH_SIMD_CLONES
void col2imImage(const int32_t* __restrict src, int32_t* __restrict dst, int64_t convH, int64_t convW, int64_t kernel,
                 int64_t pad, int64_t inH, int64_t inW, int64_t inC) {
    const int64_t K = kernel * kernel * inC;
    std::fill(dst, dst + inH * inW * inC, 0);
    for (int64_t oy = 0; oy < convH; ++oy)
        for (int64_t ox = 0; ox < convW; ++ox) {
            const int32_t* row = src + (oy * convW + ox) * K;
            for (int64_t ky = 0; ky < kernel; ++ky) {
                const int64_t y = oy + ky - pad;
                if (y < 0 || y >= inH) continue;
                const int64_t kx0 = std::max<int64_t>(0, pad - ox), kx1 = std::min<int64_t>(kernel, inW + pad - ox);
                if (kx0 >= kx1) continue;
                // The taps of one kernel row cover consecutive input pixels: one run of (kx1-kx0)*inC.
                int32_t* t = dst + (y * inW + ox + kx0 - pad) * inC;
                const int32_t* s = row + (ky * kernel + kx0) * inC;
                const int64_t len = (kx1 - kx0) * inC;
                for (int64_t c = 0; c < len; ++c) t[c] += s[c];
            }
        }
}

// Q_G's 16-bit randomizer: v = round_half_even(g * lrQ / 2^s) (units 2^-15), s >= 1. Returns
// nonzero iff some v has fraction bits, i.e. needs a random draw.
BITBENCH_SIMD_CLONES
uint32_t updateValues(const int32_t* __restrict g, int64_t n, int64_t lrQ, int32_t s, int64_t* __restrict vs) {
    const int64_t mask = (int64_t(1) << s) - 1, half = int64_t(1) << (s - 1);
    uint32_t any = 0;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t x = int64_t(g[i]) * lrQ;
        const int64_t q = x >> s, r = x & mask;
        const int64_t v = q + (((r > half) | ((r == half) & q)) & 1);
        vs[i] = v;
        any |= uint32_t(v & 0x7FFF);
    }
    return any;
}

// Stochastic rounding n = sign(v) (floor|v| + [draw < frac|v|]) with 15-bit draws, the SGD step
// W <- C(W) - n * 2^up on the latent codes, and the new forward codes Q_W(W).
struct UpdateParams {
    int64_t latentBound;
    int32_t up;
    Requant forward; // latent -> forward code
};

BITBENCH_SIMD_CLONES
void updateApply(const int64_t* __restrict vs, const uint32_t* __restrict draws, int64_t n, UpdateParams p,
                 int32_t* __restrict wLat, int16_t* __restrict dw, int8_t* __restrict wq) {
    const int64_t bound = p.latentBound;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t v = vs[i];
        const int64_t av = v < 0 ? -v : v;
        const int64_t frac = av & 0x7FFF;
        const int64_t nAbs = (av >> 15) + (int64_t(draws[i] >> 17) < frac ? 1 : 0);
        const int64_t nInt = v < 0 ? -nAbs : nAbs;
        dw[i] = int16_t(nInt);
        const int64_t w0 = wLat[i];
        const int64_t w = (w0 > bound ? bound : (w0 < -bound ? -bound : w0)) - nInt * (int64_t(1) << p.up);
        wLat[i] = int32_t(w);
        const int32_t c = int32_t(w > bound ? bound : (w < -bound ? -bound : w));
        wq[i] = int8_t(p.forward(c));
    }
}

struct IntLayer {
    LayerDesc d;
    ClassBits b;
    int32_t index = 0;
    int32_t kL = 0;        // latent weight grid: 2^(1-kL), kL = max(kW, kG)
    int32_t log2Alpha = 0;
    int64_t K = 0, N = 0;  // fan-in, outputs
    int64_t latentBound = 0; // C(W, kW) in latent units
    int32_t inExp = 0;     // exponent of input codes
    int32_t wExp = 0;      // exponent of forward weight codes: 1 - kW - log2(alpha)
    int32_t accExp = 0;
    int32_t outShift = 0;  // acc -> output code shift for Q_A
    bool inputNonNegative = true;
    bool last = false;

    std::vector<int32_t> wLat; // [N][K]
    std::vector<int8_t> wq;    // [N][K]
    std::vector<int8_t> wqT;   // [K][N]

    std::vector<int8_t> col;     // conv: [rows][K]
    std::vector<int32_t> acc;    // [rows][N]
    std::vector<int32_t> pooled; // [outRows][N] (pool only)
    std::vector<uint8_t> argmax; // [outRows][N] (pool only)
    std::vector<int8_t> out;     // [outRows][N] output codes (quantized outputs)

    std::vector<int32_t> eIn;    // [outRows][N] error arriving at the block output
    std::vector<int8_t> eq;      // [rows][N] quantized error routed to the product output
    std::vector<int32_t> g;      // [N][K]
    std::vector<int16_t> dw;     // [N][K] integer update n of the last step
    int64_t errorChunk = 1;      // images per error product, so its int32 result stays in L2
    int64_t forwardChunk = 1;    // conv + pool: images per product, so its int32 result stays in L2
    bool direct = false;         // one-channel input conv computed from the input (convRowOneChannel)
    std::vector<int8_t> wDirect; // its weights: [tap group][N][4] (see convRowOneChannel)
    GemmPackedB wPacked, wTPacked; // wq, wqT packed once per step for the products run per chunk
    // Conv error product with col2im fused (gemm_s8_nt_packed_add_at): where each product row
    // (output pixel of errorChunk images) and column (kernel tap) lands in the input error.
    std::vector<int64_t> errRowOff, errColOff;
    int32_t eShift = 0;          // Shift(max|e|) exponent of the last step (for stats)
    int32_t gShift = 0;
    bool eZero = true, gZero = true;
    bool eMaxReady = false;      // eIn is clip-masked already and eMax is its max|e|
    uint32_t eMax = 0;
    int64_t lrQ = 0;             // lr * 2^16 of the last step
    LayerTiming time;

    int64_t rows(int64_t n) const { return n * d.convH * d.convW; }
    int64_t outRows(int64_t n) const { return n * d.outH * d.outW; }
    const int32_t* blockOut() const { return d.pool ? pooled.data() : acc.data(); }

    // 1[-1 + sigma <= x <= 1 - sigma] for Q_A's input x = value * 2^accExp, in integers:
    // |x * 2^-outShift| <= maxA, i.e. |x| <= clipBound (floor division when outShift < 0).
    int64_t clipBound() const {
        const int64_t maxA = fx_max_code(b.a());
        return outShift >= 0 ? maxA << outShift : maxA >> -outShift;
    }

};

class IntEngine final : public Engine {
public:
    explicit IntEngine(const Experiment& e) : m_e(e), m_rng(e.seed) {
        const auto& m = e.model;
        m_inputBits = e.bits.base.a();
        m_inputCodes = wage_input_codes(m.transform, m_inputBits);
        const int32_t B = e.batch;
        int32_t inExp = 1 - m_inputBits;
        bool inputNonNeg = m.transform == InputTransform::Unit;
        // 64 bytes of slack: convRowOneChannel reads a few bytes past the last image.
        m_input.resize(size_t(B) * m.inH * m.inW * m.inC + 64);
        for (size_t i = 0; i < m.layers.size(); ++i) {
            IntLayer L;
            L.d = m.layers[i];
            L.b = e.bits.forLayer(L.d.name);
            L.index = int32_t(i);
            L.last = i + 1 == m.layers.size();
            L.K = L.d.fanIn();
            L.N = L.d.out;
            L.kL = std::max(L.b.w(), L.b.g());
            L.latentBound = (int64_t(1) << (L.kL - 1)) - (int64_t(1) << (L.kL - L.b.w()));
            const WageInit init = wage_init(L.K, L.b.w());
            L.log2Alpha = init.log2Alpha;
            L.inExp = inExp;
            L.wExp = 1 - L.b.w() - L.log2Alpha;
            L.accExp = L.inExp + L.wExp;
            L.outShift = -L.accExp - (L.b.a() - 1);
            L.inputNonNegative = inputNonNeg;
            // Init: W ~ U(-L, L), then once W <- Q(W, kW) (round half to even, no clip).
            L.wLat.resize(size_t(L.N * L.K));
            const double sigmaW = std::ldexp(1.0, 1 - L.b.w());
            for (int64_t j = 0; j < L.N * L.K; ++j) {
                const double w = wage_uniform(m_rng, uint32_t(i), uint64_t(j), init.limit);
                const double code = std::nearbyint(w / sigmaW); // FE_TONEAREST: ties to even
                L.wLat[size_t(j)] = int32_t(code) * (1 << (L.kL - L.b.w()));
            }
            L.wq.resize(L.wLat.size());
            L.wqT.resize(L.wLat.size());
            const int64_t rows = L.rows(B), outRows = L.outRows(B);
            if (L.d.type == LayerType::Conv) {
                L.col.resize(size_t(rows * L.K));
                const int64_t colImage = int64_t(L.d.convH) * L.d.convW * L.K * int64_t(sizeof(int32_t));
                L.errorChunk = std::clamp<int64_t>((int64_t(512) << 10) / colImage, 1, B);
                if (i > 0 && L.d.inC % 16 == 0) {
                    // Offsets into the input error padded by the conv's padding on every side (a
                    // tap in the padding lands there and is dropped when the interior is copied).
                    const auto& d = L.d;
                    const int64_t pad = d.same ? d.kernel / 2 : 0, pW = d.inW + 2 * pad;
                    const int64_t imageSize = (d.inH + 2 * pad) * pW * d.inC;
                    for (int64_t b = 0; b < L.errorChunk; ++b)
                        for (int64_t oy = 0; oy < d.convH; ++oy)
                            for (int64_t ox = 0; ox < d.convW; ++ox)
                                L.errRowOff.push_back(b * imageSize + (oy * pW + ox) * d.inC);
                    for (int64_t ky = 0; ky < d.kernel; ++ky)
                        for (int64_t kx = 0; kx < d.kernel; ++kx)
                            for (int64_t c = 0; c < d.inC; ++c) L.errColOff.push_back((ky * pW + kx) * d.inC + c);
                }
                const int64_t accImage = L.rows(1) * L.N * int64_t(sizeof(int32_t));
                L.forwardChunk = std::clamp<int64_t>((int64_t(256) << 10) / (accImage + L.rows(1) * L.K), 1, B);
            }
            // A pooled conv never holds its whole product: it is pooled chunk by chunk.
            if (!(L.d.type == LayerType::Conv && L.d.pool)) L.acc.resize(size_t(rows * L.N));
            L.direct = i == 0 && L.d.type == LayerType::Conv && L.d.pool && L.d.inC == 1 && !L.d.same && L.d.kernel == 5 &&
                       L.d.convW % 4 == 0 && L.d.convH % 2 == 0 &&
                       inputNonNeg && (L.N == 16 || L.N == 32 || L.N == 64);
            if (L.direct) L.wDirect.resize(size_t(kDirectGroups * L.N * 4));
            if (L.d.pool) {
                L.pooled.resize(size_t(outRows * L.N));
                L.argmax.resize(size_t(outRows * L.N));
            }
            L.out.resize(size_t(outRows * L.N));
            L.eIn.resize(size_t(outRows * L.N));
            L.eq.resize(size_t(rows * L.N));
            L.g.resize(size_t(L.N * L.K));
            L.dw.resize(size_t(L.N * L.K));
            checkBounds(L, B);
            inExp = 1 - L.b.a();
            inputNonNeg = L.d.relu;
            m_layers.push_back(std::move(L));
        }
        for (auto& L : m_layers) refreshForwardWeights(L);
    }

    const char* kind() const override { return "integer"; }

    std::vector<LayerReport> layers() const override {
        std::vector<LayerReport> r;
        for (const auto& L : m_layers)
            r.push_back({L.d.name, L.b, L.K, L.N * L.K, 1 << L.log2Alpha, accumulatorBound(L, m_e.batch)});
        return r;
    }

    void trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                   BatchResult& out) override {
        forward(images, n, true);
        Stopwatch sw;
        score(labels, n, out, true); // logits minus one-hot, loss and errors
        for (int64_t i = int64_t(m_layers.size()) - 1; i >= 0; --i) {
            IntLayer& L = m_layers[size_t(i)];
            quantizeError(L, n);
            L.time.quantizeSeconds += sw.lap();
            weightGradient(L, n);
            L.time.gradientSeconds += sw.lap();
            if (i > 0) propagateError(L, m_layers[size_t(i - 1)], n);
            L.time.errorSeconds += sw.lap();
        }
        const int64_t lrQ = int64_t(lr * 65536.0);
        for (auto& L : m_layers) {
            update(L, step, lrQ);
            L.time.updateSeconds += sw.lap();
        }
    }

    void evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) override {
        forward(images, n, false);
        score(labels, n, out, false);
    }

    uint64_t weightsHash() const override {
        return weights_hash(m_layers, [](const IntLayer& L) -> const auto& { return L.wLat; });
    }

    std::vector<uint8_t> weightsSave() const override {
        return weights_blob_save(kBlobMagic, m_layers, [](const IntLayer& L) -> const auto& { return L.wLat; });
    }

    void weightsLoad(const std::vector<uint8_t>& b) override {
        weights_blob_load(b, kBlobMagic, "integer", m_layers, [](IntLayer& L) -> auto& { return L.wLat; },
                          [this](IntLayer& L) { refreshForwardWeights(L); });
    }

    void collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const override;

    std::vector<LayerTiming> timings() const override {
        std::vector<LayerTiming> r;
        for (const auto& L : m_layers) {
            r.push_back(L.time);
            r.back().name = L.d.name;
        }
        return r;
    }
    void timingsReset() override {
        for (auto& L : m_layers) L.time = {};
    }

private:
    static constexpr uint64_t kBlobMagic = 0x31544E4957424242ull; // "BBBWINT1"

    static int64_t accumulatorBound(const IntLayer& L, int32_t batch) {
        const int64_t maxA = fx_max_code(L.b.a()), maxW = fx_max_code(L.b.w()), maxE = fx_max_code(L.b.e());
        const int64_t inMax = L.index == 0 ? 127 : maxA;
        int64_t bound = L.K * inMax * maxW;                           // forward
        bound = std::max(bound, L.rows(batch) * maxE * inMax);       // weight gradient
        const int64_t taps = L.d.type == LayerType::Conv ? int64_t(L.d.kernel) * L.d.kernel : 1;
        bound = std::max(bound, taps * L.N * maxE * maxW);           // error propagation
        return bound;
    }

    void checkBounds(const IntLayer& L, int32_t batch) const {
        const int64_t bound = accumulatorBound(L, batch);
        if (bound >= (int64_t(1) << 31))
            throw InputError("layer '" + L.d.name + "': int32 sums could reach " + std::to_string(bound) +
                             " with batch " + std::to_string(batch) + " and these bits (limit 2^31); use a smaller batch");
    }

    // Q_W of one latent weight: the forward code.
    struct ForwardCode {
        int64_t latentBound;
        int32_t shift;
        int64_t maxW;
        explicit ForwardCode(const IntLayer& L) : latentBound(L.latentBound), shift(L.kL - L.b.w()), maxW(fx_max_code(L.b.w())) {}
        int8_t operator()(int64_t latent) const {
            return int8_t(fx_clip(fx_shift_rne(fx_clip(latent, latentBound), shift), maxW));
        }
    };

    void refreshForwardWeights(IntLayer& L) {
        const ForwardCode fc(L);
        const int32_t* w = L.wLat.data();
        int8_t* q = L.wq.data();
        parallelRange(L.N * L.K, 16384, [=](int64_t lo, int64_t hi) {
            for (int64_t j = lo; j < hi; ++j) q[j] = fc(w[j]);
        });
        transposeForwardWeights(L);
    }

    // wqT = wq^T in 64 x 64 tiles, so both sides stay in cache lines.
    static void transposeForwardWeights(IntLayer& L) {
        const int64_t N = L.N, K = L.K, tile = 64;
        const int64_t tn = (N + tile - 1) / tile, tk = (K + tile - 1) / tile;
        const int8_t* src = L.wq.data();
        int8_t* dst = L.wqT.data();
        parallelRange(tn * tk, 4, [=](int64_t lo, int64_t hi) {
            for (int64_t t = lo; t < hi; ++t) {
                const int64_t n0 = (t / tk) * tile, k0 = (t % tk) * tile;
                const int64_t n1 = std::min(N, n0 + tile), k1 = std::min(K, k0 + tile);
                int64_t n16 = n0, k16 = k0;
#if defined(__x86_64__)
                n16 = n0 + (n1 - n0) / 16 * 16;
                k16 = k0 + (k1 - k0) / 16 * 16;
                for (int64_t n = n0; n < n16; n += 16)
                    for (int64_t k = k0; k < k16; k += 16) transpose16(src + n * K + k, K, dst + k * N + n, N);
#endif
                // Edges: columns past the whole 16-blocks, then rows past them.
                for (int64_t k = k16; k < k1; ++k)
                    for (int64_t n = n0; n < n1; ++n) dst[k * N + n] = src[n * K + k];
                for (int64_t k = k0; k < k16; ++k)
                    for (int64_t n = n16; n < n1; ++n) dst[k * N + n] = src[n * K + k];
            }
        });
    }

    void forward(const uint8_t* images, int32_t n, bool train) {
        Stopwatch sw; // the input codes count as the first layer's forward time
        const auto& m = m_e.model;
        const int64_t pixels = int64_t(n) * m.inH * m.inW * m.inC;
        for (int64_t i = 0; i < pixels; ++i) m_input[size_t(i)] = int8_t(m_inputCodes[images[i]]);
        const int8_t* in = m_input.data();
        for (auto& L : m_layers) {
            forwardLayer(L, in, n, train);
            L.time.forwardSeconds += sw.lap();
            in = L.out.data();
        }
    }

    void im2col(IntLayer& L, const int8_t* in, int32_t n) {
        parallelRange(int64_t(n) * L.d.convH, 4, [&](int64_t lo, int64_t hi) { im2colRows(L, in, lo, hi); });
    }

    // Rows [lo, hi) of (image, product row) of the im2col matrix.
    static void im2colRows(IntLayer& L, const int8_t* in, int64_t lo, int64_t hi) {
        const auto& d = L.d;
        const int32_t pad = d.same ? d.kernel / 2 : 0;
        const int64_t rowBytes = int64_t(d.kernel) * d.inC;
        {
            for (int64_t by = lo; by < hi; ++by) {
                const int64_t b = by / d.convH, oy = by % d.convH;
                for (int64_t ox = 0; ox < d.convW; ++ox) {
                    int8_t* dst = L.col.data() + ((b * d.convH + oy) * d.convW + ox) * L.K;
                    for (int32_t ky = 0; ky < d.kernel; ++ky) {
                        const int64_t y = oy + ky - pad;
                        int8_t* row = dst + ky * rowBytes;
                        if (y < 0 || y >= d.inH) {
                            std::memset(row, 0, size_t(rowBytes));
                            continue;
                        }
                        const int64_t x0 = ox - pad;
                        if (x0 >= 0 && x0 + d.kernel <= d.inW) {
                            const int8_t* src = in + ((b * d.inH + y) * d.inW + x0) * d.inC;
                            // conv1 rows are 5 bytes: a call to memcpy per row costs more than the copy.
                            if (rowBytes <= 16) for (int64_t k = 0; k < rowBytes; ++k) row[k] = src[k];
                            else std::memcpy(row, src, size_t(rowBytes));
                        } else {
                            for (int32_t kx = 0; kx < d.kernel; ++kx) {
                                const int64_t x = x0 + kx;
                                if (x < 0 || x >= d.inW) std::memset(row + kx * d.inC, 0, size_t(d.inC));
                                else std::memcpy(row + kx * d.inC, in + ((b * d.inH + y) * d.inW + x) * d.inC, size_t(d.inC));
                            }
                        }
                    }
                }
            }
        }
    }

    void forwardLayer(IntLayer& L, const int8_t* in, int32_t n, bool train) {
        const auto& d = L.d;
        if (d.type == LayerType::Conv && d.pool) return forwardConvPool(L, in, n, train);
        const int64_t rows = L.rows(n);
        const int8_t* a = in;
        if (d.type == LayerType::Conv) {
            im2col(L, in, n);
            a = L.col.data();
        }
        gemm_s8_nt(rows, L.N, L.K, a, L.K, L.wq.data(), L.K, L.acc.data(), L.N, false, L.inputNonNegative);
        if (d.pool) {
            poolQuantize(L, n);
            return;
        }
        if (!L.d.quantizeOutput) return;
        const Requant qa(L.outShift, fx_max_code(L.b.a()));
        const int32_t* v = L.acc.data();
        int8_t* out = L.out.data();
        const bool relu = d.relu;
        parallelRange(L.outRows(n) * L.N, 16384,
                      [=](int64_t lo, int64_t hi) { reluQuantize(v + lo, out + lo, hi - lo, qa, relu); });
    }

    // Conv + max-pool + relu + Q_A in chunks of images: im2col, product and pooling of a chunk
    // run on one thread while its int32 product is in L2 (conv1 would otherwise write and read
    // back 9 MB a step). Training keeps the im2col rows (for the weight gradient), the pooled
    // values and the argmax (for the backward masks and routing); evaluation only the codes.
    void forwardConvPool(IntLayer& L, const int8_t* in, int32_t n, bool train) {
        const auto& d = L.d;
        const int64_t N = L.N, K = L.K, imageRows = L.rows(1);
        const int64_t chunk = L.forwardChunk, chunks = (n + chunk - 1) / chunk;
        const Requant qa(L.outShift, fx_max_code(L.b.a()));
        const bool relu = d.relu, nonNeg = L.inputNonNegative;
        const int64_t outH = d.outH, outW = d.outW, convH = d.convH, convW = d.convW;
        const bool direct = directActive(L);
        if (direct) packDirectWeights(L);
        else gemm_s8_pack_b(N, K, L.wq.data(), K, L.wPacked);
        tbb::parallel_for(
            tbb::blocked_range<int64_t>(0, chunks, 1),
            [&](const tbb::blocked_range<int64_t>& r) {
                // Isolated: a thread waiting inside the product's own parallel loop must not start
                // another chunk on this thread's buffer.
                tbb::this_task_arena::isolate([&] {
                    std::vector<int32_t>& buf = m_chunk.local();
                    // Direct layers also keep a quad of the image (int8) after their two rows.
                    const size_t need = std::max<size_t>(size_t(chunk * imageRows * N),
                                                         size_t(2 * convW * N + (d.inH * d.inW * 4 + 64) / 4));
                    if (buf.size() < need) buf.resize(need);
                    int32_t* acc = buf.data();
                    for (int64_t c = r.begin(); c < r.end(); ++c) {
                        const int64_t b0 = c * chunk, count = std::min<int64_t>(chunk, n - b0);
                        if (direct) {
                            // After the two product rows: this image's quad (see buildQuad).
                            auto* quad = reinterpret_cast<int8_t*>(acc + 2 * convW * N);
                            for (int64_t by = b0 * outH; by < (b0 + count) * outH; ++by) {
                                const int64_t b = by / outH, py = by % outH;
                                const int64_t o = by * outW * N;
                                if (py == 0) buildQuad(in + b * d.inH * d.inW, d.inW, convH, quad);
                                const int8_t* x = in + (b * d.inH + 2 * py) * d.inW;
                                const int8_t* q = quad + 2 * py * d.inW * 4;
                                convRowDirect(L, x, q, acc);
                                convRowDirect(L, x + d.inW, q + d.inW * 4, acc + convW * N);
                                if (train)
                                    poolRow(acc, acc + convW * N, outW, N, L.pooled.data() + o, L.argmax.data() + o,
                                            L.out.data() + o, qa, relu);
                                else
                                    poolRowCodes(acc, acc + convW * N, outW, N, L.out.data() + o, qa, relu);
                            }
                            continue;
                        }
                        im2colRows(L, in, b0 * convH, (b0 + count) * convH);
                        gemm_s8_nt_packed(count * imageRows, L.col.data() + b0 * imageRows * K, K, L.wPacked, acc, N,
                                          false, nonNeg);
                        for (int64_t by = b0 * outH; by < (b0 + count) * outH; ++by) {
                            const int64_t b = by / outH, py = by % outH;
                            const int64_t o = by * outW * N;
                            const int32_t* r0 = acc + ((b - b0) * convH + 2 * py) * convW * N;
                            if (train)
                                poolRow(r0, r0 + convW * N, outW, N, L.pooled.data() + o, L.argmax.data() + o,
                                        L.out.data() + o, qa, relu);
                            else
                                poolRowCodes(r0, r0 + convW * N, outW, N, L.out.data() + o, qa, relu);
                        }
                    }
                });
            },
            tbb::simple_partitioner());
    }

    static bool directActive(const IntLayer& L) { return L.direct && gemm_isa_active() == GemmIsa::Avx512Vnni; }

    static void packDirectWeights(IntLayer& L) {
        const int64_t N = L.N, k = L.d.kernel; // 5 (see L.direct)
        auto w = [&](int64_t c, int64_t ky, int64_t kx) { return L.wq[size_t(c * L.K + ky * k + kx)]; };
        for (int64_t g = 0; g < kDirectGroups; ++g)
            for (int64_t c = 0; c < N; ++c)
                for (int64_t j = 0; j < 4; ++j) {
                    int8_t v = 0;
                    if (g < 5) v = w(c, g, j);      // row g, columns 0-3
                    else if (g == 5) v = w(c, j, 4); // column 4, rows 0-3
                    else if (j == 0) v = w(c, 4, 4); // the last tap
                    L.wDirect[size_t((g * N + c) * 4 + j)] = v;
                }
    }

    // One product row of a direct layer; x: the input row at the top of its window, q: its quad row.
    static void convRowDirect(const IntLayer& L, const int8_t* x, const int8_t* q, int32_t* out) {
#if defined(__x86_64__)
        if (L.N == 16) convRowOneChannel<1>(x, q, L.d.inW, L.d.convW, L.wDirect.data(), out);
        else if (L.N == 32) convRowOneChannel<2>(x, q, L.d.inW, L.d.convW, L.wDirect.data(), out);
        else convRowOneChannel<4>(x, q, L.d.inW, L.d.convW, L.wDirect.data(), out);
#else
        (void)L, (void)x, (void)q, (void)out;
#endif
    }

    // Max-pool 2x2/2 with the first index of the maximum (numpy's argmax), then relu and Q_A, in
    // one pass over the product: the pooled values are read once, while in cache.
    void poolQuantize(IntLayer& L, int32_t n) {
        const auto& d = L.d;
        const int64_t N = L.N;
        const Requant qa(L.outShift, fx_max_code(L.b.a()));
        const bool relu = d.relu; // codes are written even without Q_A: nothing reads them then
        const int32_t* acc = L.acc.data();
        int32_t* pooled = L.pooled.data();
        uint8_t* argmax = L.argmax.data();
        int8_t* out = L.out.data();
        const int64_t outH = d.outH, outW = d.outW, convH = d.convH, convW = d.convW;
        parallelRange(int64_t(n) * outH, 2, [=](int64_t lo, int64_t hi) {
            for (int64_t by = lo; by < hi; ++by) {
                const int64_t b = by / outH, py = by % outH;
                const int64_t o = by * outW * N;
                const int32_t* r0 = acc + (b * convH + 2 * py) * convW * N;
                poolRow(r0, r0 + convW * N, outW, N, pooled + o, argmax + o, out + o, qa, relu);
            }
        });
    }

    // Logits minus one-hot at the logits' integer scale (kept in eIn when writeError), loss and errors.
    void score(const uint8_t* labels, int32_t n, BatchResult& out, bool writeError) {
        IntLayer& L = m_layers.back();
        const int64_t C = L.N;
        const bool q = L.d.quantizeOutput;
        const int32_t exp = q ? 1 - L.b.a() : L.accExp;
        const int64_t one = int64_t(1) << -exp;
        const double unit = std::ldexp(1.0, exp);
        out = {};
        for (int32_t s = 0; s < n; ++s) {
            int32_t pred;
            if (q) pred = wage_argmax(L.out.data() + s * C, int32_t(C));
            else pred = wage_argmax(L.acc.data() + s * C, int32_t(C));
            if (pred != labels[s]) ++out.errors;
            for (int64_t c = 0; c < C; ++c) {
                const int64_t logit = q ? L.out[size_t(s * C + c)] : L.acc[size_t(s * C + c)];
                const int64_t e = logit - (c == labels[s] ? one : 0);
                out.loss += 0.5 * double(e) * double(e) * unit * unit;
                if (writeError) L.eIn[size_t(s * C + c)] = int32_t(e);
            }
        }
    }

    // Backward through Q_A's clip mask, Q_E, relu mask and pool routing (last layer: Q_E first).
    // Two passes: the clip mask fused with max|e| (Q_E's scale is over the whole tensor), then
    // Q_E fused with the relu mask and the routing to the product's output.
    void quantizeError(IntLayer& L, int32_t n) {
        const int64_t N = L.N, outRows = L.outRows(n);
        const int32_t* v = L.blockOut();
        int32_t* eIn = L.eIn.data();
        const bool relu = L.d.relu, pool = L.d.pool;
        const bool maskBefore = !L.last && L.d.quantizeOutput, maskAfter = L.last && L.d.quantizeOutput;
        const int32_t clip = int32_t(std::min<int64_t>(L.clipBound(), INT32_MAX));
        // The conv error product's col2im may have applied the mask already, image by image.
        const uint64_t m = L.eMaxReady ? L.eMax : tbb::parallel_reduce(
            tbb::blocked_range<int64_t>(0, outRows * N, 16384), uint64_t(0),
            [=](const tbb::blocked_range<int64_t>& r, uint64_t mx) {
                const int64_t lo = r.begin();
                return std::max<uint64_t>(mx, clipMaskMax(v + lo, eIn + lo, r.end() - lo, clip, relu, maskBefore));
            },
            [](uint64_t a, uint64_t b) { return std::max(a, b); });
        L.eMaxReady = false;
        L.eZero = m == 0;
        L.eShift = L.eZero ? 0 : fx_shift_exponent(m);
        const ErrorCode ec{Requant(L.eShift - (L.b.e() - 1), fx_max_code(L.b.e())), clip, L.eZero, relu, maskAfter};
        int8_t* eq = L.eq.data();
        // A direct layer routes through the argmax inside its gradient: codes at pooled size here.
        if (!pool || directActive(L)) {
            parallelRange(outRows * N, 16384,
                          [=](int64_t lo, int64_t hi) { errorCodes(v + lo, eIn + lo, eq + lo, hi - lo, ec); });
            return;
        }
        // Every position of a pooling window is written; with an odd product size the last row or
        // column is in no window and stays zero from the allocation.
        const uint8_t* argmax = L.argmax.data();
        const int64_t outH = L.d.outH, outW = L.d.outW, convH = L.d.convH, convW = L.d.convW;
        parallelRange(int64_t(n) * outH, 2, [=](int64_t lo, int64_t hi) {
            for (int64_t by = lo; by < hi; ++by) {
                const int64_t b = by / outH, py = by % outH;
                const int64_t o = by * outW * N;
                int8_t* r0 = eq + (b * convH + 2 * py) * convW * N;
                errorRouteRow(v + o, eIn + o, argmax + o, r0, r0 + convW * N, outW, N, ec);
            }
        });
    }

    void weightGradient(IntLayer& L, int32_t n) {
        if (directActive(L)) return directGradient(L, n);
        const int64_t rows = L.rows(n);
        const int8_t* a = L.d.type == LayerType::Conv ? L.col.data() : inputOf(L);
        gemm_s8_tn(L.N, L.K, rows, L.eq.data(), L.N, a, L.K, L.g.data(), L.K, false, L.inputNonNegative);
    }

    // The direct layer's weight gradient from the input codes (no im2col): per task a partial sum
    // over its images, the partials added at the end (integer sums: any split, same bits).
    void directGradient(IntLayer& L, int32_t n) {
#if defined(__x86_64__)
        const int64_t N = L.N, taps = int64_t(L.d.kernel) * L.d.kernel, NV = N / 16, part = NV * taps * 16;
        for (auto& p : m_gradPart) std::fill(p.begin(), p.end(), 0);
        const int8_t* in = m_input.data();
        const int8_t* eq = L.eq.data();
        const uint8_t* argmax = L.argmax.data();
        const auto& d = L.d;
        parallelRange(n, 4, [&](int64_t lo, int64_t hi) {
            std::vector<int32_t>& p = m_gradPart.local();
            if (p.size() < size_t(part)) p.assign(size_t(part), 0);
            for (int64_t v = 0; v < NV; ++v)
                gradOneChannel<5>(in, d.inH, d.inW, eq, argmax, d.convH, d.convW, N, v, lo, hi,
                                  p.data() + v * taps * 16);
        });
        std::fill(L.g.begin(), L.g.end(), 0);
        for (const auto& p : m_gradPart) {
            if (p.size() < size_t(part)) continue;
            for (int64_t c = 0; c < N; ++c)
                for (int64_t t = 0; t < taps; ++t) {
                    int32_t& gv = L.g[size_t(c * L.K + t)];
                    gv = int32_t(uint32_t(gv) + uint32_t(p[size_t(((c / 16) * taps + t) * 16 + c % 16)]));
                }
        }
#else
        (void)L, (void)n;
#endif
    }

    const int8_t* inputOf(const IntLayer& L) const {
        return L.index == 0 ? m_input.data() : m_layers[size_t(L.index - 1)].out.data();
    }

    void propagateError(IntLayer& L, IntLayer& prev, int32_t n) {
        if (L.d.type == LayerType::Fc) {
            gemm_s8_nt(L.rows(n), L.K, L.N, L.eq.data(), L.N, L.wqT.data(), L.N, prev.eIn.data(), L.K, false);
            return;
        }
        // In chunks of images, each chunk on one thread from product to col2im: the conv2 product
        // would otherwise write 26 MB of int32 to memory and col2im read it back. Each image is
        // summed by one task, so the result never depends on the split.
        const auto& d = L.d;
        const int64_t pad = d.same ? d.kernel / 2 : 0;
        const int64_t imageSize = int64_t(d.inH) * d.inW * d.inC, colImage = int64_t(d.convH) * d.convW * L.K;
        int32_t* eIn = prev.eIn.data();
        const int64_t convH = d.convH, convW = d.convW, kernel = d.kernel, inH = d.inH, inW = d.inW, inC = d.inC;
        const int64_t imageRows = L.rows(1), chunk = L.errorChunk, chunks = (n + chunk - 1) / chunk;
        gemm_s8_pack_b(L.K, L.N, L.wqT.data(), L.N, L.wTPacked);
        // The previous layer's clip mask and max|e| (quantizeError's first pass) on each image
        // right after its col2im, while it is in cache; max is exact, so the split does not matter.
        const int32_t* pv = prev.blockOut();
        const bool pRelu = prev.d.relu, pMask = !prev.last && prev.d.quantizeOutput;
        const int32_t pClip = int32_t(std::min<int64_t>(prev.clipBound(), INT32_MAX));
        std::atomic<uint32_t> eMax{0};
        // With VNNI the product adds straight into the input error (col2im in its stores), one
        // chunk of images per task, so no two tasks touch the same image.
        const bool fused = !L.errRowOff.empty() && gemm_isa_active() == GemmIsa::Avx512Vnni;
        tbb::parallel_for(
            tbb::blocked_range<int64_t>(0, chunks, 1),
            [&](const tbb::blocked_range<int64_t>& r) {
                tbb::this_task_arena::isolate([&] { // see forwardConvPool
                    if (fused) {
                        // Padded: summed in a per-thread padded buffer, then its interior copied.
                        const int64_t pH = inH + 2 * pad, pW = inW + 2 * pad, paddedSize = pH * pW * inC;
                        int32_t* padded = nullptr;
                        if (pad > 0) {
                            std::vector<int32_t>& buf = m_chunk.local();
                            if (buf.size() < size_t(chunk * paddedSize)) buf.resize(size_t(chunk * paddedSize));
                            padded = buf.data();
                        }
                        for (int64_t c = r.begin(); c < r.end(); ++c) {
                            const int64_t b0 = c * chunk, count = std::min<int64_t>(chunk, n - b0);
                            int32_t* dst = pad > 0 ? padded : eIn + b0 * imageSize;
                            std::fill(dst, dst + count * (pad > 0 ? paddedSize : imageSize), 0);
                            gemm_s8_nt_packed_add_at(count * imageRows, L.eq.data() + b0 * imageRows * L.N, L.N,
                                                     L.wTPacked, dst, L.errRowOff.data(), L.errColOff.data());
                            if (pad > 0)
                                for (int64_t b = 0; b < count; ++b)
                                    for (int64_t y = 0; y < inH; ++y)
                                        std::memcpy(eIn + (((b0 + b) * inH + y) * inW) * inC,
                                                    padded + ((b * pH + y + pad) * pW + pad) * inC,
                                                    size_t(inW * inC) * sizeof(int32_t));
                            uint32_t mx = 0;
                            for (int64_t o = b0 * imageSize; o < (b0 + count) * imageSize; o += imageSize)
                                mx = std::max(mx, clipMaskMax(pv + o, eIn + o, imageSize, pClip, pRelu, pMask));
                            uint32_t seen = eMax.load(std::memory_order_relaxed);
                            while (mx > seen && !eMax.compare_exchange_weak(seen, mx, std::memory_order_relaxed)) {
                            }
                        }
                        return;
                    }
                    std::vector<int32_t>& buf = m_chunk.local();
                    if (buf.size() < size_t(chunk * colImage)) buf.resize(size_t(chunk * colImage));
                    int32_t* ecol = buf.data();
                    for (int64_t c = r.begin(); c < r.end(); ++c) {
                        const int64_t b0 = c * chunk, count = std::min<int64_t>(chunk, n - b0);
                        gemm_s8_nt_packed(count * imageRows, L.eq.data() + b0 * imageRows * L.N, L.N, L.wTPacked, ecol,
                                          L.K, false);
                        uint32_t mx = 0;
                        for (int64_t b = 0; b < count; ++b) {
                            const int64_t o = (b0 + b) * imageSize;
                            col2imImage(ecol + b * colImage, eIn + o, convH, convW, kernel, pad, inH, inW, inC);
                            mx = std::max(mx, clipMaskMax(pv + o, eIn + o, imageSize, pClip, pRelu, pMask));
                        }
                        uint32_t seen = eMax.load(std::memory_order_relaxed);
                        while (mx > seen && !eMax.compare_exchange_weak(seen, mx, std::memory_order_relaxed)) {
                        }
                    }
                });
            },
            tbb::simple_partitioner());
        prev.eMax = eMax.load();
        prev.eMaxReady = true;
    }

    // Q_G and the SGD step: n = SR(Q(lr * g / Shift(max|g|), 16)), W <- C(W, kW) - n * sigma(kG).
    void update(IntLayer& L, int64_t step, int64_t lrQ) {
        const int64_t total = L.N * L.K;
        const uint64_t m = maxAbs(L.g.data(), total);
        L.gZero = m == 0;
        L.lrQ = lrQ;
        if (L.gZero) {
            std::fill(L.dw.begin(), L.dw.end(), int16_t(0));
            for (auto& w : L.wLat) w = int32_t(fx_clip(w, L.latentBound));
            refreshForwardWeights(L);
            return;
        }
        L.gShift = fx_shift_exponent(m);
        const int32_t s = L.gShift + 1; // v (units 2^-15) = g * lr * 2^15 / 2^p = g * lrQ / 2^(p+1)
        const uint64_t seed = m_rng.seed();
        const PhiloxLanes lanes{uint32_t(seed), uint32_t(seed >> 32), uint32_t(L.index), uint32_t(step),
                                (uint32_t(RandomPurpose::StochasticRound) << 24) | uint32_t((uint64_t(step) >> 32) & 0xFFFFFFu)};
        constexpr int64_t chunk = 4 * kDrawBlocks;
        // A chunk whose fractions are all zero needs no draws at all.
        const UpdateParams up{L.latentBound, L.kL - L.b.g(), Requant(L.kL - L.b.w(), fx_max_code(L.b.w()))};
        const int32_t* g = L.g.data();
        int32_t* wLat = L.wLat.data();
        int16_t* dw = L.dw.data();
        int8_t* wq = L.wq.data();
        const PhiloxDrawsFn philox = m_philox;
        parallelRange((total + chunk - 1) / chunk, 16, [=](int64_t lo, int64_t hi) {
            alignas(64) uint32_t draws[chunk];
            alignas(64) int64_t vs[chunk];
            for (int64_t c = lo; c < hi; ++c) {
                const int64_t j0 = c * chunk, n = std::min(total, j0 + chunk) - j0;
                if (updateValues(g + j0, n, lrQ, s, vs)) {
                    philox(lanes, uint32_t(c * kDrawBlocks), draws);
                } else {
                    std::fill(draws, draws + chunk, 0u); // no fractions: draws are never compared
                }
                updateApply(vs, draws, n, up, wLat + j0, dw + j0, wq + j0);
            }
        });
        transposeForwardWeights(L);
    }

    Experiment m_e;
    Random m_rng;
    PhiloxDrawsFn m_philox = philoxDraws();
    int32_t m_inputBits = 8;
    std::vector<int32_t> m_inputCodes;
    std::vector<int8_t> m_input;
    std::vector<IntLayer> m_layers;
    int32_t m_lastN = 0;
    // Per-thread int32 products of one chunk of images (forwardConvPool, propagateError).
    tbb::enumerable_thread_specific<std::vector<int32_t>> m_chunk;
    tbb::enumerable_thread_specific<std::vector<int32_t>> m_gradPart; // directGradient's partial sums
    friend struct IntStats;
};

} // namespace

void IntEngine::collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const {
    for (const auto& L : m_layers) {
        const int32_t i = L.index;
        // W: C(W_latent) in real units -> Q_W code * sigma(kW) (before the 1/alpha scale).
        {
            const double latentUnit = std::ldexp(1.0, 1 - L.kL), qUnit = std::ldexp(1.0, 1 - L.b.w());
            const double lim = double(L.latentBound) * latentUnit;
            StatsBuilder sb(bins, -lim, lim, qUnit);
            for (size_t j = 0; j < L.wLat.size(); ++j) sb.add(double(L.wLat[j]) * latentUnit, double(L.wq[j]) * qUnit);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::W, L.b.w()));
        }
        // A: the block output before Q_A (after relu) against its code.
        if (L.d.quantizeOutput) {
            const double unit = std::ldexp(1.0, L.accExp), qUnit = std::ldexp(1.0, 1 - L.b.a());
            const double lim = double(fx_max_code(L.b.a())) * qUnit;
            StatsBuilder sb(bins, L.d.relu ? 0.0 : -lim, lim, qUnit);
            const int32_t* v = L.blockOut();
            const size_t n = L.out.size();
            for (size_t j = 0; j < n; ++j) {
                const int64_t x = L.d.relu && v[j] < 0 ? 0 : v[j];
                sb.add(double(x) * unit, double(L.out[j]) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::A, L.b.a()));
        }
        // G: lr * g / Shift(max|g|) against the applied update n * sigma(kG).
        {
            const double qUnit = std::ldexp(1.0, 1 - L.b.g());
            const double lr = double(L.lrQ) / 65536.0;
            const double gUnit = L.gZero ? 0.0 : lr * std::ldexp(1.0, -L.gShift);
            StatsBuilder sb(bins, -INFINITY, INFINITY, qUnit);
            for (size_t j = 0; j < L.g.size(); ++j) sb.add(double(L.g[j]) * gUnit * qUnit, double(L.dw[j]) * qUnit);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::G, L.b.g()));
        }
        // E: e / Shift(max|e|) against its code (at the block output, after the clip mask).
        {
            const double qUnit = std::ldexp(1.0, 1 - L.b.e());
            const double lim = double(fx_max_code(L.b.e())) * qUnit;
            const double eUnit = L.eZero ? 0.0 : std::ldexp(1.0, -L.eShift);
            StatsBuilder sb(bins, -lim, lim, qUnit);
            const int32_t sh = L.eShift - (L.b.e() - 1);
            const int64_t maxE = fx_max_code(L.b.e());
            for (size_t j = 0; j < L.eIn.size(); ++j) {
                const int64_t code = L.eZero ? 0 : fx_clip(fx_shift_rne(L.eIn[j], sh), maxE);
                sb.add(double(L.eIn[j]) * eUnit, double(code) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::E, L.b.e()));
        }
    }
}

bool engine_integer_supported(const Experiment& e, std::string* why) {
    if (e.needsGraphExecutor()) {
        if (why) *why = "it needs the graph executor (an op-form model, quantizer families or a solver other than wage)";
        return false;
    }
    for (const auto& l : e.model.layers) {
        const ClassBits b = e.bits.forLayer(l.name);
        if (!b.allInteger()) {
            if (why) *why = "layer '" + l.name + "' has a float class (" + b.dashed() + ")";
            return false;
        }
        if (b.w() > 8 || b.a() > 8 || b.e() > 8) {
            if (why) *why = "layer '" + l.name + "' has W, A or E wider than 8 bits (" + b.dashed() + ")";
            return false;
        }
    }
    if (e.bits.base.a() > 8) {
        if (why) *why = "input activations wider than 8 bits";
        return false;
    }
    if (e.loss != LossKind::Sse) {
        if (why) *why = "loss is not sse";
        return false;
    }
    return true;
}

std::unique_ptr<Engine> engine_create_integer(const Experiment& e) { return std::make_unique<IntEngine>(e); }

} // namespace bitbench
