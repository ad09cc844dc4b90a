// Reference versions of the integer engine's kernels: plain scalar C++, the definition of each.
#include "kernels/wage_kernels.h"

#include "bitbench/philox.h"

#include <algorithm>
#include <cstdint>

namespace bitbench::wage_kernels {

namespace {

#define BITBENCH_WAGE_LOOPS_ROWS 1
#include "kernels/wage_loops.inc"
#undef BITBENCH_WAGE_LOOPS_ROWS

void philoxDraws(const PhiloxLanes& p, uint32_t firstBlock, uint32_t* draws) {
    for (uint32_t b = 0; b < kDrawBlocks; ++b) {
        const PhiloxBlock r = philox4x32_10({firstBlock + b, p.c1, p.c2, p.c3}, {p.key0, p.key1});
        for (int w = 0; w < 4; ++w) draws[4 * b + w] = r[size_t(w)];
    }
}

void transpose(const int8_t* src, int64_t lds, int64_t rows, int64_t cols, int8_t* dst, int64_t ldd) {
    for (int64_t k = 0; k < cols; ++k)
        for (int64_t r = 0; r < rows; ++r) dst[k * ldd + r] = src[r * lds + k];
}

void buildQuad(const int8_t* in, int64_t inW, int64_t rows, int8_t* quad) {
    for (int64_t y = 0; y < rows; ++y)
        for (int64_t x = 0; x < inW; ++x)
            for (int64_t j = 0; j < 4; ++j) quad[(y * inW + x) * 4 + j] = in[(y + j) * inW + x];
}

// Weight (c, ky, kx) of a 5 x 5 kernel in the 7 tap groups of Kernels::convRowOneChannel.
int32_t directWeight(const int8_t* wp, int64_t N, int64_t c, int64_t ky, int64_t kx) {
    if (kx < 4) return wp[(ky * N + c) * 4 + kx];
    if (ky < 4) return wp[(5 * N + c) * 4 + ky];
    return wp[(6 * N + c) * 4];
}

// The definition: a 5 x 5 product over the input rows (the quad is the same taps, not needed).
void convRowOneChannel(const int8_t* in, const int8_t* /*quad*/, int64_t inW, int64_t convW, int64_t N,
                       const int8_t* wp, int32_t* out) {
    for (int64_t ox = 0; ox < convW; ++ox)
        for (int64_t c = 0; c < N; ++c) {
            int32_t s = 0;
            for (int64_t ky = 0; ky < 5; ++ky)
                for (int64_t kx = 0; kx < 5; ++kx) s += int32_t(in[ky * inW + ox + kx]) * directWeight(wp, N, c, ky, kx);
            out[ox * N + c] = s;
        }
}

void gradOneChannel(const int8_t* in, int64_t inH, int64_t inW, const int8_t* eq, const uint8_t* argmax,
                    int64_t convH, int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int32_t* out) {
    for (int64_t j = 0; j < 16; ++j) {
        const int64_t c = 16 * v + j;
        for (int64_t ky = 0; ky < 5; ++ky)
            for (int64_t kx = 0; kx < 5; ++kx) {
                uint32_t s = uint32_t(out[(ky * 5 + kx) * 16 + j]);
                for (int64_t b = b0; b < b1; ++b)
                    for (int64_t oy = 0; oy < convH; ++oy)
                        for (int64_t ox = 0; ox < convW; ++ox) {
                            const int64_t o = ((b * (convH / 2) + oy / 2) * (convW / 2) + ox / 2) * N + c;
                            if (argmax[o] != 2 * (oy % 2) + ox % 2) continue;
                            s += uint32_t(int32_t(eq[o]) * int32_t(in[(b * inH + oy + ky) * inW + ox + kx]));
                        }
                out[(ky * 5 + kx) * 16 + j] = int32_t(s);
            }
    }
}

void gradOneChannel16(const int8_t* in, int64_t inH, int64_t inW, const int16_t* eq, const uint8_t* argmax,
                      int64_t convH, int64_t convW, int64_t N, int64_t v, int64_t b0, int64_t b1, int64_t* out) {
    for (int64_t j = 0; j < 16; ++j) {
        const int64_t c = 16 * v + j;
        for (int64_t ky = 0; ky < 5; ++ky)
            for (int64_t kx = 0; kx < 5; ++kx) {
                int64_t s = out[(ky * 5 + kx) * 16 + j];
                for (int64_t b = b0; b < b1; ++b)
                    for (int64_t oy = 0; oy < convH; ++oy)
                        for (int64_t ox = 0; ox < convW; ++ox) {
                            const int64_t o = ((b * (convH / 2) + oy / 2) * (convW / 2) + ox / 2) * N + c;
                            if (argmax[o] != 2 * (oy % 2) + ox % 2) continue;
                            s += int64_t(eq[o]) * in[(b * inH + oy + ky) * inW + ox + kx];
                        }
                out[(ky * 5 + kx) * 16 + j] = s;
            }
    }
}

} // namespace

const Kernels& kernels_reference() {
    static const Kernels set = [] {
        Kernels t{};
        t.isa = GemmIsa::Reference;
        setLoops(t);
        t.philoxDraws = philoxDraws;
        t.transpose = transpose;
        t.directConv = false;
        t.buildQuad = buildQuad;
        t.convRowOneChannel = convRowOneChannel;
        t.gradOneChannel = gradOneChannel;
        t.gradOneChannel16 = gradOneChannel16;
        return t;
    }();
    return set;
}

} // namespace bitbench::wage_kernels
