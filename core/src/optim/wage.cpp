// The WAGE solver on float latent weights: Q_G, stochastic rounding and the clipped SGD step,
// bit-identical to the float engine's update (core/src/engine/float/engine_float.cpp).
#include "bitbench/error.h"
#include "bitbench/philox.h"
#include "optim/solver_impl.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace bitbench {

namespace {

// Shift(m) = 2^round(log2 m) as an exponent, the sqrt(2) boundary decided exactly (m > 0).
int32_t shiftExponent(double m) {
    int e;
    const double f = std::frexp(m, &e); // m = f 2^e, f in [0.5, 1)
    return f * f >= 0.5 ? e : e - 1;
}

// Quantized G (kG >= 1), per element j of the tensor, in this order and precision:
//   s  = 2^-Shift(max|g|) as float (0 when every g is 0)
//   x  = double(g) * s
//   v  = nearbyint(lr * x * 32768) as int64      Q(lr x, 16): a count of 2^-15
//   n  = sign(v) (|v| >> 15 + [draw >> 17 < |v| & 0x7FFF])
//        draw = word j % 4 of Random(seed).block(StochasticRound, step, tensor id, j / 4)
//   w  = float(double(C(w, kW)) - n * 2^(1-kG))
// Float G (kG = 0): w = C(w, kW) - float(lr) * g in float32, lr being the caller's float step
// (the float engine passes lr_float * lr(epoch) / lr(0)). kW = 0: no clip.
// The latent weights stay on the 2^(1-max(kW, kG)) grid when they start on it, which is what
// makes this rule equal to the integer engine's (core/doc/wage.md).
class WageSolver final : public Solver {
public:
    WageSolver(int64_t n, const SolverTensor& t) : Solver(SolverKind::Wage, n), m_tensor(t), m_rng(t.seed) {}

protected:
    void step(float* w, const float* g, double lr, SolverStep at) override {
        const int32_t kW = m_tensor.bitsW, kG = m_tensor.bitsG;
        const float lim = kW ? 1.0f - std::ldexp(1.0f, 1 - kW) : 0.0f;
        auto clipW = [=](float x) { return kW ? std::clamp(x, -lim, lim) : x; };
        if (!kG) {
            const float stepF = float(lr);
            solver_chunks(m_n, [&](int64_t lo, int64_t hi) {
                for (int64_t j = lo; j < hi; ++j) {
                    const float dw = stepF * g[j];
                    w[j] = clipW(w[j]) - dw;
                }
            });
            return;
        }
        // The 2^-16 rule: only here, where Q_G needs it (the integer engine computes with
        // lr * 2^16 as an integer); experiment_validate still checks it for every experiment.
        const double scaled = lr * 65536.0;
        if (!(lr >= 0) || lr >= 32768.0 || scaled != std::floor(scaled))
            throw InputError("wage solver: learning rate " + std::to_string(lr) +
                             " is not a multiple of 2^-16 in [0, 2^15), which Q_G needs (e.g. 8, 1, 0.125)");
        float m = 0;
        for (int64_t j = 0; j < m_n; ++j) m = std::max(m, std::abs(g[j]));
        const float scale = m > 0 ? std::ldexp(1.0f, -shiftExponent(m)) : 0.0f;
        const double sigmaG = std::ldexp(1.0, 1 - kG);
        const uint64_t stepKey = uint64_t(at.step);
        solver_chunks(m_n, [&](int64_t lo, int64_t hi) {
            // Chunks start at multiples of 4, so each draw block lies in one chunk.
            for (int64_t blk = lo / 4; blk < (hi + 3) / 4; ++blk) {
                const PhiloxBlock r = m_rng.block(RandomPurpose::StochasticRound, stepKey, m_tensor.id, uint32_t(blk));
                for (int64_t j = blk * 4; j < std::min(hi, blk * 4 + 4); ++j) {
                    const double x = double(g[j]) * scale;
                    const auto v = int64_t(std::nearbyint(lr * x * 32768.0));
                    const int64_t av = v < 0 ? -v : v;
                    const int64_t nAbs = (av >> 15) + ((r[size_t(j & 3)] >> 17) < uint32_t(av & 0x7FFF) ? 1 : 0);
                    const double dw = double(v < 0 ? -nAbs : nAbs) * sigmaG;
                    w[j] = float(double(clipW(w[j])) - dw);
                }
            }
        });
    }

private:
    SolverTensor m_tensor;
    Random m_rng;
};

} // namespace

std::unique_ptr<Solver> solver_create_wage(int64_t n, const SolverTensor& t) {
    if (t.bitsW < 0 || t.bitsW > 16) throw InputError("wage solver: bits W " + std::to_string(t.bitsW) + " not in 0..16");
    if (t.bitsG < 0 || t.bitsG > 16) throw InputError("wage solver: bits G " + std::to_string(t.bitsG) + " not in 0..16");
    return std::make_unique<WageSolver>(n, t);
}

} // namespace bitbench
