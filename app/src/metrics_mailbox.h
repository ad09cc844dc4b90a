// MetricsMailbox: trainer events buffered under a briefly held mutex for the GUI to drain.
#pragma once

#include "bitbench/observer.h"
#include "bitbench/quant.h"

#include <QObject>

#include <array>
#include <mutex>
#include <vector>

namespace bitbench {

// What the GUI takes out in one drain.
struct MetricsBatch {
    std::vector<StepMetrics> steps;
    std::vector<EpochMetrics> epochs;
    std::vector<std::vector<TensorStats>> stats; // one entry per statistics step, oldest first
    // The quantizer plans of the newest statistics step (Engine::quantPlans); empty: none new.
    std::vector<std::array<QuantPlan, kQuantClassCount>> plans;
    bool empty() const { return steps.empty() && epochs.empty() && stats.empty() && plans.empty(); }
};

// The trainer thread appends; the GUI thread takes everything at once. dataReady carries no
// payload and is emitted once per take(): a burst of a thousand steps costs one queued signal,
// so the GUI's event queue never grows with the training speed.
class MetricsMailbox : public QObject, public TrainObserver {
    Q_OBJECT
public:
    explicit MetricsMailbox(QObject* parent = nullptr);

    void onStep(const StepMetrics& m) override;
    void onTensorStats(const std::vector<TensorStats>& stats) override;
    void onEpoch(const EpochMetrics& m) override;
    // The engine's plans at a statistics step; replaces ones not yet taken.
    void putPlans(std::vector<std::array<QuantPlan, kQuantClassCount>> plans);

    // Moves everything out and re-arms dataReady.
    MetricsBatch take();
    // Signals emitted since construction (for measurements and tests).
    int64_t signalCount() const;

Q_SIGNALS:
    void dataReady();

private:
    void notifyLocked(std::unique_lock<std::mutex>& lock);

    mutable std::mutex m_mutex;
    MetricsBatch m_pending;
    bool m_signalled = false;
    int64_t m_signals = 0;
};

} // namespace bitbench
