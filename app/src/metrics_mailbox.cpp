// MetricsMailbox: append under the lock, signal only on the empty-to-pending transition.
#include "metrics_mailbox.h"

namespace bitbench {

MetricsMailbox::MetricsMailbox(QObject* parent) : QObject(parent) {}

void MetricsMailbox::notifyLocked(std::unique_lock<std::mutex>& lock) {
    if (m_signalled) return;
    m_signalled = true;
    ++m_signals;
    lock.unlock();
    // Emitted from the trainer thread; receivers in the GUI thread get it queued.
    Q_EMIT dataReady();
}

void MetricsMailbox::onStep(const StepMetrics& m) {
    std::unique_lock lock(m_mutex);
    m_pending.steps.push_back(m);
    notifyLocked(lock);
}

void MetricsMailbox::onTensorStats(const std::vector<TensorStats>& stats) {
    std::unique_lock lock(m_mutex);
    m_pending.stats.push_back(stats);
    notifyLocked(lock);
}

void MetricsMailbox::onEpoch(const EpochMetrics& m) {
    std::unique_lock lock(m_mutex);
    m_pending.epochs.push_back(m);
    notifyLocked(lock);
}

void MetricsMailbox::putPlans(std::vector<std::array<QuantPlan, kQuantClassCount>> plans) {
    if (plans.empty()) return;
    std::unique_lock lock(m_mutex);
    m_pending.plans = std::move(plans);
    notifyLocked(lock);
}

MetricsBatch MetricsMailbox::take() {
    MetricsBatch out;
    std::lock_guard lock(m_mutex);
    std::swap(out, m_pending);
    m_signalled = false;
    return out;
}

int64_t MetricsMailbox::signalCount() const {
    std::lock_guard lock(m_mutex);
    return m_signals;
}

} // namespace bitbench
