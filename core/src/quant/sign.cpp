// Family `sign`: BinaryConnect / BinaryNet binarization with H = 1 (ALGORITHMS.md §6, read from
// the authors' code). See core/doc/quant/sign.md.
//
//   deterministic: +1 if x >= 0 else -1                       (BC: p >= 0.5 iff W >= 0; sign(0) = +1)
//   stochastic:    +1 if u < p else -1, p = clip((x + 1) / 2, 0, 1), u = word 2^-32 (RandomPurpose::StochasticSign)
//   backward:      W straight-through (BC); A g 1[|x| <= 1] (BNN's activations)
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

template <class Out> void sign_each(const Quantizer& q, const TensorView& x, const QuantDraws& d, Out out) {
    if (q.rounding == Rounding::Stochastic) {
        for_each_drawn(x, d, RandomPurpose::StochasticSign, [&](int64_t i, int64_t, uint32_t w) {
            const double p = std::clamp((double(x.data[i]) + 1.0) * 0.5, 0.0, 1.0);
            out(i, unit_of(w) < p ? 1 : -1);
        });
        return;
    }
    for_each(x, [&](int64_t i, int64_t) { out(i, x.data[i] >= 0.0f ? 1 : -1); });
}

} // namespace

void sign_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&, QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    for (QuantGroup& G : plan.groups) {
        G.scale = 1;
        G.codeLo = -1;
        G.codeHi = 1;
        G.clipLo = -1;
        G.clipHi = 1;
    }
}

void sign_apply(const Quantizer& q, const TensorView& x, const QuantPlan&, const QuantDraws& d,
                float* out, QuantClamps*) {
    sign_each(q, x, d, [&](int64_t i, int32_t code) { out[i] = float(code); });
}

void sign_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan&, const QuantDraws& d, int32_t* codes) {
    sign_each(q, x, d, [&](int64_t i, int32_t code) { codes[i] = code; });
}

void sign_backward(const Quantizer&, const TensorView& x, const QuantPlan& plan, const float* dq, float* dx,
                   QuantParamGrads*) {
    if (plan.cls != QuantClass::A) {
        copy_floats(dq, dx, x.size());
        return;
    }
    for_each(x, [&](int64_t i, int64_t) { dx[i] = std::fabs(x.data[i]) <= 1.0f ? dq[i] : 0.0f; });
}

} // namespace bitbench::quant
