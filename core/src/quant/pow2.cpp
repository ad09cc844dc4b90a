// Family `pow2`: power-of-two fixed point with a per-group fractional length, so every rescale
// is a shift (ALGORITHMS.md §5, Geng et al. 2019, our reading). See core/doc/quant/pow2.md.
//
//   f = (k - 1) - ceil(log2 max|t|),  code = clip(rne(t 2^f), -2^(k-1), 2^(k-1) - 1),  t_q = code 2^-f.
// Stochastic rounding adds U(-0.5, 0.5) (RandomPurpose::QuantNoise) to t 2^f before rounding.
// Backward is straight-through without a mask (the range comes from the tensor's own maximum).
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

template <class Out>
void pow2_each(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& d, Out out) {
    std::vector<Pow2Factors> f(plan.groups.size());
    for (size_t g = 0; g < f.size(); ++g) f[g] = pow2_factors(plan.groups[g].exponent);
    const double lo = plan.groups[0].codeLo, hi = plan.groups[0].codeHi;
    if (q.rounding == Rounding::Stochastic) {
        for_each_drawn(x, d, RandomPurpose::QuantNoise, [&](int64_t i, int64_t g, uint32_t w) {
            const float v = x.data[i] * f[size_t(g)].a * f[size_t(g)].b;
            out(i, g, int32_t(std::clamp(std::nearbyint(double(v) + noise_of(w)), lo, hi)));
        });
        return;
    }
    for_each(x, [&](int64_t i, int64_t g) {
        const float v = x.data[i] * f[size_t(g)].a * f[size_t(g)].b;
        out(i, g, int32_t(std::clamp(double(std::nearbyint(v)), lo, hi)));
    });
}

} // namespace

void pow2_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&, QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    std::vector<double> m;
    group_max_abs(x, m);
    const int32_t k = q.bits;
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        QuantGroup& G = plan.groups[g];
        G.stat = m[g];
        // An all-zero group: any f gives zeros; k - 1 is what max|t| = 1 would give.
        G.exponent = m[g] > 0 ? (k - 1) - ceil_log2(m[g]) : k - 1;
        G.scale = std::ldexp(1.0f, -G.exponent);
        G.codeLo = -(int32_t(1) << (k - 1));
        G.codeHi = (int32_t(1) << (k - 1)) - 1;
        G.clipLo = float(G.codeLo) * G.scale;
        G.clipHi = float(G.codeHi) * G.scale;
    }
}

void pow2_apply(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& d,
                float* out, QuantClamps*) {
    pow2_each(q, x, plan, d,
              [&](int64_t i, int64_t g, int32_t code) { out[i] = float(code) * plan.groups[size_t(g)].scale; });
}

void pow2_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& d,
                      int32_t* codes) {
    pow2_each(q, x, plan, d, [&](int64_t i, int64_t, int32_t code) { codes[i] = code; });
}

void pow2_backward(const Quantizer&, const TensorView& x, const QuantPlan&, const float* dq, float* dx,
                   QuantParamGrads*) {
    copy_floats(dq, dx, x.size());
}

} // namespace bitbench::quant
