// Private pieces of the integer WAGE engine (int8 codes, int32 sums, shifts with round-half-even, no floats).
#pragma once

#include "bitbench/engine.h"

#include "bitbench/fixed_point.h"
#include "bitbench/gemm.h"
#include "engine/wage_common.h"
#include "kernels/gemm16.h"
#include "kernels/wage_kernels.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

// Files: engine_int.cpp (set-up, weights, reports), engine_int_forward.cpp,
// engine_int_backward.cpp (backward quantizers, weight gradients, error propagation),
// engine_int_update.cpp (Q_G and the SGD step), engine_int_stats.cpp. The kernels they call are
// in core/src/kernels/wage_kernels.h, one table per ISA chosen when the engine is built.

namespace bitbench::int_detail {

using wage_kernels::ErrorCode;
using wage_kernels::Kernels;
using wage_kernels::Requant;

// Seconds since construction or the last lap; for the per-layer time split.
class Stopwatch {
public:
    double lap() {
        const auto now = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(now - m_t0).count();
        m_t0 = now;
        return s;
    }

private:
    std::chrono::steady_clock::time_point m_t0 = std::chrono::steady_clock::now();
};

// f(lo, hi) over [0, n) in TBB tasks of at least `grain` items.
template <typename F> void parallelRange(int64_t n, int64_t grain, F&& f) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

struct IntLayer {
    LayerDesc d;
    ClassBits b;
    int32_t index = 0;
    int32_t kL = 0;        // latent weight grid: 2^(1-kL), kL = max(kW, kG)
    int32_t log2Alpha = 0;
    int64_t K = 0, N = 0;  // fan-in, outputs
    int64_t latentBound = 0; // C(W, kW) in latent units
    int32_t inExp = 0;     // exponent of input codes
    int32_t wExp = 0;      // exponent of forward weight codes: 1 - kW - log2(alpha)
    int32_t accExp = 0;
    int32_t outShift = 0;  // acc -> output code shift for Q_A
    bool inputNonNegative = true;
    bool last = false;
    // kE of 9 to 16 bits: int16 error codes (eq16 instead of eq), int64 weight gradients (g64
    // instead of g), products on the int16 kernels (kernels/gemm16.h).
    bool wideE = false;
    bool directWide = false;     // wideE direct layer whose per-image gradient sums fit int32 (gradOneChannel16)

    std::vector<int32_t> wLat; // [N][K]
    std::vector<int8_t> wq;    // [N][K]
    std::vector<int8_t> wqT;   // [K][N]

    std::vector<int8_t> col;     // conv: [rows][K]
    std::vector<int32_t> acc;    // [rows][N]
    std::vector<int32_t> pooled; // [outRows][N] (pool only)
    std::vector<uint8_t> argmax; // [outRows][N] (pool only)
    std::vector<int8_t> out;     // [outRows][N] output codes (quantized outputs)

    std::vector<int32_t> eIn;    // [outRows][N] error arriving at the block output
    std::vector<int8_t> eq;      // [rows][N] quantized error routed to the product output
    std::vector<int32_t> g;      // [N][K]
    std::vector<int16_t> dw;     // [N][K] integer update n of the last step
    std::vector<int16_t> eq16;   // [rows][N] wideE: the quantized error as int16 codes
    std::vector<int64_t> g64;    // [N][K] wideE: the weight gradient
    Gemm16PackedB wT16;          // wideE: wqT packed for the int16 error product
    std::unique_ptr<Gemm16Workspace> ws16; // wideE: the weight gradient's buffers
    int64_t errorChunk = 1;      // images per error product, so its int32 result stays in L2
    int64_t forwardChunk = 1;    // conv + pool: images per product, so its int32 result stays in L2
    bool direct = false;         // one-channel input conv computed from the input (convRowOneChannel)
    std::vector<int8_t> wDirect; // its weights: [tap group][N][4] (see Kernels::convRowOneChannel)
    GemmPackedB wPacked, wTPacked; // wq, wqT packed once per step for the products run per chunk
    // Conv error product with col2im fused (gemm_s8_nt_packed_add_at): where each product row
    // (output pixel of errorChunk images) and column (kernel tap) lands in the input error.
    std::vector<int64_t> errRowOff, errColOff;
    int32_t eShift = 0;          // Shift(max|e|) exponent of the last step (for stats)
    int32_t gShift = 0;
    bool eZero = true, gZero = true;
    bool eMaxReady = false;      // eIn is clip-masked already and eMax is its max|e|
    uint32_t eMax = 0;
    int64_t lrQ = 0;             // lr * 2^16 of the last step
    LayerTiming time;

    int64_t rows(int64_t n) const { return n * d.convH * d.convW; }
    int64_t outRows(int64_t n) const { return n * d.outH * d.outW; }
    const int32_t* blockOut() const { return d.pool ? pooled.data() : acc.data(); }

    // 1[-1 + sigma <= x <= 1 - sigma] for Q_A's input x = value * 2^accExp, in integers:
    // |x * 2^-outShift| <= maxA, i.e. |x| <= clipBound (floor division when outShift < 0).
    int64_t clipBound() const {
        const int64_t maxA = fx_max_code(b.a());
        return outShift >= 0 ? maxA << outShift : maxA >> -outShift;
    }
};

class IntEngine final : public Engine {
public:
    // throws InputError when a layer's int32 sums could overflow, or BITBENCH_ISA is invalid.
    explicit IntEngine(const Experiment& e);

    const char* kind() const override { return "integer"; }
    std::vector<LayerReport> layers() const override;
    void trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                   BatchResult& out) override;
    void evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) override;
    uint64_t weightsHash() const override;
    std::vector<uint8_t> weightsSave() const override;
    void weightsLoad(const std::vector<uint8_t>& b) override;
    void collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const override;
    std::vector<LayerTiming> timings() const override;
    void timingsReset() override;

private:
    static constexpr uint64_t kBlobMagic = 0x31544E4957424242ull; // "BBBWINT1"

    // --- set-up and weights (engine_int.cpp) ---
    static int64_t accumulatorBound(const IntLayer& L, int32_t batch);
    // The int32 sums of the int16 error path: forward and error product (the weight gradient
    // sums int32 chunks in int64).
    static int64_t accumulatorBoundWide(const IntLayer& L);
    void checkBounds(const IntLayer& L, int32_t batch) const;
    void refreshForwardWeights(IntLayer& L);
    void transposeForwardWeights(IntLayer& L) const;

    // --- forward (engine_int_forward.cpp) ---
    void forward(const uint8_t* images, int32_t n, bool train);
    void im2col(IntLayer& L, const int8_t* in, int32_t n);
    static void im2colRows(IntLayer& L, const int8_t* in, int64_t lo, int64_t hi);
    void forwardLayer(IntLayer& L, const int8_t* in, int32_t n, bool train);
    void forwardConvPool(IntLayer& L, const int8_t* in, int32_t n, bool train);
    static void packDirectWeights(IntLayer& L);
    void poolQuantize(IntLayer& L, int32_t n);
    void score(const uint8_t* labels, int32_t n, BatchResult& out, bool writeError);

    // --- backward (engine_int_backward.cpp) ---
    void quantizeError(IntLayer& L, int32_t n);
    void quantizeErrorWide(IntLayer& L, int32_t n, const ErrorCode& ec);
    void weightGradient(IntLayer& L, int32_t n);
    void directGradient(IntLayer& L, int32_t n);
    void directGradient16(IntLayer& L, int32_t n);
    void propagateError(IntLayer& L, IntLayer& prev, int32_t n);

    // --- update (engine_int_update.cpp) ---
    void update(IntLayer& L, int64_t step, int64_t lrQ);
    uint64_t maxAbs(const int32_t* v, int64_t n) const;
    uint64_t maxAbs(const int64_t* v, int64_t n) const;

    // The direct conv kernels run where they have a vector version (else im2col + GEMM).
    bool directActive(const IntLayer& L) const { return L.direct && m_k->directConv; }
    const int8_t* inputOf(const IntLayer& L) const {
        return L.index == 0 ? m_input.data() : m_layers[size_t(L.index - 1)].out.data();
    }

    Experiment m_e;
    Random m_rng;
    const Kernels* m_k; // chosen once: the GEMM's active ISA when the engine is built
    int32_t m_inputBits = 8;
    std::vector<int32_t> m_inputCodes;
    std::vector<int8_t> m_input;
    std::vector<IntLayer> m_layers;
    // Per-thread int32 products of one chunk of images (forwardConvPool, propagateError).
    tbb::enumerable_thread_specific<std::vector<int32_t>> m_chunk;
    tbb::enumerable_thread_specific<std::vector<int32_t>> m_gradPart; // directGradient's partial sums
    tbb::enumerable_thread_specific<std::vector<int64_t>> m_gradPart64; // directGradient16's
};

} // namespace bitbench::int_detail
