// Adam with L2 weight decay, as PyTorch 1.13's torch.optim.Adam (amsgrad off) on the CPU.
#include "optim/solver_impl.h"

#include <cmath>

namespace bitbench {

namespace {

// Step t (from 1), in double as PyTorch computes its Python scalars:
//   bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, stepSize = lr / bc1, bc2Sqrt = sqrt(bc2)
// then float32 per element, rounding where ATen's CPU kernels round:
//   g = fma(wd, p, g)                       grad.add(param, alpha=wd)      (if wd != 0)
//   m = fma(1 - beta1, g, m * beta1)        exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
//   v = v * beta2 + ((1 - beta2) * g) * g   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
//   d = sqrt(v) / bc2Sqrt + eps             (exp_avg_sq.sqrt() / bc2Sqrt).add_(eps)
//   p = p + (-stepSize * m) / d             param.addcdiv_(exp_avg, denom, value=-stepSize)
// Every scalar (beta1, 1 - beta1, ..., -stepSize) is rounded to float once, as Scalar::to<float>.
// addcmul and addcdiv multiply and divide left to right with a rounding each; only add with
// alpha is fused (vec::fmadd). This file is built with -ffp-contract=off.
// PyTorch 1.13 counts t in a float32 tensor, exact up to 2^24 steps; we count in int64.
class AdamSolver final : public Solver {
public:
    AdamSolver(const OptimizerConfig& c, int64_t n)
        : Solver(SolverKind::Adam, n), m_beta1(c.beta1), m_beta2(c.beta2), m_eps(c.eps), m_weightDecay(c.weightDecay),
          m_m(size_t(n), 0.0f), m_v(size_t(n), 0.0f) {}

protected:
    void step(float* p, const float* g, double lr, SolverStep) override {
        const double t = double(m_t + 1);
        const double bc1 = 1 - std::pow(m_beta1, t), bc2 = 1 - std::pow(m_beta2, t);
        const float negStep = float(-(lr / bc1)), bc2Sqrt = float(std::sqrt(bc2));
        const float b1 = float(m_beta1), c1 = float(1 - m_beta1), b2 = float(m_beta2), c2 = float(1 - m_beta2);
        const float eps = float(m_eps), wd = float(m_weightDecay);
        const bool decay = m_weightDecay != 0;
        float* m = m_m.data();
        float* v = m_v.data();
        solver_chunks(m_n, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                const float gi = decay ? std::fma(wd, p[i], g[i]) : g[i];
                const float mi = std::fma(c1, gi, m[i] * b1);
                const float vi = v[i] * b2 + c2 * gi * gi;
                const float d = std::sqrt(vi) / bc2Sqrt + eps;
                m[i] = mi;
                v[i] = vi;
                p[i] = p[i] + negStep * mi / d;
            }
        });
    }

    // Payload: exp_avg (m), then exp_avg_sq (v).
    std::vector<const std::vector<float>*> stateArrays() const override { return {&m_m, &m_v}; }
    int32_t stateArrayCount(uint8_t flags) const override { return (Solver::stateArrayCount(flags), 2); }
    std::vector<std::vector<float>*> stateArraysFor(uint8_t) override { return {&m_m, &m_v}; }

private:
    double m_beta1, m_beta2, m_eps, m_weightDecay;
    std::vector<float> m_m, m_v;
};

} // namespace

std::unique_ptr<Solver> solver_create_adam(const OptimizerConfig& c, int64_t n) {
    return std::make_unique<AdamSolver>(c, n);
}

} // namespace bitbench
