// Family `terngrad`: TernGrad's unbiased stochastic ternary gradients (ALGORITHMS.md §6, Wen et
// al., read from wenwei202/terngrad). See core/doc/quant/terngrad.md.
//
//   param c = 0: s = max|g| per group.
//   param c > 0: T = c * std(g) (population std around the mean, double), g' = clip(g, -T, T),
//                s = float(min(max|g|, T)) = max|g'|.
//   code = sign(g') * [u < |g'| / s], u = word 2^-32 (RandomPurpose::TernGrad); g~ = code * s.
// E[g~] = g' up to the 2^-32 grid of u. An all-zero group gives zeros (s = 0, no division).
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

template <class Out> void terngrad_each(const TensorView& x, const QuantPlan& plan, const QuantDraws& d, Out out) {
    for_each_drawn(x, d, RandomPurpose::TernGrad, [&](int64_t i, int64_t g, uint32_t w) {
        const float s = plan.groups[size_t(g)].scale;
        const float v = std::clamp(x.data[i], -s, s);
        const double p = s > 0 ? double(std::fabs(v)) / double(s) : 0.0;
        const int32_t sgn = int32_t(v > 0) - int32_t(v < 0);
        out(i, g, unit_of(w) < p ? sgn : 0);
    });
}

} // namespace

void terngrad_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&,
                      QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    const size_t G = plan.groups.size();
    std::vector<double> m;
    group_max_abs(x, m);
    std::vector<double> bound(G, 0.0);
    if (q.param > 0) {
        std::vector<double> sum(G, 0.0), sq(G, 0.0);
        std::vector<int64_t> n(G, 0);
        for_each(x, [&](int64_t i, int64_t g) {
            sum[size_t(g)] += x.data[i];
            ++n[size_t(g)];
        });
        for (size_t g = 0; g < G; ++g) sum[g] /= double(n[g]);
        for_each(x, [&](int64_t i, int64_t g) {
            const double dv = double(x.data[i]) - sum[size_t(g)];
            sq[size_t(g)] += dv * dv;
        });
        for (size_t g = 0; g < G; ++g) bound[g] = q.param * std::sqrt(sq[g] / double(n[g]));
    }
    for (size_t g = 0; g < G; ++g) {
        QuantGroup& P = plan.groups[g];
        P.threshold = bound[g];
        P.stat = q.param > 0 ? std::min(m[g], bound[g]) : m[g];
        P.scale = float(P.stat);
        P.codeLo = -1;
        P.codeHi = 1;
        P.clipLo = -P.scale;
        P.clipHi = P.scale;
    }
}

void terngrad_apply(const Quantizer&, const TensorView& x, const QuantPlan& plan,
                    const QuantDraws& d, float* out, QuantClamps*) {
    terngrad_each(x, plan, d,
                  [&](int64_t i, int64_t g, int32_t code) { out[i] = float(code) * plan.groups[size_t(g)].scale; });
}

void terngrad_apply_codes(const Quantizer&, const TensorView& x, const QuantPlan& plan, const QuantDraws& d,
                          int32_t* codes) {
    terngrad_each(x, plan, d, [&](int64_t i, int64_t, int32_t code) { codes[i] = code; });
}

void terngrad_backward(const Quantizer&, const TensorView& x, const QuantPlan&, const float* dq, float* dx,
                       QuantParamGrads*) {
    copy_floats(dq, dx, x.size());
}

} // namespace bitbench::quant
