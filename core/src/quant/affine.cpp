// Family `affine`: min/max uniform quantization (ALGORITHMS.md §2, Banner et al. 2018, read from
// the authors' code), with Banner's float zero point `min` or gemmlowp's integer zero point.
// See core/doc/quant/affine.md.
//
//   scale = max((max - min) / (2^M - 1), 1e-8)          (float, as the authors' float32 code)
//   v = (x - offset) / scale + zero                     (float)
//   stochastic: v += U(-0.5, 0.5)                       (double, RandomPurpose::QuantNoise)
//   code = rne(clamp(v, 0, 2^M - 1))                    (clamp before round; apply counts the
//                                                        v below 0 and above 2^M - 1: QuantClamps)
//   x_hat = float(code - zero) * scale + offset
// Banner: offset = min, zero = 0. Integer zero point: [min, max] widened to contain 0, offset 0,
// zero = clamp(rne(-min / scale), 0, 2^M - 1), so 0 is exactly a code (u8 codes at M = 8).
// Symmetric: m = max(|min|, |max|), scale = max(m / (2^(M-1) - 1), 1e-8), offset 0,
// zero = 2^(M-1), codes clamped to 1 .. 2^M - 1 (code - zero is a signed M-bit integer).
// Running ranges (Banner's activations): min and max are the means over samples (rows) of each
// sample's min and max; training updates r = (1 - param) r + param * batch, evaluation uses r.
// Backward: straight-through, no clip mask.
#include "quant/quant_impl.h"

#include <atomic>

namespace bitbench::quant {

namespace {

template <class Out>
void affine_each(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                 const QuantDraws& d, QuantClamps* cl, Out out) {
    // Codes clamped to the plan's codeLo..codeHi (0 .. 2^M - 1, or from 1 when symmetric).
    const double lo = plan.groups.empty() ? 0.0 : double(plan.groups[0].codeLo);
    const double qmax = double((int64_t(1) << q.bits) - 1);
    auto v = [&](int64_t i, int64_t g) {
        const QuantGroup& G = plan.groups[size_t(g)];
        return (x.data[i] - G.offset) / G.scale + float(G.zero);
    };
    // The code of t, counted when it lies outside the codes (the count changes nothing).
    auto code = [&](double t, int64_t& below, int64_t& above) {
        below += t < lo;
        above += t > qmax;
        return int32_t(fx_rne_small(std::clamp(t, lo, qmax)));
    };
    if (x.axis == GroupAxis::None && plan.groups.size() == 1) {
        // One group: plain loops over chunks in parallel (every element's code depends on its value
        // and its own draw only), the draws 16 Philox blocks at a time; the clamp counts are
        // integer sums, the same for any split.
        const QuantGroup G = plan.groups[0];
        const float zero = float(G.zero);
        const bool stochastic = q.rounding == Rounding::Stochastic;
        std::atomic<int64_t> belowAll{0}, aboveAll{0};
        for_chunks(x.size(), [&](int64_t i0, int64_t i1) {
            const float* src = x.data;
            int64_t below = 0, above = 0;
            if (stochastic) {
                alignas(64) uint32_t w[kQuantChunk];
                draw_words(d, RandomPurpose::QuantNoise, i0, i1 - i0, w);
                for (int64_t i = i0; i < i1; ++i)
                    out(i, 0, code(double((src[i] - G.offset) / G.scale + zero) + noise_of(w[i - i0]), below, above));
            } else {
                for (int64_t i = i0; i < i1; ++i)
                    out(i, 0, code(double((src[i] - G.offset) / G.scale + zero), below, above));
            }
            belowAll += below;
            aboveAll += above;
        });
        if (cl) *cl = {belowAll.load(), aboveAll.load(), x.size()};
        return;
    }
    int64_t below = 0, above = 0;
    if (q.rounding == Rounding::Stochastic) {
        for_each_drawn(x, d, RandomPurpose::QuantNoise, [&](int64_t i, int64_t g, uint32_t w) {
            out(i, g, code(double(v(i, g)) + noise_of(w), below, above));
        });
    } else {
        for_each(x, [&](int64_t i, int64_t g) { out(i, g, code(double(v(i, g)), below, above)); });
    }
    if (cl) *cl = {below, above, x.size()};
}

// Banner's activation range: the mean over rows (samples) of each row's min and max.
// Each row's min and max in parallel (rows are independent), the sums in row order as before.
void sample_mean_range(const TensorView& x, float& lo, float& hi) {
    std::vector<float> rowLo(size_t(x.rows)), rowHi(size_t(x.rows));
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, x.rows), [&](const tbb::blocked_range<int64_t>& rr) {
        for (int64_t r = rr.begin(); r < rr.end(); ++r) {
            const float* row = x.data + r * x.cols;
            float mn = row[0], mx = row[0];
            for (int64_t c = 1; c < x.cols; ++c) {
                mn = std::min(mn, row[c]);
                mx = std::max(mx, row[c]);
            }
            rowLo[size_t(r)] = mn;
            rowHi[size_t(r)] = mx;
        }
    });
    double sumLo = 0, sumHi = 0;
    for (int64_t r = 0; r < x.rows; ++r) {
        sumLo += rowLo[size_t(r)];
        sumHi += rowHi[size_t(r)];
    }
    lo = float(sumLo / double(x.rows));
    hi = float(sumHi / double(x.rows));
}

} // namespace

void affine_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs& args,
                    QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    std::vector<float> lo, hi;
    if (q.range == RangeSource::Running) {
        float bLo = 0, bHi = 0;
        QuantRunning& r = *args.running;
        if (args.training) {
            sample_mean_range(x, bLo, bHi);
            r.lo = float((1.0 - q.param) * double(r.lo) + q.param * double(bLo));
            r.hi = float((1.0 - q.param) * double(r.hi) + q.param * double(bHi));
        } else {
            bLo = r.lo;
            bHi = r.hi;
        }
        lo.assign(1, bLo);
        hi.assign(1, bHi);
    } else {
        group_min_max(x, lo, hi);
    }
    const int32_t qmax = int32_t((int64_t(1) << q.bits) - 1);
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        QuantGroup& G = plan.groups[g];
        float mn = lo[g], mx = hi[g];
        G.codeLo = 0;
        if (q.zeroPoint == ZeroPoint::Symmetric) {
            const float m = std::max(std::fabs(mn), std::fabs(mx));
            const int32_t half = int32_t(int64_t(1) << (q.bits - 1));
            mn = -m;
            mx = m;
            G.scale = std::max(m / float(half - 1), 1e-8f);
            G.zero = half;
            G.offset = 0;
            G.codeLo = 1;
        } else if (q.zeroPoint == ZeroPoint::Integer) {
            mn = std::min(mn, 0.0f);
            mx = std::max(mx, 0.0f);
            G.scale = std::max((mx - mn) / float(qmax), 1e-8f);
            G.zero = int32_t(std::clamp(std::nearbyint(double(-mn) / double(G.scale)), 0.0, double(qmax)));
            G.offset = 0;
        } else {
            G.scale = std::max((mx - mn) / float(qmax), 1e-8f);
            G.zero = 0;
            G.offset = mn;
        }
        G.stat = double(mx) - double(mn);
        G.codeHi = qmax;
        G.clipLo = float(G.codeLo - G.zero) * G.scale + G.offset;
        G.clipHi = float(qmax - G.zero) * G.scale + G.offset;
    }
}

void affine_apply(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                  const QuantDraws& d, float* out, QuantClamps* clamped) {
    if (plan.groups.size() == 1) {
        const QuantGroup G = plan.groups[0];
        affine_each(q, x, plan, d, clamped, [&](int64_t i, int64_t, int32_t code) {
            out[i] = float(code - G.zero) * G.scale + G.offset;
        });
        return;
    }
    affine_each(q, x, plan, d, clamped, [&](int64_t i, int64_t g, int32_t code) {
        const QuantGroup& G = plan.groups[size_t(g)];
        out[i] = float(code - G.zero) * G.scale + G.offset;
    });
}

void affine_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& d,
                        int32_t* codes) {
    affine_each(q, x, plan, d, nullptr, [&](int64_t i, int64_t, int32_t code) { codes[i] = code; });
}

void affine_backward(const Quantizer&, const TensorView& x, const QuantPlan&, const float* dq, float* dx,
                     QuantParamGrads*) {
    copy_floats(dq, dx, x.size());
}

} // namespace bitbench::quant
