// Family `wage`: WAGE's shift-linear quantizers Q_W, Q_A, Q_E and the scaling of Q_G
// (ALGORITHMS.md §1.1-1.2, Wu et al. 2018, read from the authors' code). See core/doc/quant/wage.md.
//
// Per class, with sigma = 2^(1-k) and C(x) = clip(x, -1 + sigma, 1 - sigma):
//   W, A:     Q(C(x)) = sigma * rne(C(x) / sigma); A's backward keeps the clip mask.
//   E, EGrad: Q(C(e / Shift(max|e|))), Shift(m) = 2^round(log2 m) per group.
//   G:        g / Shift(max|g|) only; the stochastic update belongs to the WAGE solver.
// The float operations are those of core/src/engine/float/engine_float.cpp: C and Q of a float
// times powers of two, rounded by nearbyint (ties to even).
#include "quant/quant_impl.h"

namespace bitbench::quant {

namespace {

bool scaled(QuantClass c) { return c != QuantClass::W && c != QuantClass::A; }

// The code of one element: rne(C(x * 2^-p) * 2^(k-1)) as a float holding an integer.
struct WageCode {
    float lim, up; // 1 - sigma, 2^(k-1)
    float operator()(float x, const Pow2Factors& f) const {
        return std::nearbyint(std::clamp(x * f.a * f.b, -lim, lim) * up);
    }
};

template <class Out> void wage_each(const TensorView& x, const QuantPlan& plan, int32_t bits, Out out) {
    const WageCode code{1.0f - std::ldexp(1.0f, 1 - bits), std::ldexp(1.0f, bits - 1)};
    if (!scaled(plan.cls)) {
        const Pow2Factors one{};
        for_each(x, [&](int64_t i, int64_t) { out(i, code(x.data[i], one), code.up); });
        return;
    }
    std::vector<Pow2Factors> f(plan.groups.size());
    for (size_t g = 0; g < f.size(); ++g) f[g] = pow2_factors(-plan.groups[g].exponent);
    for_each(x, [&](int64_t i, int64_t g) { out(i, code(x.data[i], f[size_t(g)]), code.up); });
}

} // namespace

void wage_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&, QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
    const int32_t k = q.bits;
    const float sigma = std::ldexp(1.0f, 1 - k);
    const int32_t maxCode = (int32_t(1) << (k - 1)) - 1;
    std::vector<double> m;
    if (scaled(cls)) group_max_abs(x, m);
    for (size_t g = 0; g < plan.groups.size(); ++g) {
        QuantGroup& G = plan.groups[g];
        G.scale = cls == QuantClass::G ? 1.0f : sigma;
        G.codeLo = -maxCode;
        G.codeHi = maxCode;
        G.clipLo = -(1.0f - sigma);
        G.clipHi = 1.0f - sigma;
        if (scaled(cls)) {
            // An all-zero group keeps exponent 0: its zeros stay zeros (no Shift of zero).
            G.stat = m[g];
            G.exponent = m[g] > 0 ? shift_exponent(m[g]) : 0;
        }
    }
}

void wage_apply(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws&,
                float* out, QuantClamps*) {
    if (plan.cls == QuantClass::G) {
        std::vector<Pow2Factors> f(plan.groups.size());
        for (size_t g = 0; g < f.size(); ++g) f[g] = pow2_factors(-plan.groups[g].exponent);
        for_each(x, [&](int64_t i, int64_t g) { out[i] = x.data[i] * f[size_t(g)].a * f[size_t(g)].b; });
        return;
    }
    wage_each(x, plan, q.bits, [&](int64_t i, float code, float up) { out[i] = code / up; });
}

void wage_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws&,
                      int32_t* codes) {
    if (plan.cls == QuantClass::G)
        throw InputError("quantizer " + q.text() +
                         ": class G has no integer codes here (WAGE's update rounding belongs to its solver)");
    wage_each(x, plan, q.bits, [&](int64_t i, float code, float) { codes[i] = int32_t(code); });
}

void wage_backward(const Quantizer&, const TensorView& x, const QuantPlan& plan, const float* dq, float* dx,
                   QuantParamGrads*) {
    if (plan.cls != QuantClass::A) {
        copy_floats(dq, dx, x.size());
        return;
    }
    const float lo = plan.groups[0].clipLo, hi = plan.groups[0].clipHi;
    for_each(x, [&](int64_t i, int64_t) {
        const float v = x.data[i];
        dx[i] = (v >= lo && v <= hi) ? dq[i] : 0.0f;
    });
}

} // namespace bitbench::quant
