// Integer engine, update: Q_G with stochastic rounding from Philox lanes, the SGD step on latent codes.
#include "engine/int/engine_int_impl.h"

#include <tbb/parallel_reduce.h>

#include <algorithm>

namespace bitbench::int_detail {

using wage_kernels::kDrawBlocks;
using wage_kernels::PhiloxLanes;
using wage_kernels::UpdateParams;

// Largest |value| of a tensor, in parallel (max is exact, so any split gives the same answer).
uint64_t IntEngine::maxAbs(const int32_t* v, int64_t n) const {
    const auto maxAbsRange = m_k->maxAbs;
    return tbb::parallel_reduce(
        tbb::blocked_range<int64_t>(0, n, 16384), uint64_t(0),
        [&](const tbb::blocked_range<int64_t>& r, uint64_t m) {
            return std::max<uint64_t>(m, maxAbsRange(v + r.begin(), r.end() - r.begin()));
        },
        [](uint64_t a, uint64_t b) { return std::max(a, b); });
}

uint64_t IntEngine::maxAbs(const int64_t* v, int64_t n) const {
    const auto maxAbsRange = m_k->maxAbs64;
    return tbb::parallel_reduce(
        tbb::blocked_range<int64_t>(0, n, 16384), uint64_t(0),
        [&](const tbb::blocked_range<int64_t>& r, uint64_t m) {
            return std::max<uint64_t>(m, maxAbsRange(v + r.begin(), r.end() - r.begin()));
        },
        [](uint64_t a, uint64_t b) { return std::max(a, b); });
}

// Q_G and the SGD step: n = SR(Q(lr * g / Shift(max|g|), 16)), W <- C(W, kW) - n * sigma(kG).
void IntEngine::update(IntLayer& L, int64_t step, int64_t lrQ) {
    const int64_t total = L.N * L.K;
    const uint64_t m = L.wideE ? maxAbs(L.g64.data(), total) : maxAbs(L.g.data(), total);
    L.gZero = m == 0;
    L.lrQ = lrQ;
    if (L.gZero) {
        std::fill(L.dw.begin(), L.dw.end(), int16_t(0));
        for (auto& w : L.wLat) w = int32_t(fx_clip(w, L.latentBound));
        refreshForwardWeights(L);
        return;
    }
    L.gShift = fx_shift_exponent(m);
    const int32_t s = L.gShift + 1; // v (units 2^-15) = g * lr * 2^15 / 2^p = g * lrQ / 2^(p+1)
    const uint64_t seed = m_rng.seed();
    const PhiloxLanes lanes{uint32_t(seed), uint32_t(seed >> 32), uint32_t(L.index), uint32_t(step),
                            (uint32_t(RandomPurpose::StochasticRound) << 24) | uint32_t((uint64_t(step) >> 32) & 0xFFFFFFu)};
    constexpr int64_t chunk = 4 * kDrawBlocks;
    // A chunk whose fractions are all zero needs no draws at all.
    const UpdateParams up{L.latentBound, L.kL - L.b.g(), Requant(L.kL - L.b.w(), fx_max_code(L.b.w()))};
    const int32_t* g = L.g.data();
    const int64_t* g64 = L.g64.data();
    const bool wide = L.wideE;
    int32_t* wLat = L.wLat.data();
    int16_t* dw = L.dw.data();
    int8_t* wq = L.wq.data();
    const auto philox = m_k->philoxDraws;
    const auto updateValues = m_k->updateValues;
    const auto updateValues64 = m_k->updateValues64;
    const auto updateApply = m_k->updateApply;
    parallelRange((total + chunk - 1) / chunk, 16, [=](int64_t lo, int64_t hi) {
        alignas(64) uint32_t draws[chunk];
        alignas(64) int64_t vs[chunk];
        for (int64_t c = lo; c < hi; ++c) {
            const int64_t j0 = c * chunk, n = std::min(total, j0 + chunk) - j0;
            if (wide ? updateValues64(g64 + j0, n, lrQ, s, vs) : updateValues(g + j0, n, lrQ, s, vs)) {
                philox(lanes, uint32_t(c * kDrawBlocks), draws);
            } else {
                std::fill(draws, draws + chunk, 0u); // no fractions: draws are never compared
            }
            updateApply(vs, draws, n, up, wLat + j0, dw + j0, wq + j0);
        }
    });
    transposeForwardWeights(L);
}

} // namespace bitbench::int_detail
