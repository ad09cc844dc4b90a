// Integer products of the graph executor (graph_int.h): codes from quantized values, int8 or
// int16 products with exact sums, and the one rescale to float.
#include "engine/graph/graph_int.h"

#include "bitbench/fixed_point.h"
#include "bitbench/gemm.h"
#include "engine/graph/graph_kernels.h"
#include "kernels/gemm16.h"
#include "kernels/gemm_i16.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

namespace bitbench::graph_exec {

int32_t code_bound(const Quantizer& q, QuantClass cls) {
    const int64_t k = q.bits;
    int64_t b = 0;
    switch (q.family) {
    case QuantFamily::Wage: b = cls == QuantClass::G ? 0 : std::max<int64_t>(1, (int64_t(1) << (k - 1)) - 1); break;
    case QuantFamily::Pow2: b = int64_t(1) << (k - 1); break;
    case QuantFamily::Affine:
        // code - zero: within +-(2^M - 1) for an integer zero point, +-(2^(M-1) - 1) symmetric.
        b = q.zeroPoint == ZeroPoint::Symmetric ? (int64_t(1) << (k - 1)) - 1
            : q.zeroPoint == ZeroPoint::Integer ? (int64_t(1) << k) - 1
                                                : 0;
        break;
    case QuantFamily::Sign:
    case QuantFamily::Ternary:
    case QuantFamily::Terngrad: b = 1; break;
    case QuantFamily::Dorefa: b = cls == QuantClass::W && k == 1 ? 1 : (int64_t(1) << k) - 1; break;
    case QuantFamily::Float:
    case QuantFamily::TernaryLearned: b = 0; break;
    }
    return b > 32767 ? 0 : int32_t(b);
}

namespace {

template <typename C>
void fillCodes(const float* v, int64_t rows, int64_t cols, const std::vector<double>& scale, int64_t rowsPerGroup,
               int32_t bound, C* out) {
    tbb::parallel_for(int64_t(0), rows, [&](int64_t r) {
        const double inv = 1.0 / scale[size_t(rowsPerGroup ? r / rowsPerGroup : 0)];
        const float* src = v + r * cols;
        C* dst = out + r * cols;
        for (int64_t c = 0; c < cols; ++c) {
            // v = float(code * scale): v / scale is within |code| 2^-23 of the code. Rounded
            // without a call (fx_rne_small; anything beyond 2^51 clamps to the bound either way).
            const double code = fx_rne_small(double(src[c]) * inv);
            dst[c] = C(std::clamp(code, double(-bound), double(bound)));
        }
    });
}

// Sizes a work buffer to at least n elements; never shrinks it, so products of different sizes
// that share it do not clear it again every step.
template <typename T> void grow(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}

template <typename T> void widen(const std::vector<T>& in, std::vector<int64_t>& out) {
    out.resize(in.size());
    std::copy(in.begin(), in.end(), out.begin());
}
void codes64(const Codes& c, std::vector<int64_t>& out) {
    if (c.narrow()) widen(c.c8, out);
    else widen(c.c16, out);
}
// The int16 copy of a narrow operand (for a product whose other operand is wide).
const int16_t* wide(Codes& c) {
    if (!c.narrow()) return c.c16.data();
    c.c16.resize(c.c8.size());
    std::copy(c.c8.begin(), c.c8.end(), c.c16.begin());
    return c.c16.data();
}

// out[j][i] = in[i][j] for in rows x cols, in 64 x 64 tiles.
template <typename T> void transpose(const T* in, int64_t rows, int64_t cols, T* out) {
    constexpr int64_t kTile = 64;
    tbb::parallel_for(int64_t(0), (rows + kTile - 1) / kTile, [&](int64_t ti) {
        const int64_t i0 = ti * kTile, i1 = std::min(rows, i0 + kTile);
        for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
            const int64_t j1 = std::min(cols, j0 + kTile);
            for (int64_t j = j0; j < j1; ++j)
                for (int64_t i = i0; i < i1; ++i) out[j * rows + i] = in[i * cols + j];
        }
    });
}
void transposeCodes(const Codes& in, int64_t rows, int64_t cols, Codes& out) {
    out.bound = in.bound;
    out.scale = in.scale;
    if (in.narrow()) {
        out.c8.resize(in.c8.size());
        transpose(in.c8.data(), rows, cols, out.c8.data());
    } else {
        out.c16.resize(in.c16.size());
        transpose(in.c16.data(), rows, cols, out.c16.data());
    }
}

// The int8 kernels' int32 sums cannot overflow below this many terms (gemm.h).
constexpr int64_t kS8MaxTerms = 133143;

// The sums of one product: int32 from the int8 kernels, else int64.
struct Sums {
    const int32_t* s32 = nullptr;
    const int64_t* s64 = nullptr;
    int64_t operator[](int64_t i) const { return s32 ? int64_t(s32[i]) : s64[i]; }
};

// C (rows x cols) = A (rows x K) * B (cols x K)^T on the codes, on the int8 kernel when both
// are narrow and K allows it, else on the int16 kernel.
Sums productNt(int64_t rows, int64_t cols, int64_t K, Codes& a, Codes& b, IntProducts& p) {
    if (a.narrow() && b.narrow() && K <= kS8MaxTerms) {
        grow(p.acc32, size_t(rows * cols));
        gemm_s8_nt(rows, cols, K, a.c8.data(), K, b.c8.data(), K, p.acc32.data(), cols, false);
        return {p.acc32.data(), nullptr};
    }
    // int16 codes against int8 ones (u8 activations or errors minus their zero point, s8
    // weights): the int16 x int8 kernel, int32 sums, exact while K * maxA * maxB < 2^31.
    if (!a.narrow() && b.narrow() && K * int64_t(a.bound) * b.bound < (int64_t(1) << 31)) {
        if (!p.packed16) p.packed16 = std::make_shared<Gemm16PackedB>();
        gemm_s16_pack_b(cols, K, b.c8.data(), K, *p.packed16);
        grow(p.acc32, size_t(rows * cols));
        gemm_s16_nt_packed(rows, a.c16.data(), K, *p.packed16, p.acc32.data(), cols, true);
        return {p.acc32.data(), nullptr};
    }
    grow(p.acc64, size_t(rows * cols));
    gemm_i16_nt(rows, cols, K, wide(a), K, wide(b), K, p.acc64.data(), cols, a.bound, b.bound);
    return {nullptr, p.acc64.data()};
}

void im2colCodes(const ref::ConvGeometry& g, int32_t n, int64_t count, IntProducts& p) {
    p.col.bound = p.x.bound;
    p.col.scale = p.x.scale;
    if (p.x.narrow()) {
        p.col.c8.resize(size_t(count));
        im2col(g, n, p.x.c8.data(), p.col.c8.data());
    } else {
        p.col.c16.resize(size_t(count));
        im2col(g, n, p.x.c16.data(), p.col.c16.data());
    }
    p.colsReady = true;
}

double scaleOf(const Codes& c, int64_t group) { return c.scale.size() == 1 ? c.scale[0] : c.scale[size_t(group)]; }

} // namespace

void codes_from_values(const float* v, int64_t rows, int64_t cols, const QuantPlan& plan, int64_t rowsPerGroup,
                       double extra, Codes& out) {
    const size_t groups = rowsPerGroup ? size_t(rows / rowsPerGroup) : 1;
    out.scale.resize(groups);
    for (size_t g = 0; g < groups; ++g) out.scale[g] = double(plan.groups[plan.groups.size() == 1 ? 0 : g].scale) * extra;
    const size_t count = size_t(rows * cols);
    if (out.narrow()) {
        out.c8.resize(count);
        fillCodes(v, rows, cols, out.scale, rowsPerGroup, out.bound, out.c8.data());
    } else {
        out.c16.resize(count);
        fillCodes(v, rows, cols, out.scale, rowsPerGroup, out.bound, out.c16.data());
    }
}

void int_forward(const IntOperands& o, IntProducts& p, const float* bias, float* y) {
    const ref::ConvGeometry* g = o.geom;
    const int64_t rows = g ? int64_t(o.n) * g->outH * g->outW : o.n;
    const int64_t rowsPerSample = rows / o.n;
    Sums sums;
    if (o.reference) {
        codes64(p.x, p.x64);
        codes64(p.w, p.w64);
        grow(p.acc64, size_t(rows * o.out));
        sums.s64 = p.acc64.data();
        if (g) ref::conv_forward<int64_t>(*g, o.n, p.x64.data(), p.w64.data(), nullptr, p.acc64.data());
        else ref::fc_forward<int64_t>(o.n, o.K, o.out, p.x64.data(), p.w64.data(), nullptr, p.acc64.data());
    } else if (g) {
        im2colCodes(*g, o.n, rows * o.K, p);
        sums = productNt(rows, o.out, o.K, p.col, p.w, p);
    } else {
        sums = productNt(rows, o.out, o.K, p.x, p.w, p);
    }
    const int32_t out = o.out;
    tbb::parallel_for(int64_t(0), rows, [&](int64_t r) {
        const double sx = scaleOf(p.x, r / rowsPerSample);
        for (int32_t c = 0; c < out; ++c) {
            const double s = double(sums[r * out + c]) * (sx * scaleOf(p.w, c)) + (bias ? double(bias[c]) : 0.0);
            y[r * out + c] = float(s);
        }
    });
}

void int_input_grad(const IntOperands& o, IntProducts& p, float* dx) {
    const ref::ConvGeometry* g = o.geom;
    const int64_t rows = g ? int64_t(o.n) * g->outH * g->outW : o.n;
    const int64_t inPerSample = o.K / (g ? int64_t(g->kernel) * g->kernel : 1) * (g ? int64_t(g->inH) * g->inW : 1);
    const int64_t* sums = nullptr;
    if (o.reference) {
        codes64(p.e, p.e64);
        codes64(p.w, p.w64);
        const size_t inCount = size_t(int64_t(o.n) * inPerSample);
        grow(p.dx64, inCount);
        // The reference loops compute dw too; it is discarded (its input may not be coded).
        std::vector<int64_t> x(inCount), dw(size_t(int64_t(o.out) * o.K));
        if (g) ref::conv_backward<int64_t>(*g, o.n, x.data(), p.w64.data(), p.e64.data(), p.dx64.data(), dw.data(),
                                           nullptr);
        else ref::fc_backward<int64_t>(o.n, o.K, o.out, x.data(), p.w64.data(), p.e64.data(), p.dx64.data(),
                                       dw.data(), nullptr);
        sums = p.dx64.data();
    } else {
        // dcol (rows x K) = dy (rows x out) * w (out x K): the nt form against w transposed.
        transposeCodes(p.w, o.out, o.K, p.wt);
        const Sums dcol = productNt(rows, o.K, o.out, p.e, p.wt, p);
        if (g) {
            grow(p.dx64, size_t(int64_t(o.n) * inPerSample));
            if (dcol.s32) col2im(*g, o.n, dcol.s32, p.dx64.data());
            else col2im(*g, o.n, dcol.s64, p.dx64.data());
            sums = p.dx64.data();
        } else {
            sums = dcol.s32 ? nullptr : dcol.s64;
            if (!sums) {
                p.dx64.assign(dcol.s32, dcol.s32 + rows * o.K);
                sums = p.dx64.data();
            }
        }
    }
    const double sw = p.w.scale[0];
    tbb::parallel_for(int64_t(0), int64_t(o.n), [&](int64_t b) {
        const double s = scaleOf(p.e, b) * sw;
        for (int64_t i = b * inPerSample; i < (b + 1) * inPerSample; ++i) dx[i] = float(double(sums[i]) * s);
    });
}

void int_weight_grad(const IntOperands& o, IntProducts& p, Codes& e, float* dw) {
    const ref::ConvGeometry* g = o.geom;
    const int64_t rows = g ? int64_t(o.n) * g->outH * g->outW : o.n;
    Sums sums;
    if (o.reference) {
        codes64(p.x, p.x64);
        codes64(e, p.e64);
        grow(p.acc64, size_t(int64_t(o.out) * o.K));
        // The reference loops need w only for dx, which is not asked for.
        if (g) ref::conv_backward<int64_t>(*g, o.n, p.x64.data(), nullptr, p.e64.data(), nullptr, p.acc64.data(),
                                           nullptr);
        else ref::fc_backward<int64_t>(o.n, o.K, o.out, p.x64.data(), nullptr, p.e64.data(), nullptr,
                                       p.acc64.data(), nullptr);
        sums.s64 = p.acc64.data();
    } else {
        // dw (out x K) = dy^T (out x rows) * cols (rows x K): the int8 tn kernel, or the nt form
        // of both transposed.
        if (g && !p.colsReady) im2colCodes(*g, o.n, rows * o.K, p);
        Codes& cols = g ? p.col : p.x;
        if (e.narrow() && cols.narrow() && rows <= kS8MaxTerms) {
            grow(p.acc32, size_t(int64_t(o.out) * o.K));
            gemm_s8_tn(o.out, o.K, rows, e.c8.data(), o.out, cols.c8.data(), o.K, p.acc32.data(), o.K, false);
            sums.s32 = p.acc32.data();
        } else {
            // int16 codes (banner8: int16 E_grad against u8 activations minus their zero point):
            // the int16 tn kernel, int32 sums over chunks of rows short enough to fit, added in
            // int64. Exact, so equal to the int64 loops.
            if (!p.tn16) p.tn16 = std::make_shared<Gemm16Workspace>();
            grow(p.acc64, size_t(int64_t(o.out) * o.K));
            const int16_t* ec = wide(e);
            const int16_t* xc = wide(cols);
            gemm_s16_tn(o.out, o.K, rows, ec, o.out, xc, o.K, p.acc64.data(), o.K, false, std::max(1, e.bound),
                        std::max(1, cols.bound), *p.tn16);
            sums.s64 = p.acc64.data();
        }
    }
    const double s = e.scale[0] * p.x.scale[0];
    tbb::parallel_for(int64_t(0), int64_t(o.out), [&](int64_t c) {
        for (int64_t k = 0; k < o.K; ++k) dw[c * o.K + k] = float(double(sums[c * o.K + k]) * s);
    });
}

} // namespace bitbench::graph_exec
