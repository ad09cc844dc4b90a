// Events a Trainer reports: per-step metrics, tensor statistics, epoch ends. Plain data only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bitbench {

// The four WAGE tensor classes.
enum class TensorClass : uint8_t { W = 0, A = 1, G = 2, E = 3 };
inline constexpr const char* kTensorClassNames[4] = {"W", "A", "G", "E"};

// A 64-bit hash as users see it everywhere (CLI, JSON, database): 16 lower-case hex digits.
inline std::string hash_hex(uint64_t v) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
    return b;
}

// Uniform-bin histogram over [lo, hi].
struct Histogram {
    double lo = 0;
    double hi = 0;
    std::vector<uint32_t> counts;
};

// Statistics of one quantized tensor at one step. Values are in real units (code * scale).
struct TensorStats {
    int64_t step = 0;
    int32_t layer = 0;           // index among the model's weight layers
    std::string layerName;       // e.g. "conv1"
    TensorClass cls = TensorClass::W;
    int32_t bits = 0;            // 0 = float (not quantized)
    double quantStep = 0;        // distance between quantization levels (0 for float)
    double clipLo = 0, clipHi = 0; // representable range after quantization
    double maxAbs = 0;           // max |x| before quantization
    double saturation = 0;       // fraction of elements clipped to the range ends
    double underflow = 0;        // fraction of non-zero elements that quantized to zero
    double sqnrDb = 0;           // 10 log10(sum x^2 / sum (x - q(x))^2); +inf when exact
    Histogram values;            // of the quantized values
    Histogram error;             // of q(x) - x
};

// One optimizer step.
struct StepMetrics {
    int64_t step = 0;            // global step, from 0
    int32_t epoch = 0;           // epoch the step belongs to, from 0
    double loss = 0;             // batch loss (SSE summed over batch, or cross-entropy mean)
    double error = 0;            // batch classification error, fraction
    double learningRate = 0;
    double imagesPerSecond = 0;  // smoothed training throughput
};

// End of an epoch, after evaluation on the test set.
struct EpochMetrics {
    int32_t epoch = 0;           // from 0; the paper's "after epoch 1" is epoch 0 here
    int64_t step = 0;            // global steps done
    double trainLoss = 0;        // mean over the epoch's batches
    double trainError = 0;       // fraction over the epoch's training samples
    double testLoss = 0;
    double testError = 0;        // fraction over the whole test set
    uint64_t weightsHash = 0;    // XXH3-64 of all weight codes after the epoch
    double seconds = 0;          // wall time of the epoch's training steps
    double imagesPerSecond = 0;  // training images per second in the epoch
};

// Receives trainer events. Called on the thread that calls Trainer::step(), never from inside
// a parallel (TBB) body. Implementations must be quick or hand data to another thread.
class TrainObserver {
public:
    virtual ~TrainObserver() = default;
    virtual void onStep(const StepMetrics&) {}
    virtual void onTensorStats(const std::vector<TensorStats>&) {}
    virtual void onEpoch(const EpochMetrics&) {}
};

} // namespace bitbench
