// Family `ternary`: TWN ternary weights (ALGORITHMS.md §6, Li and Liu, read from caffe-twns).
// See core/doc/quant/ternary.md.
//
//   Delta = param * mean|W|  (param 0.7; the mean summed in double in element order)
//   t = 1[W > Delta] - 1[W < -Delta]
//   alpha = mean |W| over the support (t != 0), 0 for an empty support
//   forward alpha t; backward straight-through to the float W (no latent clip).
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

template <class Out> void ternary_each(const TensorView& x, const QuantPlan& plan, Out out) {
    for_each(x, [&](int64_t i, int64_t g) {
        const double v = x.data[i], d = plan.groups[size_t(g)].threshold;
        out(i, g, int32_t(v > d) - int32_t(v < -d));
    });
}

} // namespace

void ternary_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&,
                     QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    std::vector<double> mean;
    group_mean_abs(x, mean);
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        plan.groups[g].stat = mean[g];
        plan.groups[g].threshold = q.param * mean[g];
    }
    std::vector<double> sum(plan.groups.size(), 0.0);
    std::vector<int64_t> count(plan.groups.size(), 0);
    ternary_each(x, plan, [&](int64_t i, int64_t g, int32_t t) {
        sum[size_t(g)] += t ? std::fabs(double(x.data[i])) : 0.0;
        count[size_t(g)] += t != 0;
    });
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        QuantGroup& G = plan.groups[g];
        const float alpha = count[g] ? float(sum[g] / double(count[g])) : 0.0f;
        G.scale = G.pos = G.neg = alpha;
        G.codeLo = -1;
        G.codeHi = 1;
        G.clipLo = -alpha;
        G.clipHi = alpha;
    }
}

void ternary_apply(const Quantizer&, const TensorView& x, const QuantPlan& plan, const QuantDraws&,
                   float* out, QuantClamps*) {
    ternary_each(x, plan, [&](int64_t i, int64_t g, int32_t t) { out[i] = float(t) * plan.groups[size_t(g)].scale; });
}

void ternary_apply_codes(const Quantizer&, const TensorView& x, const QuantPlan& plan, const QuantDraws&,
                         int32_t* codes) {
    ternary_each(x, plan, [&](int64_t i, int64_t, int32_t t) { codes[i] = t; });
}

void ternary_backward(const Quantizer&, const TensorView& x, const QuantPlan&, const float* dq, float* dx,
                      QuantParamGrads*) {
    copy_floats(dq, dx, x.size());
}

} // namespace bitbench::quant
