// The quantizers' draws in batches (quant_impl.h, draw_words): the integer engine's Philox lanes.
#include "quant/quant_impl.h"

#include "bitbench/gemm.h"
#include "kernels/wage_kernels.h"

namespace bitbench::quant {

void draw_words(const QuantDraws& d, RandomPurpose p, int64_t first, int64_t n, uint32_t* out) {
    // Random::block's counter: (block, tensor, low 32 bits of the step, purpose << 24 | bits 32..55).
    const uint64_t seed = d.rng->seed();
    const wage_kernels::PhiloxLanes lanes{uint32_t(seed), uint32_t(seed >> 32), d.tensor, uint32_t(d.step),
                                          (uint32_t(p) << 24) | uint32_t((d.step >> 32) & 0xFFFFFFu)};
    const wage_kernels::Kernels& k = wage_kernels::kernels_for(gemm_isa_active());
    const uint32_t block0 = uint32_t(uint64_t(first) >> 2);
    constexpr int64_t kWords = 4 * wage_kernels::kDrawBlocks;
    for (int64_t j = 0; j < n; j += kWords) k.philoxDraws(lanes, block0 + uint32_t(j >> 2), out + j);
}

} // namespace bitbench::quant
