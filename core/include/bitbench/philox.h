// Counter-based random numbers (Philox4x32-10): every draw is a pure function of its coordinates.
#pragma once

#include <array>
#include <cstdint>

namespace bitbench {

// What a draw is for; part of the counter so streams never overlap. Values are stable on disk.
// 5-7 are the quantizer families' draws (quant.h): rounding noise U(-0.5, 0.5) of pow2, affine
// and dorefa; TernGrad's Bernoulli; stochastic sign.
enum class RandomPurpose : uint32_t {
    Init = 1,
    Shuffle = 2,
    StochasticRound = 3,
    Augment = 4,
    QuantNoise = 5,
    TernGrad = 6,
    StochasticSign = 7,
};

using PhiloxBlock = std::array<uint32_t, 4>;

// Philox4x32 with 10 rounds (Salmon et al., SC 2011), exactly as in the Random123 reference.
inline PhiloxBlock philox4x32_10(PhiloxBlock ctr, std::array<uint32_t, 2> key) {
    constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
    constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = uint64_t(kM0) * ctr[0];
        const uint64_t p1 = uint64_t(kM1) * ctr[2];
        ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1],
               uint32_t(p0)};
        key[0] += kW0;
        key[1] += kW1;
    }
    return ctr;
}

// The project's draw: the key is the 64-bit seed; the counter is
//   c0 = block (element index / 4), c1 = tensor id, c2 = low 32 bits of the step,
//   c3 = purpose << 24 | bits 32..55 of the step.
// Element i uses word i % 4 of block i / 4. See core/doc/random.md.
class Random {
public:
    explicit Random(uint64_t seed) : m_key{uint32_t(seed), uint32_t(seed >> 32)} {}

    PhiloxBlock block(RandomPurpose purpose, uint64_t step, uint32_t tensor, uint32_t block) const {
        return philox4x32_10({block, tensor, uint32_t(step), (uint32_t(purpose) << 24) | uint32_t((step >> 32) & 0xFFFFFFu)},
                             m_key);
    }
    uint32_t word(RandomPurpose purpose, uint64_t step, uint32_t tensor, uint64_t index) const {
        return block(purpose, step, tensor, uint32_t(index >> 2))[index & 3];
    }
    // Uniform integer in [0, n) by multiply-shift (n <= 2^32).
    uint32_t below(RandomPurpose purpose, uint64_t step, uint32_t tensor, uint64_t index, uint32_t n) const {
        return uint32_t((uint64_t(word(purpose, step, tensor, index)) * n) >> 32);
    }
    uint64_t seed() const { return uint64_t(m_key[0]) | (uint64_t(m_key[1]) << 32); }

private:
    std::array<uint32_t, 2> m_key;
};

} // namespace bitbench
