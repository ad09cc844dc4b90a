// Reference conv, fc, pooling, relu and add: gather loops, one double accumulator per output.
#include "engine/reference/ref_ops.h"

#include <algorithm>
#include <cstring>

namespace bitbench::ref {

ConvGeometry conv_geometry(const OpDesc& op) {
    ConvGeometry g;
    g.inH = op.inShape.h;
    g.inW = op.inShape.w;
    g.inC = op.inShape.c;
    g.outC = op.out;
    g.kernel = op.kernel;
    g.stride = op.stride;
    if (op.same) {
        g.outH = (g.inH + g.stride - 1) / g.stride;
        g.outW = (g.inW + g.stride - 1) / g.stride;
        g.padTop = std::max((g.outH - 1) * g.stride + g.kernel - g.inH, 0) / 2;
        g.padLeft = std::max((g.outW - 1) * g.stride + g.kernel - g.inW, 0) / 2;
    } else {
        g.outH = (g.inH - g.kernel) / g.stride + 1;
        g.outW = (g.inW - g.kernel) / g.stride + 1;
    }
    return g;
}

template <typename T>
void conv_forward(const ConvGeometry& g, int32_t n, const T* x, const T* w, const T* bias, T* y) {
    const int64_t K = int64_t(g.kernel) * g.kernel * g.inC;
    for (int32_t b = 0; b < n; ++b)
        for (int32_t oy = 0; oy < g.outH; ++oy)
            for (int32_t ox = 0; ox < g.outW; ++ox) {
                T* out = y + ((int64_t(b) * g.outH + oy) * g.outW + ox) * g.outC;
                for (int32_t oc = 0; oc < g.outC; ++oc) {
                    Acc<T> s = bias ? Acc<T>(bias[oc]) : Acc<T>(0);
                    const T* wk = w + oc * K;
                    for (int32_t ky = 0; ky < g.kernel; ++ky) {
                        const int32_t iy = oy * g.stride + ky - g.padTop;
                        if (iy < 0 || iy >= g.inH) continue;
                        for (int32_t kx = 0; kx < g.kernel; ++kx) {
                            const int32_t ix = ox * g.stride + kx - g.padLeft;
                            if (ix < 0 || ix >= g.inW) continue;
                            const T* in = x + ((int64_t(b) * g.inH + iy) * g.inW + ix) * g.inC;
                            const T* wt = wk + (int64_t(ky) * g.kernel + kx) * g.inC;
                            for (int32_t c = 0; c < g.inC; ++c) s += Acc<T>(in[c]) * Acc<T>(wt[c]);
                        }
                    }
                    out[oc] = T(s);
                }
            }
}

template <typename T>
void conv_backward(const ConvGeometry& g, int32_t n, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias) {
    const int64_t K = int64_t(g.kernel) * g.kernel * g.inC;
    // dw[oc][ky][kx][c] = sum over b, oy, ox of dy[b][oy][ox][oc] x[b][iy][ix][c].
    for (int32_t oc = 0; oc < g.outC; ++oc)
        for (int32_t ky = 0; ky < g.kernel; ++ky)
            for (int32_t kx = 0; kx < g.kernel; ++kx)
                for (int32_t c = 0; c < g.inC; ++c) {
                    Acc<T> s = 0;
                    for (int32_t b = 0; b < n; ++b)
                        for (int32_t oy = 0; oy < g.outH; ++oy) {
                            const int32_t iy = oy * g.stride + ky - g.padTop;
                            if (iy < 0 || iy >= g.inH) continue;
                            for (int32_t ox = 0; ox < g.outW; ++ox) {
                                const int32_t ix = ox * g.stride + kx - g.padLeft;
                                if (ix < 0 || ix >= g.inW) continue;
                                s += Acc<T>(dy[((int64_t(b) * g.outH + oy) * g.outW + ox) * g.outC + oc]) *
                                     Acc<T>(x[((int64_t(b) * g.inH + iy) * g.inW + ix) * g.inC + c]);
                            }
                        }
                    dw[oc * K + (int64_t(ky) * g.kernel + kx) * g.inC + c] = T(s);
                }
    if (dbias)
        for (int32_t oc = 0; oc < g.outC; ++oc) {
            Acc<T> s = 0;
            for (int64_t r = 0; r < int64_t(n) * g.outH * g.outW; ++r) s += Acc<T>(dy[r * g.outC + oc]);
            dbias[oc] = T(s);
        }
    if (!dx) return;
    // dx[b][iy][ix][c] = sum over the outputs whose window covers (iy, ix) of dy w.
    for (int32_t b = 0; b < n; ++b)
        for (int32_t iy = 0; iy < g.inH; ++iy)
            for (int32_t ix = 0; ix < g.inW; ++ix)
                for (int32_t c = 0; c < g.inC; ++c) {
                    Acc<T> s = 0;
                    for (int32_t ky = 0; ky < g.kernel; ++ky) {
                        const int32_t ty = iy + g.padTop - ky;
                        if (ty < 0 || ty % g.stride) continue;
                        const int32_t oy = ty / g.stride;
                        if (oy >= g.outH) continue;
                        for (int32_t kx = 0; kx < g.kernel; ++kx) {
                            const int32_t tx = ix + g.padLeft - kx;
                            if (tx < 0 || tx % g.stride) continue;
                            const int32_t ox = tx / g.stride;
                            if (ox >= g.outW) continue;
                            const T* d = dy + ((int64_t(b) * g.outH + oy) * g.outW + ox) * g.outC;
                            const T* wt = w + (int64_t(ky) * g.kernel + kx) * g.inC + c;
                            for (int32_t oc = 0; oc < g.outC; ++oc) s += Acc<T>(d[oc]) * Acc<T>(wt[oc * K]);
                        }
                    }
                    dx[((int64_t(b) * g.inH + iy) * g.inW + ix) * g.inC + c] = T(s);
                }
}

template <typename T>
void fc_forward(int32_t n, int64_t K, int32_t out, const T* x, const T* w, const T* bias, T* y) {
    for (int32_t b = 0; b < n; ++b)
        for (int32_t o = 0; o < out; ++o) {
            Acc<T> s = bias ? Acc<T>(bias[o]) : Acc<T>(0);
            for (int64_t k = 0; k < K; ++k) s += Acc<T>(x[b * K + k]) * Acc<T>(w[o * K + k]);
            y[int64_t(b) * out + o] = T(s);
        }
}

template <typename T>
void fc_backward(int32_t n, int64_t K, int32_t out, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias) {
    for (int32_t o = 0; o < out; ++o)
        for (int64_t k = 0; k < K; ++k) {
            Acc<T> s = 0;
            for (int32_t b = 0; b < n; ++b) s += Acc<T>(dy[int64_t(b) * out + o]) * Acc<T>(x[b * K + k]);
            dw[o * K + k] = T(s);
        }
    if (dbias)
        for (int32_t o = 0; o < out; ++o) {
            Acc<T> s = 0;
            for (int32_t b = 0; b < n; ++b) s += Acc<T>(dy[int64_t(b) * out + o]);
            dbias[o] = T(s);
        }
    if (dx)
        for (int32_t b = 0; b < n; ++b)
            for (int64_t k = 0; k < K; ++k) {
                Acc<T> s = 0;
                for (int32_t o = 0; o < out; ++o) s += Acc<T>(dy[int64_t(b) * out + o]) * Acc<T>(w[o * K + k]);
                dx[b * K + k] = T(s);
            }
}

template <typename T>
void maxpool_forward(const TensorShape& in, int32_t n, const T* x, T* y, uint8_t* argmax) {
    const int32_t oh = in.h / 2, ow = in.w / 2, c = in.c;
    for (int32_t b = 0; b < n; ++b)
        for (int32_t oy = 0; oy < oh; ++oy)
            for (int32_t ox = 0; ox < ow; ++ox)
                for (int32_t ch = 0; ch < c; ++ch) {
                    uint8_t best = 0;
                    T v = x[((int64_t(b) * in.h + 2 * oy) * in.w + 2 * ox) * c + ch];
                    for (uint8_t p = 1; p < 4; ++p) {
                        const T u = x[((int64_t(b) * in.h + 2 * oy + p / 2) * in.w + 2 * ox + p % 2) * c + ch];
                        if (u > v) v = u, best = p;
                    }
                    const int64_t o = ((int64_t(b) * oh + oy) * ow + ox) * c + ch;
                    y[o] = v;
                    if (argmax) argmax[o] = best;
                }
}

template <typename T>
void maxpool_backward(const TensorShape& in, int32_t n, const T* dy, const uint8_t* argmax, T* dx) {
    const int32_t oh = in.h / 2, ow = in.w / 2, c = in.c;
    std::fill(dx, dx + int64_t(n) * in.size(), T(0));
    for (int32_t b = 0; b < n; ++b)
        for (int32_t oy = 0; oy < oh; ++oy)
            for (int32_t ox = 0; ox < ow; ++ox)
                for (int32_t ch = 0; ch < c; ++ch) {
                    const int64_t o = ((int64_t(b) * oh + oy) * ow + ox) * c + ch;
                    const int32_t p = argmax[o];
                    dx[((int64_t(b) * in.h + 2 * oy + p / 2) * in.w + 2 * ox + p % 2) * c + ch] = dy[o];
                }
}

template <typename T> void avgpool_forward(const TensorShape& in, int32_t n, const T* x, T* y) {
    const int64_t hw = int64_t(in.h) * in.w;
    for (int32_t b = 0; b < n; ++b)
        for (int32_t ch = 0; ch < in.c; ++ch) {
            double s = 0;
            for (int64_t p = 0; p < hw; ++p) s += double(x[(b * hw + p) * in.c + ch]);
            y[int64_t(b) * in.c + ch] = T(s / double(hw));
        }
}

template <typename T> void avgpool_backward(const TensorShape& in, int32_t n, const T* dy, T* dx) {
    const int64_t hw = int64_t(in.h) * in.w;
    for (int32_t b = 0; b < n; ++b)
        for (int64_t p = 0; p < hw; ++p)
            for (int32_t ch = 0; ch < in.c; ++ch)
                dx[(b * hw + p) * in.c + ch] = T(double(dy[int64_t(b) * in.c + ch]) / double(hw));
}

template <typename T> void relu_forward(int64_t count, const T* x, T* y) {
    for (int64_t i = 0; i < count; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T> void relu_backward(int64_t count, const T* x, const T* dy, T* dx) {
    for (int64_t i = 0; i < count; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

template <typename T> void add_forward(int64_t count, const T* a, const T* b, T* y) {
    for (int64_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
}

#define BITBENCH_REF_PRODUCTS(T)                                                                                     \
    template void conv_forward<T>(const ConvGeometry&, int32_t, const T*, const T*, const T*, T*);                   \
    template void conv_backward<T>(const ConvGeometry&, int32_t, const T*, const T*, const T*, T*, T*, T*);         \
    template void fc_forward<T>(int32_t, int64_t, int32_t, const T*, const T*, const T*, T*);                         \
    template void fc_backward<T>(int32_t, int64_t, int32_t, const T*, const T*, const T*, T*, T*, T*);
BITBENCH_REF_PRODUCTS(int64_t)
#undef BITBENCH_REF_PRODUCTS

#define BITBENCH_REF_LINEAR(T)                                                                                       \
    template void conv_forward<T>(const ConvGeometry&, int32_t, const T*, const T*, const T*, T*);                   \
    template void conv_backward<T>(const ConvGeometry&, int32_t, const T*, const T*, const T*, T*, T*, T*);         \
    template void fc_forward<T>(int32_t, int64_t, int32_t, const T*, const T*, const T*, T*);                         \
    template void fc_backward<T>(int32_t, int64_t, int32_t, const T*, const T*, const T*, T*, T*, T*);               \
    template void maxpool_forward<T>(const TensorShape&, int32_t, const T*, T*, uint8_t*);                            \
    template void maxpool_backward<T>(const TensorShape&, int32_t, const T*, const uint8_t*, T*);                     \
    template void avgpool_forward<T>(const TensorShape&, int32_t, const T*, T*);                                      \
    template void avgpool_backward<T>(const TensorShape&, int32_t, const T*, T*);                                     \
    template void relu_forward<T>(int64_t, const T*, T*);                                                             \
    template void relu_backward<T>(int64_t, const T*, const T*, T*);                                                  \
    template void add_forward<T>(int64_t, const T*, const T*, T*);
BITBENCH_REF_LINEAR(float)
BITBENCH_REF_LINEAR(double)
#undef BITBENCH_REF_LINEAR

} // namespace bitbench::ref
