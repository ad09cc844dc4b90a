// SGD with momentum, Nesterov and weight decay, as PyTorch 1.13's torch.optim.SGD on the CPU.
#include "bitbench/error.h"
#include "optim/solver_impl.h"

#include <cmath>

namespace bitbench {

namespace {

// Float32 per element, rounding where ATen's CPU kernels round (dampening 0):
//   d   = fma(wd, p, g)                 grad.add(param, alpha=wd): vec::fmadd, one rounding
//   buf = d (first step), else buf * m + d
//                                       buf.mul_(m) rounds, then add_(d, alpha=1) rounds
//   d   = nesterov ? fma(m, buf, d) : buf
//   p   = fma(-lr, d, p)                param.add_(d, alpha=-lr)
// Scalars are rounded to float first (Scalar::to<float>), as ATen does. The fused steps are the
// AVX2/AVX-512 paths of ATen's add kernel; its scalar loop (at most 15 trailing elements of a
// contiguous tensor) may round the product separately. This file is built with
// -ffp-contract=off, so no other expression is fused.
class SgdSolver final : public Solver {
public:
    SgdSolver(const OptimizerConfig& c, int64_t n)
        : Solver(SolverKind::Sgd, n), m_momentum(float(c.momentum)), m_weightDecay(float(c.weightDecay)),
          m_nesterov(c.nesterov), m_useMomentum(c.momentum != 0), m_useDecay(c.weightDecay != 0) {}

protected:
    void step(float* p, const float* g, double lr, SolverStep) override {
        const float negLr = -float(lr);
        const float mom = m_momentum, wd = m_weightDecay;
        const bool decay = m_useDecay, nesterov = m_nesterov;
        if (!m_useMomentum) {
            solver_chunks(m_n, [&](int64_t lo, int64_t hi) {
                for (int64_t i = lo; i < hi; ++i) {
                    const float d = decay ? std::fma(wd, p[i], g[i]) : g[i];
                    p[i] = std::fma(negLr, d, p[i]);
                }
            });
            return;
        }
        const bool first = !m_hasBuf;
        if (first) m_buf.assign(size_t(m_n), 0.0f);
        float* buf = m_buf.data();
        solver_chunks(m_n, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                const float d = decay ? std::fma(wd, p[i], g[i]) : g[i];
                const float b = first ? d : buf[i] * mom + d;
                buf[i] = b;
                p[i] = std::fma(negLr, nesterov ? std::fma(mom, b, d) : b, p[i]);
            }
        });
        m_hasBuf = true;
    }

    // Flag bit 0: the momentum buffer exists (PyTorch creates it on the first step with momentum).
    uint8_t stateFlags() const override { return m_hasBuf ? 1 : 0; }
    std::vector<const std::vector<float>*> stateArrays() const override {
        if (m_hasBuf) return {&m_buf};
        return {};
    }
    int32_t stateArrayCount(uint8_t flags) const override {
        if (flags > 1) throw DataError("solver state: flags " + std::to_string(flags) + " mean nothing to the sgd solver");
        return flags;
    }
    std::vector<std::vector<float>*> stateArraysFor(uint8_t flags) override {
        m_hasBuf = flags == 1;
        if (!m_hasBuf) {
            m_buf.clear();
            return {};
        }
        return {&m_buf};
    }

private:
    float m_momentum, m_weightDecay;
    bool m_nesterov, m_useMomentum, m_useDecay;
    bool m_hasBuf = false;
    std::vector<float> m_buf;
};

} // namespace

std::unique_ptr<Solver> solver_create_sgd(const OptimizerConfig& c, int64_t n) {
    return std::make_unique<SgdSolver>(c, n);
}

} // namespace bitbench
