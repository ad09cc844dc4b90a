// Solvers (WAGE, SGD, Adam), their configuration and learning-rate schedules. See core/doc/optim.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bitbench {

// One step of a step schedule: from `epoch` on (until the next step) the rate is `lr`.
struct LrStep {
    int32_t epoch = 0; // first epoch (from 0) this rate applies to
    double lr = 1;
};

// Values are stable on disk (solver state records).
enum class SolverKind : uint8_t { Wage = 0, Sgd = 1, Adam = 2 };

// The solver names in JSON: "wage", "sgd", "adam".
const char* solver_kind_name(SolverKind k);

// Longest warm-up an optimizer may ask for (the longest schedule, as experiment.h's kEpochsMax).
constexpr int32_t kWarmupEpochsMax = 100000;

// How parameters are updated. Defaults are PyTorch 1.13's (torch.optim.SGD, torch.optim.Adam).
struct OptimizerConfig {
    SolverKind kind = SolverKind::Wage;
    double momentum = 0;      // sgd: >= 0
    double weightDecay = 0;   // sgd, adam: L2 term added to the gradient, >= 0
    bool nesterov = false;    // sgd: needs momentum > 0
    double beta1 = 0.9;       // adam: in [0, 1)
    double beta2 = 0.999;     // adam: in [0, 1)
    double eps = 1e-8;        // adam: >= 0
    int32_t warmupEpochs = 0; // sgd, adam: linear warm-up epochs (schedule_lr)
    // sgd, adam, for the latent weights of conv/fc layers whose W quantizer is not float
    // (BinaryConnect, BinaryNet): clip to [-latentClip, latentClip] after each update (0 = none),
    // and the step scaled by 1/sqrt(1.5 / (fan_in + fan_out)) (lrGlorot, the authors' W_LR_scale).
    double latentClip = 0;
    bool lrGlorot = false;

    bool operator==(const OptimizerConfig&) const = default;
};

// Reads {"kind": "wage"} | {"kind": "sgd", "momentum", "weight_decay", "nesterov",
// "warmup_epochs"} | {"kind": "adam", "betas": [b1, b2], "eps", "weight_decay", "warmup_epochs"},
// sgd and adam also "latent_clip" (>= 0) and "lr_scale" ("none" | "glorot"),
// every key but "kind" optional (defaults above); a bare string "sgd" is {"kind": "sgd"}.
// `where` names the object in messages ("experiment.optimizer").
// throws: InputError naming the key: unknown keys, keys of another kind, wrong types, values
// out of range ("experiment.optimizer.betas[1]: expected a number in [0, 1), got 1").
OptimizerConfig optimizer_parse(const nlohmann::json& j, const std::string& where);
// The canonical form: "kind" and every key of that kind, with its value (defaults included),
// except "latent_clip" and "lr_scale", written only when set (earlier configuration hashes stay).
nlohmann::json optimizer_to_json(const OptimizerConfig& c);

// Where a solver's update happens in training. Steps count from 0 over the whole run.
struct SolverStep {
    int64_t step = 0; // keys the WAGE solver's stochastic rounding; the others ignore it
};

// What a solver knows about the tensor it updates. Only the WAGE solver reads it.
struct SolverTensor {
    uint32_t id = 0;   // tensor id of the random draws (the layer index in WAGE)
    int32_t bitsW = 2; // kW: latent clip C(W, kW) before each update; 0 = float W, no clip
    int32_t bitsG = 8; // kG: Q_G's step sigma(kG); 0 = float G (plain SGD on C(W, kW))
    uint64_t seed = 1; // the experiment's seed
};

// Updates one parameter tensor of float master weights in place and keeps that tensor's state
// (momentum, moments, step count). Element-wise (the WAGE solver also reduces max|g| exactly):
// the result never depends on the thread count.
class Solver {
public:
    virtual ~Solver() = default;
    SolverKind kind() const { return m_kind; }
    int64_t size() const { return m_n; }
    int64_t stepsTaken() const { return m_t; }

    // One step with learning rate `lr`.
    // requires: n == size(); param and grad hold n values (they may not overlap).
    // throws: InputError when n differs from size(), or (WAGE, quantized G) when lr is not a
    // multiple of 2^-16 in [0, 2^15).
    void update(float* param, const float* grad, int64_t n, double lr, SolverStep at = {});

    // Appends this solver's state as one record (core/doc/optim.md, "State"): a 32-byte header
    // (magic "BBSV", version, kind, flags, element count, steps taken, payload bytes), then the
    // float32 payload, all little-endian.
    void stateSave(std::vector<uint8_t>& out) const;
    // Reads the record at `offset` into this solver; returns the offset after it.
    // throws: DataError naming what is wrong: truncated, not a solver record, a newer version,
    // another solver's kind, another element count, a payload of the wrong size.
    size_t stateLoad(const std::vector<uint8_t>& blob, size_t offset = 0);

protected:
    Solver(SolverKind kind, int64_t n) : m_kind(kind), m_n(n) {}
    virtual void step(float* param, const float* grad, double lr, SolverStep at) = 0;
    // State beyond the step count: flags, then the payload as float arrays of m_n values.
    virtual uint8_t stateFlags() const { return 0; }
    virtual std::vector<const std::vector<float>*> stateArrays() const { return {}; }
    // How many arrays a record with `flags` holds. throws: DataError when the flags make no
    // sense for this solver.
    virtual int32_t stateArrayCount(uint8_t flags) const;
    // Takes on a checked record's `flags`; returns the arrays to fill (resized to m_n by the caller).
    virtual std::vector<std::vector<float>*> stateArraysFor(uint8_t) { return {}; }

    SolverKind m_kind;
    int64_t m_n;
    int64_t m_t = 0; // updates done so far
};

// A solver for a tensor of n parameters. `tensor` matters only for the WAGE solver.
// throws: InputError for n < 0 or WAGE bits outside 0..16.
std::unique_ptr<Solver> solver_create(const OptimizerConfig& c, int64_t n, const SolverTensor& tensor = {});

// The learning rate of a global step (from 0), with stepsPerEpoch steps per epoch:
//   base  = the rate of the last schedule step whose epoch <= step / stepsPerEpoch
//           (Experiment::lrAt; the first step's rate before it)
//   W     = warmupEpochs * stepsPerEpoch
//   lr    = base * (step + 1) / W   for step < W (left to right, in double)
//           base                    otherwise
// The warm-up is PyTorch's LambdaLR with lambda(step) = (step + 1) / W, stepped per batch, as in
// Banner et al.'s ImageNet recipe: the first step runs at base / W, step W - 1 at base.
// throws: InputError when steps is empty, stepsPerEpoch < 1, warmupEpochs < 0 or step < 0.
double schedule_lr(const std::vector<LrStep>& steps, int32_t warmupEpochs, int64_t step, int64_t stepsPerEpoch);

} // namespace bitbench
