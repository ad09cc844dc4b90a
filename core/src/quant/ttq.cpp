// Family `ttq` (QuantFamily::TernaryLearned): trained ternary quantization (ALGORITHMS.md §6,
// Zhu et al., read from czhu95/ternarynet). See core/doc/quant/ttq.md.
//
//   Delta = param * max|W|  (param 0.05)
//   forward +Wp where W > Delta, -Wn where W < -Delta, 0 elsewhere (Wp, Wn trained by the caller)
//   backward dL/dW = Wp g, g, Wn g on the three regions;
//            dL/dWp = sum over W > Delta of g, dL/dWn = -sum over W < -Delta of g (double, in order)
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

template <class Out> void ttq_each(const TensorView& x, const QuantPlan& plan, Out out) {
    for_each(x, [&](int64_t i, int64_t g) {
        const double v = x.data[i], d = plan.groups[size_t(g)].threshold;
        out(i, g, int32_t(v > d) - int32_t(v < -d));
    });
}

} // namespace

void ttq_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs& args,
                 QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    std::vector<double> m;
    group_max_abs(x, m);
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        QuantGroup& G = plan.groups[g];
        G.stat = m[g];
        G.threshold = q.param * m[g];
        G.pos = args.learned ? args.learned[2 * g] : 1.0f;
        G.neg = args.learned ? args.learned[2 * g + 1] : 1.0f;
        G.scale = 1;
        G.codeLo = -1;
        G.codeHi = 1;
        G.clipLo = -G.neg;
        G.clipHi = G.pos;
    }
}

void ttq_apply(const Quantizer&, const TensorView& x, const QuantPlan& plan, const QuantDraws&,
               float* out, QuantClamps*) {
    ttq_each(x, plan, [&](int64_t i, int64_t g, int32_t t) {
        const QuantGroup& G = plan.groups[size_t(g)];
        out[i] = t > 0 ? G.pos : (t < 0 ? -G.neg : 0.0f);
    });
}

void ttq_apply_codes(const Quantizer&, const TensorView& x, const QuantPlan& plan, const QuantDraws&, int32_t* codes) {
    ttq_each(x, plan, [&](int64_t i, int64_t, int32_t t) { codes[i] = t; });
}

void ttq_backward(const Quantizer&, const TensorView& x, const QuantPlan& plan, const float* dq, float* dx,
                  QuantParamGrads* grads) {
    if (grads) {
        grads->pos.assign(plan.groups.size(), 0.0);
        grads->neg.assign(plan.groups.size(), 0.0);
    }
    ttq_each(x, plan, [&](int64_t i, int64_t g, int32_t t) {
        const QuantGroup& G = plan.groups[size_t(g)];
        const float d = dq[i];
        if (grads) {
            grads->pos[size_t(g)] += t > 0 ? double(d) : 0.0;
            grads->neg[size_t(g)] -= t < 0 ? double(d) : 0.0;
        }
        dx[i] = d * (t > 0 ? G.pos : (t < 0 ? G.neg : 1.0f));
    });
}

} // namespace bitbench::quant
