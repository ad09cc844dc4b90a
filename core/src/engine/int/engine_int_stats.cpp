// Integer engine, statistics: per layer and class, values before quantization against their codes.
#include "engine/int/engine_int_impl.h"

#include <cmath>

namespace bitbench::int_detail {

void IntEngine::collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const {
    for (const auto& L : m_layers) {
        const int32_t i = L.index;
        // W: C(W_latent) in real units -> Q_W code * sigma(kW) (before the 1/alpha scale).
        {
            const double latentUnit = std::ldexp(1.0, 1 - L.kL), qUnit = std::ldexp(1.0, 1 - L.b.w());
            const double lim = double(L.latentBound) * latentUnit;
            StatsBuilder sb(bins, -lim, lim, qUnit);
            for (size_t j = 0; j < L.wLat.size(); ++j) sb.add(double(L.wLat[j]) * latentUnit, double(L.wq[j]) * qUnit);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::W, L.b.w()));
        }
        // A: the block output before Q_A (after relu) against its code.
        if (L.d.quantizeOutput) {
            const double unit = std::ldexp(1.0, L.accExp), qUnit = std::ldexp(1.0, 1 - L.b.a());
            const double lim = double(fx_max_code(L.b.a())) * qUnit;
            StatsBuilder sb(bins, L.d.relu ? 0.0 : -lim, lim, qUnit);
            const int32_t* v = L.blockOut();
            const size_t n = L.out.size();
            for (size_t j = 0; j < n; ++j) {
                const int64_t x = L.d.relu && v[j] < 0 ? 0 : v[j];
                sb.add(double(x) * unit, double(L.out[j]) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::A, L.b.a()));
        }
        // G: lr * g / Shift(max|g|) against the applied update n * sigma(kG).
        {
            const double qUnit = std::ldexp(1.0, 1 - L.b.g());
            const double lr = double(L.lrQ) / 65536.0;
            const double gUnit = L.gZero ? 0.0 : lr * std::ldexp(1.0, -L.gShift);
            StatsBuilder sb(bins, -INFINITY, INFINITY, qUnit);
            for (size_t j = 0; j < L.dw.size(); ++j) {
                const double g = L.wideE ? double(L.g64[j]) : double(L.g[j]);
                sb.add(g * gUnit * qUnit, double(L.dw[j]) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::G, L.b.g()));
        }
        // E: e / Shift(max|e|) against its code (at the block output, after the clip mask).
        {
            const double qUnit = std::ldexp(1.0, 1 - L.b.e());
            const double lim = double(fx_max_code(L.b.e())) * qUnit;
            const double eUnit = L.eZero ? 0.0 : std::ldexp(1.0, -L.eShift);
            StatsBuilder sb(bins, -lim, lim, qUnit);
            const int32_t sh = L.eShift - (L.b.e() - 1);
            const int64_t maxE = fx_max_code(L.b.e());
            for (size_t j = 0; j < L.eIn.size(); ++j) {
                const int64_t code = L.eZero ? 0 : fx_clip(fx_shift_rne(L.eIn[j], sh), maxE);
                sb.add(double(L.eIn[j]) * eUnit, double(code) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::E, L.b.e()));
        }
    }
}

} // namespace bitbench::int_detail
