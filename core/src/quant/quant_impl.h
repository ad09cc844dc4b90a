// Pieces the quantizer families share: group loops, exact reductions, draws, and each family's entry points.
#pragma once

#include "bitbench/error.h"
#include "bitbench/fixed_point.h"
#include "bitbench/quant.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace bitbench::quant {

// Calls f(i, g) for every element in row-major order, i its index, g its group.
template <class F> inline void for_each(const TensorView& x, F&& f) {
    const int64_t gr = x.axis == GroupAxis::Rows, gc = x.axis == GroupAxis::Cols;
    int64_t i = 0;
    for (int64_t r = 0; r < x.rows; ++r)
        for (int64_t c = 0; c < x.cols; ++c, ++i) f(i, r * gr + c * gc);
}

// Calls f(i, g, word) with word i of the stream (one Philox block serves four elements).
// requires: d.rng != nullptr (the checked entry points make sure).
template <class F> inline void for_each_drawn(const TensorView& x, const QuantDraws& d, RandomPurpose p, F&& f) {
    PhiloxBlock b{};
    for_each(x, [&](int64_t i, int64_t g) {
        if ((i & 3) == 0) b = d.rng->block(p, d.step, d.tensor, uint32_t(uint64_t(i) >> 2));
        f(i, g, b[size_t(i & 3)]);
    });
}

// Element-wise work on [0, n) in chunks of kQuantChunk elements, f(i0, i1) per chunk, the chunks in
// parallel. Only for work whose every element depends on its index alone (its value, its draw):
// then neither the split nor the thread count changes a bit. kQuantChunk is a multiple of 64, so a
// chunk holds whole Philox blocks and whole draw_words batches.
constexpr int64_t kQuantChunk = 4096;
template <class F> inline void for_chunks(int64_t n, F&& f) {
    if (n <= kQuantChunk) {
        if (n > 0) f(int64_t(0), n);
        return;
    }
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, (n + kQuantChunk - 1) / kQuantChunk),
                      [&](const tbb::blocked_range<int64_t>& r) {
                          for (int64_t c = r.begin(); c < r.end(); ++c)
                              f(c * kQuantChunk, std::min(n, (c + 1) * kQuantChunk));
                      });
}

// out[j] = word first + j of the stream (p, d.step, d.tensor) for j < n: what for_each_drawn hands
// element first + j, computed 16 Philox blocks at a time in vector lanes (the ISA of the GEMM).
// requires: d.rng; first a multiple of 4; out holds n rounded up to a multiple of 64 words.
void draw_words(const QuantDraws& d, RandomPurpose p, int64_t first, int64_t n, uint32_t* out);

// A word as a uniform number in [0, 1): word * 2^-32 (exact in double).
inline double unit_of(uint32_t w) { return double(w) * 0x1p-32; }
// The rounding noise U(-0.5, 0.5): word * 2^-32 - 0.5, in [-0.5, 0.5).
inline double noise_of(uint32_t w) { return unit_of(w) - 0.5; }

// Resets the plan for `x`: family, class, axis, and one default group per group of the view.
inline void plan_reset(QuantPlan& plan, const Quantizer& q, QuantClass cls, const TensorView& x) {
    plan.family = q.family;
    plan.cls = cls;
    plan.axis = x.axis;
    plan.groups.assign(size_t(x.groups()), QuantGroup{});
    plan.clamped = {};
}

// max|x| per group (exact in float).
inline void group_max_abs(const TensorView& x, std::vector<double>& out) {
    out.assign(size_t(x.groups()), 0.0);
    std::vector<float> m(out.size(), 0.0f);
    for_each(x, [&](int64_t i, int64_t g) { m[size_t(g)] = std::max(m[size_t(g)], std::fabs(x.data[i])); });
    for (size_t g = 0; g < m.size(); ++g) out[g] = m[g];
}

// min and max per group (exact in float).
inline void group_min_max(const TensorView& x, std::vector<float>& lo, std::vector<float>& hi) {
    lo.assign(size_t(x.groups()), 0.0f);
    hi.assign(size_t(x.groups()), 0.0f);
    if (x.axis == GroupAxis::None) { // one group: no lookups, chunks in parallel
        const int64_t n = x.size();
        if (n == 0) return;
        // The sequential fold m = std::min(m, x[i]) from m = x[0] keeps the first element (in
        // index order) of least value, -0 and +0 counting as equal, skips NaNs, and stays NaN when
        // x[0] is one. Per chunk: the same fold, from x[0] for the first chunk and from the chunk's
        // first non-NaN element for the others (a NaN there would hide the chunk's values); the
        // chunks' results then folded in chunk order give the first least element of the whole,
        // i.e. the sequential result bit for bit, for any split.
        const int64_t chunks = (n + kQuantChunk - 1) / kQuantChunk;
        std::vector<float> cLo(static_cast<size_t>(chunks)), cHi(static_cast<size_t>(chunks));
        std::vector<uint8_t> any(static_cast<size_t>(chunks), 0);
        const float* v = x.data;
        for_chunks(n, [&](int64_t i0, int64_t i1) {
            const size_t c = size_t(i0 / kQuantChunk);
            int64_t i = i0;
            if (i0 > 0)
                while (i < i1 && std::isnan(v[i])) ++i;
            if (i == i1) return;
            any[c] = 1;
            if (std::isnan(v[i])) { // element 0: the sequential fold stays NaN
                cLo[c] = cHi[c] = v[i];
                return;
            }
            // From a number, the fold's value is the least (greatest) number of the chunk, NaNs
            // skipped: found in 16 independent lanes (vector min/max), which order cannot change.
            // Only a zero's sign depends on order: that of the chunk's first zero.
            const int64_t start = i;
            float lo[16], hi[16];
            for (int k = 0; k < 16; ++k) lo[k] = hi[k] = v[start];
            for (++i; i + 16 <= i1; i += 16)
                for (int k = 0; k < 16; ++k) {
                    lo[k] = std::min(lo[k], v[i + k]);
                    hi[k] = std::max(hi[k], v[i + k]);
                }
            float mn = lo[0], mx = hi[0];
            for (int k = 1; k < 16; ++k) {
                mn = std::min(mn, lo[k]);
                mx = std::max(mx, hi[k]);
            }
            for (; i < i1; ++i) {
                mn = std::min(mn, v[i]);
                mx = std::max(mx, v[i]);
            }
            if (mn == 0.0f || mx == 0.0f) {
                int64_t z = start;
                while (v[z] != 0.0f) ++z; // there is one
                if (mn == 0.0f) mn = v[z];
                if (mx == 0.0f) mx = v[z];
            }
            cLo[c] = mn;
            cHi[c] = mx;
        });
        float mn = cLo[0], mx = cHi[0]; // chunk 0 always has its element 0
        for (size_t c = 1; c < size_t(chunks); ++c)
            if (any[c]) {
                mn = std::min(mn, cLo[c]);
                mx = std::max(mx, cHi[c]);
            }
        lo[0] = mn;
        hi[0] = mx;
        return;
    }
    std::vector<uint8_t> seen(lo.size(), 0);
    for_each(x, [&](int64_t i, int64_t g) {
        const float v = x.data[i];
        const size_t k = size_t(g);
        lo[k] = seen[k] ? std::min(lo[k], v) : v;
        hi[k] = seen[k] ? std::max(hi[k], v) : v;
        seen[k] = 1;
    });
}

// mean|x| per group, summed in double in element order.
inline void group_mean_abs(const TensorView& x, std::vector<double>& out) {
    out.assign(size_t(x.groups()), 0.0);
    std::vector<int64_t> n(out.size(), 0);
    for_each(x, [&](int64_t i, int64_t g) {
        out[size_t(g)] += std::fabs(double(x.data[i]));
        ++n[size_t(g)];
    });
    for (size_t g = 0; g < out.size(); ++g) out[g] = n[g] ? out[g] / double(n[g]) : 0.0;
}

// WAGE's Shift(m) = 2^round(log2 m) as the exponent, the sqrt(2) boundary decided exactly:
// m = f 2^e with f in [0.5, 1); round(log2 m) = e iff f >= sqrt(1/2) iff f^2 >= 1/2 (f^2 is
// exact in double for a float f). requires m > 0.
inline int32_t shift_exponent(double m) {
    int e = 0;
    const double f = std::frexp(m, &e);
    return f * f >= 0.5 ? e : e - 1;
}

// ceil(log2 m) for m > 0, exact.
inline int32_t ceil_log2(double m) {
    int e = 0;
    const double f = std::frexp(m, &e); // m = f 2^e, f in [0.5, 1)
    return f == 0.5 ? e - 1 : e;
}

// 2^e split into two float factors whose product is 2^e for e in [-252, 254], so x * a * b is
// exact where the result is a normal float even when 2^e itself is not a float.
struct Pow2Factors {
    float a = 1, b = 1;
};
inline Pow2Factors pow2_factors(int32_t e) {
    const int32_t e1 = std::clamp(e, -126, 127);
    return {std::ldexp(1.0f, e1), std::ldexp(1.0f, std::clamp(e - e1, -126, 127))};
}

inline void copy_floats(const float* src, float* dst, int64_t n) {
    if (src != dst) std::memcpy(dst, src, size_t(n) * sizeof(float));
}

inline bool is_error_class(QuantClass c) { return c == QuantClass::E || c == QuantClass::EGrad; }

// Entry points of each family (registry.cpp puts them in the table).
#define BITBENCH_QUANT_FAMILY(name)                                                                \
    void name##_observe(const Quantizer&, QuantClass, const TensorView&, const QuantObserveArgs&,  \
                        QuantPlan&);                                                               \
    void name##_apply(const Quantizer&, const TensorView&, const QuantPlan&, const QuantDraws&,    \
                      float*, QuantClamps*);                                                       \
    void name##_backward(const Quantizer&, const TensorView&, const QuantPlan&, const float*,      \
                         float*, QuantParamGrads*);                                                \
    void name##_apply_codes(const Quantizer&, const TensorView&, const QuantPlan&,                 \
                            const QuantDraws&, int32_t*);
BITBENCH_QUANT_FAMILY(float)
BITBENCH_QUANT_FAMILY(wage)
BITBENCH_QUANT_FAMILY(pow2)
BITBENCH_QUANT_FAMILY(affine)
BITBENCH_QUANT_FAMILY(sign)
BITBENCH_QUANT_FAMILY(ternary)
BITBENCH_QUANT_FAMILY(ttq)
BITBENCH_QUANT_FAMILY(dorefa)
BITBENCH_QUANT_FAMILY(terngrad)
#undef BITBENCH_QUANT_FAMILY

} // namespace bitbench::quant
