// The float executor's conv and fc on im2col and exact-chain float32 products; see graph_kernels.h.
#include "engine/graph/graph_kernels.h"

#include "kernels/sgemm.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>

namespace bitbench::graph_exec {

template <typename T> void im2col(const ref::ConvGeometry& g, int32_t n, const T* x, T* col) {
    const int64_t K = int64_t(g.kernel) * g.kernel * g.inC;
    tbb::parallel_for(int64_t(0), int64_t(n) * g.outH, [&](int64_t by) {
        const int64_t b = by / g.outH, oy = by % g.outH;
        for (int64_t ox = 0; ox < g.outW; ++ox) {
            T* dst = col + ((b * g.outH + oy) * g.outW + ox) * K;
            for (int32_t ky = 0; ky < g.kernel; ++ky) {
                const int64_t iy = oy * g.stride + ky - g.padTop;
                for (int32_t kx = 0; kx < g.kernel; ++kx) {
                    const int64_t ix = ox * g.stride + kx - g.padLeft;
                    T* t = dst + (int64_t(ky) * g.kernel + kx) * g.inC;
                    if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) std::fill(t, t + g.inC, T(0));
                    else std::memcpy(t, x + ((b * g.inH + iy) * g.inW + ix) * g.inC, size_t(g.inC) * sizeof(T));
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
