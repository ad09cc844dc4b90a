// Training engines (integer, legacy float, graph executor) behind one interface, and the rule that picks one.
#pragma once

#include "bitbench/experiment.h"
#include "bitbench/observer.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bitbench {

struct BatchResult {
    double loss = 0;       // summed SSE over the batch (or summed cross-entropy)
    int32_t errors = 0;    // misclassified samples in the batch
};

// How one tensor class of a layer is computed: its quantizer, and integer or float arithmetic
// with the reason (the engine plan, shown by the CLI layer table).
struct ClassPlan {
    std::string quantizer; // e.g. "wage8", "affine8s", "float"
    bool integer = false;  // integer codes and integer sums
    std::string why;
};

// What a user sees about a layer at start: shapes, bits, the WAGE scale alpha, the plan.
struct LayerReport {
    std::string name;
    ClassBits bits;
    int64_t fanIn = 0;
    int64_t weights = 0;
    int32_t alpha = 1;
    int64_t accumulatorBound = 0; // largest possible |int32 sum| in this layer's products
    std::array<ClassPlan, 4> plan{}; // W, A, G, E; quantizer empty when the engine does not say
};

// Wall time one layer spent in each part of the training steps and evaluations since the last
// timingsReset(), for finding where a step's time goes (`bitbench-cli bench`).
struct LayerTiming {
    std::string name;
    double forwardSeconds = 0;  // product, pooling, relu and Q_A (training and evaluation)
    double errorSeconds = 0;    // error propagation to the previous layer (product and col2im)
    double gradientSeconds = 0; // weight-gradient product
    double quantizeSeconds = 0; // backward quantizers (clip mask, Q_E, relu and pool routing)
    double updateSeconds = 0;   // Q_G, stochastic rounding, weight update, forward weights
};

class Engine {
public:
    virtual ~Engine() = default;
    virtual const char* kind() const = 0; // engine_kind_name of its EngineKind

    // One SGD step on n <= batch images (HWC uint8) with their labels; `step` keys the random draws.
    virtual void trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                           BatchResult& out) = 0;
    // Forward only. Fills per-sample predicted classes if `predictions` is not null.
    virtual void evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) = 0;
    // Statistics of every layer's W, A, G, E tensors as of the last trainStep.
    virtual void collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const = 0;

    virtual std::vector<LayerReport> layers() const = 0;
    // XXH3-64 over all weights (integer latent codes, or float bits), layer by layer.
    virtual uint64_t weightsHash() const = 0;
    virtual std::vector<uint8_t> weightsSave() const = 0;
    // The name of the first layer holding a NaN or infinite weight; empty when every weight is
    // finite (always, for integer codes). One pass over the weights, allocating nothing.
    virtual std::string weightsNonFinite() const { return {}; }
    // throws DataError when the blob does not fit this model.
    virtual void weightsLoad(const std::vector<uint8_t>& blob) = 0;

    // The quantizer plans as of the last forward and backward pass (an evaluation's forward
    // included), per weight layer in layers() order and class W, A, G, E, E_grad (QuantClass
    // order; E_grad is the plan of the weight gradient's copy of E, empty when E serves both). A
    // class whose engine keeps no plan (float, or an engine without quantizer families) has a plan
    // with no groups; an engine that keeps none returns an empty list. Not thread-safe against a
    // running step: call it between steps, on the training thread.
    virtual std::vector<std::array<QuantPlan, kQuantClassCount>> quantPlans() const { return {}; }

    // Per-layer time split; engines that do not measure return an empty list.
    virtual std::vector<LayerTiming> timings() const { return {}; }
    virtual void timingsReset() {}
};

// The engines. Integer: the int8 WAGE engine. Float: the legacy float engine (Eigen products);
// it trains only runs stored before the graph executor took over its experiments. Graph: the graph
// executor (exact-chain float32 products, bit-identical across ISAs and thread counts; WAGE runs
// there bit-identical to the integer engine). Reference: the graph executor on the reference loops
// of every op (the definition the fast kernels are checked against; slow). GraphFloat: the graph
// executor with every product in float32 (no integer products), what it computed before it had
// integer products, so runs it stored then replay bit for bit. Auto: engine_select's current rule.
enum class EngineKind { Auto, Integer, Float, Graph, Reference, GraphFloat };

// How an experiment's engine is chosen. The choice is not part of the experiment's configuration
// (its config hash stays the same); a stored run records the engine that trained it.
enum class EngineRule {
    // New runs: the graph executor when the experiment needs it (Experiment::needsGraphExecutor)
    // or when the integer engine cannot run it (a float class, W/A/E wider than 8 bits, a loss
    // other than sse), else the integer engine.
    Current,
    // Runs stored before the run database recorded their engine: as Current, except that what
    // the integer engine cannot run goes to the legacy float engine, and what needs the graph
    // executor to it with float products only (GraphFloat). Their replays and resumes must use
    // these: the float engine's sums round in another order than the graph executor's, and
    // integer products round once where float products round at every step.
    Legacy,
};

// ensures: the engine `rule` picks for `e`: Integer, Float, Graph or GraphFloat, never Auto or
// Reference.
EngineKind engine_select(const Experiment& e, EngineRule rule = EngineRule::Current);

// "integer", "float", "graph", "reference", "graph-float" (what Engine::kind() returns and the
// run database stores); "auto" for Auto.
const char* engine_kind_name(EngineKind kind);
// The engine named by `name` (one of engine_kind_name's, not "auto"); false for any other text.
bool engine_kind_parse(const std::string& name, EngineKind& kind);

// Builds the engine of `kind` (Auto: engine_select(e)), its weights initialised from the
// experiment's seed.
// throws: InputError when the integer or float engine is asked for an experiment it cannot run
//         (or the memory check fails, see engine_memory_check).
std::unique_ptr<Engine> engine_create(const Experiment& e, EngineKind kind = EngineKind::Auto);

// Bytes an engine for `e` allocates: weights with their codes, gradients and a checkpoint copy,
// and the activations and errors of one batch. A slight over-estimate, in double because a model
// far too large overflows 64-bit sizes.
double engine_memory_estimate(const Experiment& e);
// throws: InputError giving the estimate and the machine's available memory (MemAvailable in
// /proc/meminfo) when the engine cannot fit. engine_create calls it before allocating.
void engine_memory_check(const Experiment& e);

// The integer engine is used when every class has bits, W and A fit 8 bits (int8 operands) and E
// fits 16 bits (int16 error codes above 8 bits, whose error products must keep int32 sums).
bool engine_integer_supported(const Experiment& e, std::string* why = nullptr);

} // namespace bitbench

namespace bitbench {

// For checking the float path: the loss and dL/dW of every layer (before any update) for
// `weights` (per layer, [out][fan-in]; empty = the experiment's initial weights).
std::vector<std::vector<float>> engine_float_gradients(const Experiment& e,
                                                       const std::vector<std::vector<float>>& weights,
                                                       const uint8_t* images, const uint8_t* labels,
                                                       int32_t n, double* loss);
std::vector<std::vector<float>> engine_float_initial_weights(const Experiment& e);

} // namespace bitbench
