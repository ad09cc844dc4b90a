// Private kernels of the integer WAGE engine: element-wise passes, Philox lanes, direct conv, transpose.
#pragma once

#include "bitbench/gemm.h"

#include <cstdint>

namespace bitbench::wage_kernels {

// One table of kernels per instruction set, chosen once (kernels_for) by the GEMM's ISA
// (gemm_isa_active: the CPU, capped by BITBENCH_ISA, or gemm_isa_force), so every version runs
// on one machine and the tests compare each with the reference.
//
// Files (sibling per ISA, flags per file in core/CMakeLists.txt, like the GEMM's):
//   wage_kernels.cpp             the table for an ISA
//   wage_kernels_ref.cpp         reference versions: plain scalar C++, the definition
//   wage_kernels_avx2.cpp        -mavx2 -mfma
//   wage_kernels_avx512vnni.cpp  -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
//   wage_loops.inc               the element-wise passes, one scalar source compiled in each of
//                                the three files above (the compiler vectorizes it per ISA), so
//                                their reference is the same source compiled without ISA flags.
// Hand-written vector versions: Philox lanes (AVX2, AVX-512), the byte transpose (SSE2, in the
// AVX2 file; the AVX-512 table uses it too), the direct conv rows, their quad and their weight
// gradient (AVX-512 VNNI only). The AVX-512 table takes the per-row passes (poolRow,
// poolRowCodes, errorRouteRow) from AVX2: with byte outputs AVX-512 would need 64 channels per
// iteration and LeNet-5's 32 would fall to the scalar remainder.

// clip(round_half_even(x / 2^s), bound), in int32 and without branches, so loops over it
// vectorize. Right shifts: (q, r) = (x >> s, x mod 2^s), +1 when r passes half or equals half with q
// odd. Left shifts (s < 0): x is first clipped to just past bound >> -s, so the shift cannot
// overflow and the final clip still sees a value beyond the bound.
// requires: 0 <= clipBound < 2^31, -31 < shift < 32.
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

// Q_E codes with the relu mask (and the logits' clip mask for the last layer): 0 where dropped,
// else qe(e).
struct ErrorCode {
    Requant qe;
    int32_t clip;
    bool zero, relu, maskAfter;
    int8_t operator()(int32_t v, int32_t e) const {
        const bool drop = zero | (relu & (v <= 0)) | (maskAfter & ((v > clip) | (v < -clip)));
        return drop ? int8_t(0) : int8_t(qe(e));
    }
    // The same code as int16, for kE of 9 to 16 bits (qe's bound up to 32767).
    int16_t wide(int32_t v, int32_t e) const {
        const bool drop = zero | (relu & (v <= 0)) | (maskAfter & ((v > clip) | (v < -clip)));
        return drop ? int16_t(0) : int16_t(qe(e));
    }
};

// Stochastic rounding n = sign(v) (floor|v| + [draw < frac|v|]) with 15-bit draws, the SGD step
// W <- C(W) - n * 2^up on the latent codes, and the new forward codes Q_W(W).
struct UpdateParams {
    int64_t latentBound;
    int32_t up;
    Requant forward; // latent -> forward code
};

// Per-channel constants of Kernels::fixedBnRows, each an array of the row's c channels.
struct FixedBnChannels {
    const int64_t* b;    // added to a q
    const int64_t* m;    // the multiplier's mantissa
    const int64_t* s;    // its shift less the output's 16 fraction bits, 1..62
    const int64_t* half; // 2^(s-1) - 1
    const int64_t* off;  // beta (or the evaluation offset) on the 2^-16 grid
};

// Philox counter words shared by all blocks of one tensor and step (Random::block's counter
// with the block index left out): key = seed, counter = (block, c1, c2, c3).
struct PhiloxLanes {
    uint32_t key0, key1, c1, c2, c3;
};
// Blocks per philoxDraws call: 64 draws.
constexpr int64_t kDrawBlocks = 16;

// The direct conv's 7 tap groups for a 5 x 5 kernel (see convRowOneChannel).
constexpr int kDirectGroups = 7;

struct Kernels {
    GemmIsa isa;

    // --- element-wise passes (wage_loops.inc) ---
    // One pooled row: max-pool 2x2/2 keeping the first index of the maximum (numpy's argmax:
    // 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right), then relu and Q_A. r0, r1: the two
    // product rows under it ([2 * outW][N]); pooled, argmax, codes: [outW][N].
    void (*poolRow)(const int32_t* r0, const int32_t* r1, int64_t outW, int64_t N, int32_t* pooled,
                    uint8_t* argmax, int8_t* codes, Requant qa, bool relu);
    // poolRow for evaluation: only the codes.
    void (*poolRowCodes)(const int32_t* r0, const int32_t* r1, int64_t outW, int64_t N, int8_t* codes,
                         Requant qa, bool relu);
    // codes[i] = qa(relu ? max(v[i], 0) : v[i]).
    void (*reluQuantize)(const int32_t* v, int8_t* codes, int64_t n, Requant qa, bool relu);
    // max |v[i]| (as uint32: |INT32_MIN| = 2^31), 0 for n = 0.
    uint32_t (*maxAbs)(const int32_t* v, int64_t n);
    // Q_A's clip mask on the error, in place: e[i] = 0 where a = (relu ? max(v[i], 0) : v[i]) is
    // outside [-clip, clip]; returns max |e[i]| after the mask.
    uint32_t (*clipMaskMax)(const int32_t* v, int32_t* e, int64_t n, int32_t clip, bool relu);
    // eq[i] = ec(v[i], e[i]).
    void (*errorCodes)(const int32_t* v, const int32_t* e, int8_t* eq, int64_t n, ErrorCode ec);
    // One pooled row of Q_E codes routed back to its windows: ec(v, e) at the argmax position,
    // 0 at the other three; r0, r1: the two product rows ([2 * outW][N]).
    void (*errorRouteRow)(const int32_t* v, const int32_t* e, const uint8_t* argmax, int8_t* r0, int8_t* r1,
                          int64_t outW, int64_t N, ErrorCode ec);
    // col2im of one image: dst ([inH][inW][inC]) = 0, then each row (oy, ox) of src
    // ([convH][convW][kernel][kernel][inC]) added at its taps (stride 1, padding pad; taps in
    // the padding dropped).
    void (*col2im)(const int32_t* src, int32_t* dst, int64_t convH, int64_t convW, int64_t kernel, int64_t pad,
                   int64_t inH, int64_t inW, int64_t inC);
    // Q_G's 16-bit randomizer: vs[i] = round_half_even(g[i] * lrQ / 2^s) (units 2^-15).
    // Returns nonzero iff some vs[i] has fraction bits (low 15 bits), i.e. needs a draw.
    // requires: 1 <= s < 63, g[i] * lrQ fits in int64.
    uint32_t (*updateValues)(const int32_t* g, int64_t n, int64_t lrQ, int32_t s, int64_t* vs);
    // The int16 error codes (kE of 9 to 16 bits): errorCodes and errorRouteRow with ErrorCode::wide.
    void (*errorCodes16)(const int32_t* v, const int32_t* e, int16_t* eq, int64_t n, ErrorCode ec);
    void (*errorRouteRow16)(const int32_t* v, const int32_t* e, const uint8_t* argmax, int16_t* r0, int16_t* r1,
                            int64_t outW, int64_t N, ErrorCode ec);
    // max |g[i]| of int64 gradient sums (int16 errors), 0 for n = 0. requires |g[i]| < 2^63.
    uint64_t (*maxAbs64)(const int64_t* g, int64_t n);
    // updateValues on int64 gradient sums, the product g[i] * lrQ taken in 128 bits where it
    // could pass int64. requires: 1 <= s < 127, 0 <= lrQ, |vs[i]| < 2^63.
    uint32_t (*updateValues64)(const int64_t* g, int64_t n, int64_t lrQ, int32_t s, int64_t* vs);
    // Range BN in fixed point (the graph executor's banner8; ref_ops_norm_fixed.cpp): rows of c
    // codes q, per channel ch with t = a q + b[ch], p = t m[ch] (int64) and 1 <= s[ch] <= 62:
    //   v = clamp32((p + half[ch] + ((p >> s[ch]) & 1)) >> s[ch]) + off[ch]   (p / 2^s rounded half to even)
    //   y = float(double(clamp32(v)) * 2^-16)
    // half[ch] = 2^(s[ch]-1) - 1. requires: every a q + b[ch] and p fit int64 (the caller checks).
    void (*fixedBnRows)(const int32_t* q, int64_t rows, int64_t c, int64_t a, FixedBnChannels ch, float* y);
    // Per element (see UpdateParams): n = stochastic round of vs[i] with draw draws[i] >> 17,
    // dw[i] = n, wLat[i] = C(wLat[i]) - n * 2^up, wq[i] = forward(C(wLat[i])).
    void (*updateApply)(const int64_t* vs, const uint32_t* draws, int64_t n, UpdateParams p, int32_t* wLat,
                        int16_t* dw, int8_t* wq);

    // --- Philox lanes ---
    // The draws of kDrawBlocks consecutive blocks from firstBlock, in element order: draws[4b + w]
    // = word w of block firstBlock + b, equal to Random::block bit for bit.
    void (*philoxDraws)(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws);

    // --- byte transpose ---
    // dst[k * ldd + r] = src[r * lds + k] for r < rows, k < cols.
    void (*transpose)(const int8_t* src, int64_t lds, int64_t rows, int64_t cols, int8_t* dst, int64_t ldd);

    // --- direct 5 x 5 conv of a one-channel input (LeNet-5 conv1) ---
    // True where the direct kernels below are vector versions worth using instead of im2col +
    // GEMM (AVX-512 VNNI); elsewhere they are the reference versions.
    bool directConv;
    // quad[y][x][j] = in[(y + j) * inW + x] for y < rows, x < inW, j < 4: the 4 taps of a kernel
    // column as one lane. requires: the input holds rows + 3 rows.
    void (*buildQuad)(const int8_t* in, int64_t inW, int64_t rows, int8_t* quad);
    // One product row: out[ox][c] = sum_{ky,kx < 5} in[ky * inW + ox + kx] * W[c][ky][kx] for
    // ox < convW, c < N (N = 16, 32 or 64), from the top input row of the window (in) and its quad
    // row (quad, as buildQuad). wp: the weights in 7 tap groups, [group][N][4]: groups 0-4 are
    // kernel row g's taps kx 0-3, group 5 column 4 of rows 0-3, group 6 tap (4, 4) then 3 zeros.
    // The vector version reads up to 3 bytes past a row's last tap (times zero weights): the
    // caller keeps them inside its buffer.
    void (*convRowOneChannel)(const int8_t* in, const int8_t* quad, int64_t inW, int64_t convW, int64_t N,
                              const int8_t* wp, int32_t* out);
    // Weight gradient of a direct layer, channels 16v..16v+15, images [b0, b1), added (modulo
    // 2^32) to out ([tap ky*5+kx][16 channels]):
    //   out[t][j] += sum_{b, oy < convH, ox < convW} e(b, oy, ox, 16v+j) * in[(b*inH + oy+ky)*inW + ox+kx]
    // where e is the pooled error code eq[((b*(convH/2) + oy/2)*(convW/2) + ox/2)*N + c] if
    // argmax (same index) is 2*(oy%2) + ox%2, else 0. requires: convW % 4 == 0, convH even.
    void (*gradOneChannel)(const int8_t* in, int64_t inH, int64_t inW, const int8_t* eq, const uint8_t* argmax,
                           int64_t convH, int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int32_t* out);
    // gradOneChannel with int16 error codes, added to int64 out ([tap][16 channels]): each image's
    // sums are taken in int32 lanes, then added to out. requires: as gradOneChannel, input codes in
    // [0, 127], and (convH/2) * (convW/2) * max|eq| * 127 < 2^31 (one image's sum fits int32).
    void (*gradOneChannel16)(const int8_t* in, int64_t inH, int64_t inW, const int16_t* eq, const uint8_t* argmax,
                             int64_t convH, int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int64_t* out);
};

// The table for isa. throws std::invalid_argument when isa > gemm_isa_detected().
const Kernels& kernels_for(GemmIsa isa);

// Per-file tables (wage_kernels.cpp picks one).
const Kernels& kernels_reference();
#if defined(__x86_64__)
const Kernels& kernels_avx2();
const Kernels& kernels_avx512vnni();
#endif

} // namespace bitbench::wage_kernels
