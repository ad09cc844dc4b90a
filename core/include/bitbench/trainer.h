// The training loop with a caller-owned step(): data order, schedule, evaluation, observers.
#pragma once

#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/experiment.h"
#include "bitbench/observer.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bitbench {

// Why training stopped on a NaN or infinite loss or weight.
struct Divergence {
    int64_t step = -1;   // global step (from 0) whose update or loss was not finite; -1 = none
    int32_t epoch = 0;   // epoch of that step, from 0
    std::string message; // one line for the user: what was not finite and what to try
};

class Trainer {
public:
    // requires: the dataset's image shape equals the model's input and labels < model classes.
    // threads: 0 = all cores. Results do not depend on it.
    // engine: the engine to train on (engine.h); Auto = engine_select(e), the rule for new runs.
    //         A stored run resumes and replays on the engine it recorded (run_engine_of).
    // throws: InputError when the dataset does not fit the model, or engine_create's errors.
    Trainer(const Experiment& e, const Dataset& data, int32_t threads = 0, EngineKind engine = EngineKind::Auto);
    ~Trainer();

    void addObserver(TrainObserver* o) { m_observers.push_back(o); }

    // Runs one training step; after an epoch's last step also evaluates on the test set and
    // reports onEpoch. Returns false once every epoch is done (or a stop was requested, or
    // training diverged).
    // ensures: a step whose batch loss is not finite, or after which a weight is not finite, is
    //          not reported to observers and ends training as diverged (see divergence());
    //          likewise a non-finite test loss at an epoch end (that epoch is not reported).
    bool step();
    bool finished() const;
    // Thread-safe; step() and evaluation notice it within one batch.
    void requestStop() { m_stop.store(true); }
    bool stopRequested() const { return m_stop.load(); }
    bool diverged() const { return m_divergence.step >= 0; }
    const Divergence& divergence() const { return m_divergence; }

    int64_t globalStep() const { return m_step; }
    int32_t epoch() const { return int32_t(m_step / m_stepsPerEpoch); }
    int64_t stepsPerEpoch() const { return m_stepsPerEpoch; }
    int64_t totalSteps() const { return m_stepsPerEpoch * m_e.epochs; }
    const std::vector<EpochMetrics>& history() const { return m_history; }
    const Experiment& experiment() const { return m_e; }
    const Engine& engine() const { return *m_engine; }

    // Test error and loss of the current weights on the whole test set (or test_limit).
    EpochMetrics evaluate();

    // A checkpoint between epochs or steps: weights, position, history. The random streams are
    // counter-based, so the step number is their whole state.
    std::vector<uint8_t> checkpointSave() const;
    // throws DataError when the blob is not a checkpoint of this experiment.
    void checkpointLoad(const std::vector<uint8_t>& blob);

private:
    void shuffle(int32_t epoch);
    bool epochPending() const;
    void completeEpoch();
    void diverge(int64_t step, const std::string& what);
    template <typename F> void inArena(F&& f);

    Experiment m_e;
    const Dataset& m_data;
    std::unique_ptr<Engine> m_engine;
    struct Arena;
    std::unique_ptr<Arena> m_arena;
    std::vector<TrainObserver*> m_observers;
    std::atomic<bool> m_stop{false};

    int64_t m_trainCount = 0, m_testCount = 0;
    int64_t m_stepsPerEpoch = 0;
    int64_t m_step = 0;
    int32_t m_orderEpoch = -1;
    std::vector<uint32_t> m_order;
    std::vector<uint8_t> m_batchImages, m_batchLabels;
    std::vector<uint8_t> m_augmented; // one augmented image (augment only)

    // Running sums of the current epoch.
    double m_epochLoss = 0;
    int64_t m_epochErrors = 0;
    double m_epochSeconds = 0;
    double m_rateEma = 0;
    std::vector<EpochMetrics> m_history;
    Divergence m_divergence;
};

} // namespace bitbench
