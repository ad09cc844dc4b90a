// The float executor's conv and fc on im2col and exact-chain float32 products; see graph_kernels.h.
#include "engine/graph/graph_kernels.h"

#include "kernels/sgemm.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

namespace bitbench::graph_exec {

template <typename T> void im2col(const ref::ConvGeometry& g, int32_t n, const T* x, T* col) {
    const int64_t k = g.kernel, C = g.inC, K = k * k * C;
    const int64_t inH = g.inH, inW = g.inW, outH = g.outH, outW = g.outW, stride = g.stride;
    const int64_t padTop = g.padTop, padLeft = g.padLeft;
    tbb::parallel_for(int64_t(0), int64_t(n) * outH, [=](int64_t by) {
        const int64_t b = by / outH, oy = by % outH;
        for (int64_t ox = 0; ox < outW; ++ox) {
            T* __restrict dst = col + ((b * outH + oy) * outW + ox) * K;
            const int64_t ix0 = ox * stride - padLeft;
            const bool rowInside = ix0 >= 0 && ix0 + k <= inW;
            for (int64_t ky = 0; ky < k; ++ky) {
                const int64_t iy = oy * stride + ky - padTop;
                T* __restrict t = dst + ky * k * C;
                if (iy < 0 || iy >= inH) {
                    for (int64_t i = 0; i < k * C; ++i) t[i] = T(0);
                } else if (rowInside) {
                    // The k taps of one kernel row are k * C consecutive input values.
                    const T* __restrict src = x + ((b * inH + iy) * inW + ix0) * C;
                    for (int64_t i = 0; i < k * C; ++i) t[i] = src[i];
                } else {
                    for (int64_t kx = 0; kx < k; ++kx) {
                        const int64_t ix = ix0 + kx;
                        const T* src = x + ((b * inH + iy) * inW + ix) * C;
                        for (int64_t c = 0; c < C; ++c) t[kx * C + c] = ix < 0 || ix >= inW ? T(0) : src[c];
                    }
                }
            }
        }
    });
}

template <typename S, typename D> void col2im(const ref::ConvGeometry& g, int32_t n, const S* col, D* dx) {
    const int64_t K = int64_t(g.kernel) * g.kernel * g.inC;
    const int64_t image = int64_t(g.inH) * g.inW * g.inC;
    // One image per task, its columns summed in one fixed order.
    tbb::parallel_for(int64_t(0), int64_t(n), [&](int64_t b) {
        D* dst = dx + b * image;
        std::fill(dst, dst + image, D(0));
        for (int64_t oy = 0; oy < g.outH; ++oy)
            for (int64_t ox = 0; ox < g.outW; ++ox) {
                const S* src = col + ((b * g.outH + oy) * g.outW + ox) * K;
                for (int32_t ky = 0; ky < g.kernel; ++ky) {
                    const int64_t iy = oy * g.stride + ky - g.padTop;
                    if (iy < 0 || iy >= g.inH) continue;
                    for (int32_t kx = 0; kx < g.kernel; ++kx) {
                        const int64_t ix = ox * g.stride + kx - g.padLeft;
                        if (ix < 0 || ix >= g.inW) continue;
                        D* t = dst + (iy * g.inW + ix) * g.inC;
                        const S* s = src + (int64_t(ky) * g.kernel + kx) * g.inC;
                        for (int32_t c = 0; c < g.inC; ++c) t[c] += D(s[c]);
                    }
                }
            }
    });
}

template void im2col<float>(const ref::ConvGeometry&, int32_t, const float*, float*);
template void im2col<int8_t>(const ref::ConvGeometry&, int32_t, const int8_t*, int8_t*);
template void im2col<int16_t>(const ref::ConvGeometry&, int32_t, const int16_t*, int16_t*);
template void col2im<float, float>(const ref::ConvGeometry&, int32_t, const float*, float*);
template void col2im<int32_t, int64_t>(const ref::ConvGeometry&, int32_t, const int32_t*, int64_t*);
template void col2im<int64_t, int64_t>(const ref::ConvGeometry&, int32_t, const int64_t*, int64_t*);

namespace {

void addBias(int64_t rows, int32_t out, const float* bias, float* y) {
    if (!bias) return;
    tbb::parallel_for(int64_t(0), rows, [&](int64_t r) {
        for (int32_t o = 0; o < out; ++o) y[r * out + o] += bias[o];
    });
}

} // namespace

namespace {

// One output row of a 2x2 max-pool over c channels: v is the reference's chain (strict >, window
// positions 0..3), and the position is the first whose value equals v (the same position: an
// earlier equal value would have kept v; a NaN first value is never equal and gives 0, as the
// chain does). Two plain passes, so the compiler vectorizes both.
void maxpoolRow(const float* __restrict p0, const float* __restrict p1, const float* __restrict p2,
                const float* __restrict p3, float* __restrict out, uint8_t* __restrict arg, int64_t c) {
    for (int64_t ch = 0; ch < c; ++ch) {
        float v = p0[ch];
        v = p1[ch] > v ? p1[ch] : v;
        v = p2[ch] > v ? p2[ch] : v;
        v = p3[ch] > v ? p3[ch] : v;
        out[ch] = v;
    }
    for (int64_t ch = 0; ch < c; ++ch) {
        const float v = out[ch];
        int32_t best = p3[ch] == v ? 3 : 0;
        best = p2[ch] == v ? 2 : best;
        best = p1[ch] == v ? 1 : best;
        best = p0[ch] == v ? 0 : best;
        arg[ch] = uint8_t(best);
    }
}

// The gradient of one pooled row back to its four window positions.
void maxpoolRouteRow(const float* __restrict d, const uint8_t* __restrict arg, float* __restrict q0,
                     float* __restrict q1, float* __restrict q2, float* __restrict q3, int64_t c) {
    for (int64_t ch = 0; ch < c; ++ch) {
        const int32_t a = arg[ch];
        q0[ch] = a == 0 ? d[ch] : 0.0f;
        q1[ch] = a == 1 ? d[ch] : 0.0f;
        q2[ch] = a == 2 ? d[ch] : 0.0f;
        q3[ch] = a == 3 ? d[ch] : 0.0f;
    }
}

} // namespace

void maxpool_forward_fast(const TensorShape& in, int32_t n, const float* x, float* y, uint8_t* argmax) {
    const int64_t c = in.c, w = in.w, oh = in.h / 2, ow = in.w / 2;
    const int64_t inSize = in.size(), outSize = oh * ow * c;
    tbb::parallel_for(int32_t(0), n, [=](int32_t b) {
        for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox) {
                const float* p0 = x + b * inSize + ((2 * oy) * w + 2 * ox) * c;
                const int64_t o = b * outSize + (oy * ow + ox) * c;
                maxpoolRow(p0, p0 + c, p0 + w * c, p0 + w * c + c, y + o, argmax + o, c);
            }
    });
}

void maxpool_backward_fast(const TensorShape& in, int32_t n, const float* dy, const uint8_t* argmax, float* dx) {
    const int64_t c = in.c, oh = in.h / 2, ow = in.w / 2;
    const int64_t inSize = in.size(), outSize = oh * ow * c;
    if (in.h % 2 || in.w % 2) { // a last row or column no window covers: the reference clears it
        tbb::parallel_for(int32_t(0), n, [&](int32_t b) {
            ref::maxpool_backward(in, 1, dy + b * outSize, argmax + b * outSize, dx + b * inSize);
        });
        return;
    }
    // Every input position belongs to exactly one window: written once, no clearing pass.
    const int64_t w = in.w;
    tbb::parallel_for(int32_t(0), n, [=](int32_t b) {
        for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox) {
                float* q0 = dx + b * inSize + ((2 * oy) * w + 2 * ox) * c;
                const int64_t o = b * outSize + (oy * ow + ox) * c;
                maxpoolRouteRow(dy + o, argmax + o, q0, q0 + c, q0 + w * c, q0 + w * c + c, c);
            }
    });
}

namespace {
constexpr int64_t kElementChunk = 16384;
template <typename F> void perChunk(int64_t count, F&& f) {
    tbb::parallel_for(int64_t(0), (count + kElementChunk - 1) / kElementChunk, [&](int64_t c) {
        const int64_t i = c * kElementChunk;
        f(i, std::min(kElementChunk, count - i));
    });
}
} // namespace

void relu_forward_fast(int64_t count, const float* x, float* y) {
    perChunk(count, [&](int64_t i, int64_t m) { ref::relu_forward(m, x + i, y + i); });
}

void relu_backward_fast(int64_t count, const float* x, const float* dy, float* dx) {
    perChunk(count, [&](int64_t i, int64_t m) { ref::relu_backward(m, x + i, dy + i, dx + i); });
}

void bias_gradient(int64_t rows, int32_t out, const float* dy, float* dbias) {
    if (!dbias) return;
    tbb::parallel_for(int32_t(0), out, [&](int32_t o) {
        double s = 0;
        for (int64_t r = 0; r < rows; ++r) s += double(dy[r * out + o]);
        dbias[o] = float(s);
    });
}

void conv_forward_fast(const ref::ConvGeometry& g, int32_t n, const float* x, const float* w, const float* bias,
                       float* col, float* y) {
    const int64_t K = int64_t(g.kernel) * g.kernel * g.inC;
    const int64_t rows = int64_t(n) * g.outH * g.outW;
    im2col(g, n, x, col);
    sgemm_nt(rows, g.outC, K, col, w, y);
    addBias(rows, g.outC, bias, y);
}

void conv_backward_fast(const ref::ConvGeometry& g, int32_t n, const float* col, const float* w, const float* dy,
                        float* dcol, float* dx, float* dw, float* dbias) {
    const int64_t K = int64_t(g.kernel) * g.kernel * g.inC;
    const int64_t rows = int64_t(n) * g.outH * g.outW;
    sgemm_tn(g.outC, K, rows, dy, col, dw);
    bias_gradient(rows, g.outC, dy, dbias);
    if (!dx) return;
    sgemm_nn(rows, K, g.outC, dy, w, dcol);
    col2im(g, n, dcol, dx);
}

void fc_forward_fast(int32_t n, int64_t K, int32_t out, const float* x, const float* w, const float* bias, float* y) {
    sgemm_nt(n, out, K, x, w, y);
    addBias(n, out, bias, y);
}

void fc_backward_fast(int32_t n, int64_t K, int32_t out, const float* x, const float* w, const float* dy, float* dx,
                      float* dw, float* dbias) {
    sgemm_tn(out, K, n, dy, x, dw);
    bias_gradient(n, out, dy, dbias);
    if (dx) sgemm_nn(n, K, out, dy, w, dx);
}

} // namespace bitbench::graph_exec
