// Synthetic trainer events for the store tests: deterministic, with every field set.
#pragma once

#include "bitbench/observer.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace bitbench::test {

inline StepMetrics syntheticStep(int64_t step, int32_t epoch, double salt = 0) {
    StepMetrics m;
    m.step = step;
    m.epoch = epoch;
    m.loss = 2.0 / double(step + 1) + salt;
    m.error = 0.5 / double(step + 2);
    m.learningRate = step < 100 ? 1.0 : 0.125;
    m.imagesPerSecond = 14000.0 + double(step % 7);
    return m;
}

// `layers` weight layers x the four classes, each with a value and an error histogram.
inline std::vector<TensorStats> syntheticStats(int64_t step, int layers = 2, int bins = 64) {
    std::vector<TensorStats> out;
    for (int l = 0; l < layers; ++l) {
        for (int c = 0; c < 4; ++c) {
            TensorStats s;
            s.step = step;
            s.layer = l;
            s.layerName = (l == 0 ? "conv" : "fc") + std::to_string(l + 1);
            s.cls = TensorClass(c);
            s.bits = c == 0 ? 2 : 8;
            s.quantStep = std::ldexp(1.0, 1 - s.bits);
            s.clipLo = -1 + s.quantStep;
            s.clipHi = 1 - s.quantStep;
            s.maxAbs = 0.25 * double(l + 1) + double(c) / 16 + double(step) / 1024;
            s.saturation = 0.001 * double(c);
            s.underflow = 0.01 * double(l);
            s.sqnrDb = c == 3 && l == 0 ? INFINITY : 20.0 + double(c);
            s.values.lo = s.clipLo;
            s.values.hi = s.clipHi;
            s.error.lo = -s.quantStep / 2;
            s.error.hi = s.quantStep / 2;
            for (int b = 0; b < bins; ++b) {
                s.values.counts.push_back(uint32_t((step + 1) * 3 + b * 17 + l * 1000 + c));
                s.error.counts.push_back(uint32_t(b == bins / 2 ? 0xFFFFFFF0u : b + c));
            }
            out.push_back(std::move(s));
        }
    }
    return out;
}

inline EpochMetrics syntheticEpoch(int32_t epoch, int64_t step) {
    EpochMetrics e;
    e.epoch = epoch;
    e.step = step;
    e.trainLoss = 1.0 / double(epoch + 1);
    e.trainError = 0.1 / double(epoch + 1);
    e.testLoss = 1.5 / double(epoch + 1);
    e.testError = 0.02 + 0.03 / double(epoch + 1);
    e.weightsHash = 0xF00DFACE00000000ull + uint64_t(epoch); // top bit set: beyond int64
    e.seconds = 4.0 + epoch;
    e.imagesPerSecond = 15000.0 - 100.0 * epoch;
    return e;
}

inline std::vector<uint8_t> syntheticBlob(size_t n, uint8_t seed) {
    std::vector<uint8_t> b(n);
    for (size_t i = 0; i < n; ++i)
        b[i] = uint8_t(i * 31 + seed);
    return b;
}

} // namespace bitbench::test
