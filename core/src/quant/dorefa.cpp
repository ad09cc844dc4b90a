// Family `dorefa`: DoReFa-Net's weights, activations and errors (ALGORITHMS.md §6, Zhou et al.,
// read from tensorpack's examples/DoReFa-Net/dorefa.py). See core/doc/quant/dorefa.md.
//
// n = 2^k - 1, quantize_k(v) = rne(v n) / n; computed in double, each output rounded to float once.
//   W, k > 1: t = tanh W, M = max|t| per group; c = rne((t / (2M) + 0.5) n); code = 2c - n;
//             W_q = code / n. Backward through tanh and the max (ties share the max's gradient).
//   W, k = 1: E = mean|W|; W_q = E where W >= 0 (tensorpack maps W = 0 to +E), -E elsewhere;
//             straight-through.
//   A:        c = rne(clip(x, 0, 1) n); A_q = c / n; backward keeps the mask 1[0 <= x <= 1].
//   E, EGrad: m = max|e| per group; c = rne(clip(e / (2m) + 0.5 + noise / n, 0, 1) n); code = 2c - n;
//             e_q = code m / n. noise U(-0.5, 0.5) (RandomPurpose::QuantNoise) when stochastic,
//             DoReFa's recipe; 0 when nearest.
// Stochastic rounding of W and A adds the same noise to v n before rounding.
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

// Calls out(i, g, code) with the integer code and the group's value of one code step divisor:
// the value is code * num / n with num = 1 (W, A) or m (E).
template <class Out>
void dorefa_each(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& d, Out out) {
    const double n = double((int64_t(1) << q.bits) - 1);
    const bool stochastic = q.rounding == Rounding::Stochastic;
    auto run = [&](auto code) {
        if (stochastic)
            for_each_drawn(x, d, RandomPurpose::QuantNoise,
                           [&](int64_t i, int64_t g, uint32_t w) { out(i, g, code(i, g, noise_of(w))); });
        else
            for_each(x, [&](int64_t i, int64_t g) { out(i, g, code(i, g, 0.0)); });
    };
    const QuantClass cls = plan.cls;
    if (cls == QuantClass::W && q.bits == 1) {
        for_each(x, [&](int64_t i, int64_t g) { out(i, g, x.data[i] >= 0.0f ? 1 : -1); });
    } else if (cls == QuantClass::W) {
        run([&](int64_t i, int64_t g, double u) {
            const double M = plan.groups[size_t(g)].stat;
            const double v = std::tanh(double(x.data[i])) / (2.0 * (M > 0 ? M : 1.0)) + 0.5;
            return int32_t(2.0 * std::nearbyint(std::clamp(v * n + u, 0.0, n)) - n);
        });
    } else if (cls == QuantClass::A) {
        run([&](int64_t i, int64_t, double u) {
            const double v = std::clamp(double(x.data[i]), 0.0, 1.0);
            return int32_t(std::nearbyint(std::clamp(v * n + u, 0.0, n)));
        });
    } else {
        run([&](int64_t i, int64_t g, double u) {
            const double m = plan.groups[size_t(g)].stat;
            const double v = std::clamp(double(x.data[i]) * (m > 0 ? 0.5 / m : 0.0) + 0.5 + u / n, 0.0, 1.0);
            return int32_t(2.0 * std::nearbyint(v * n) - n);
        });
    }
}

} // namespace

void dorefa_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&,
                    QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    const int32_t n = int32_t((int64_t(1) << q.bits) - 1);
    std::vector<double> stat(plan.groups.size(), 0.0);
    if (cls == QuantClass::W && q.bits == 1) {
        group_mean_abs(x, stat);
    } else if (cls == QuantClass::W) {
        for_each(x, [&](int64_t i, int64_t g) {
            stat[size_t(g)] = std::max(stat[size_t(g)], std::fabs(std::tanh(double(x.data[i]))));
        });
    } else if (cls != QuantClass::A) {
        group_max_abs(x, stat);
    }
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        QuantGroup& G = plan.groups[g];
        G.stat = stat[g];
        if (cls == QuantClass::W && q.bits == 1) {
            G.scale = float(stat[g]);
            G.codeLo = -1, G.codeHi = 1;
        } else if (cls == QuantClass::A) {
            G.scale = float(1.0 / n);
            G.codeLo = 0, G.codeHi = n;
        } else {
            G.scale = float((cls == QuantClass::W ? 1.0 : stat[g]) / n);
            G.codeLo = -n, G.codeHi = n;
        }
        // Only A and E saturate: A outside [0, 1], E nowhere inside its own [-m, m].
        if (cls == QuantClass::A) G.clipLo = 0, G.clipHi = 1;
        else if (cls != QuantClass::W) G.clipLo = -float(stat[g]), G.clipHi = float(stat[g]);
    }
}

void dorefa_apply(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                  const QuantDraws& d, float* out, QuantClamps*) {
    const double n = double((int64_t(1) << q.bits) - 1);
    const QuantClass cls = plan.cls;
    // The output formula is chosen once per tensor, outside the element loop.
    if (cls == QuantClass::W && q.bits == 1)
        dorefa_each(q, x, plan, d, [&](int64_t i, int64_t g, int32_t code) {
            out[i] = float(double(code) * plan.groups[size_t(g)].stat);
        });
    else if (cls == QuantClass::W || cls == QuantClass::A)
        dorefa_each(q, x, plan, d, [&](int64_t i, int64_t, int32_t code) { out[i] = float(double(code) / n); });
    else
        dorefa_each(q, x, plan, d, [&](int64_t i, int64_t g, int32_t code) {
            out[i] = float(double(code) * plan.groups[size_t(g)].stat / n);
        });
}

void dorefa_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& d,
                        int32_t* codes) {
    dorefa_each(q, x, plan, d, [&](int64_t i, int64_t, int32_t code) { codes[i] = code; });
}

void dorefa_backward(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const float* dq, float* dx,
                     QuantParamGrads*) {
    const QuantClass cls = plan.cls;
    if (cls == QuantClass::A) {
        for_each(x, [&](int64_t i, int64_t) {
            const float v = x.data[i];
            dx[i] = (v >= 0.0f && v <= 1.0f) ? dq[i] : 0.0f;
        });
        return;
    }
    if (cls != QuantClass::W || q.bits == 1) {
        copy_floats(dq, dx, x.size());
        return;
    }
    // W_q ~ tanh(W) / M with M = max|tanh W| (straight-through the rounding):
    //   dL/dW_i = dq_i (1 - t_i^2) / M - [|t_i| = M] sign(t_i) (1 - t_i^2) / |S| * sum_j dq_j t_j / M^2,
    // S the elements at the maximum (TensorFlow's reduce_max shares its gradient among ties).
    const size_t G = plan.groups.size();
    std::vector<double> dot(G, 0.0);
    std::vector<int64_t> ties(G, 0);
    for_each(x, [&](int64_t i, int64_t g) {
        const double t = std::tanh(double(x.data[i]));
        dot[size_t(g)] += double(dq[i]) * t;
        ties[size_t(g)] += std::fabs(t) == plan.groups[size_t(g)].stat;
    });
    for_each(x, [&](int64_t i, int64_t g) {
        const double M = plan.groups[size_t(g)].stat;
        if (M <= 0) {
            dx[i] = dq[i];
            return;
        }
        const double t = std::tanh(double(x.data[i])), dt = 1.0 - t * t;
        const double atMax = std::fabs(t) == M ? (t > 0 ? 1.0 : -1.0) / double(ties[size_t(g)]) : 0.0;
        dx[i] = float(double(dq[i]) * dt / M - atMax * dt * dot[size_t(g)] / (M * M));
    });
}

} // namespace bitbench::quant
