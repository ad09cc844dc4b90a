// The sweep queue: trains a sweep's trials one after another on a worker thread, recording each
// in the run database like `bitbench-cli sweep`, and resumes an interrupted sweep without
// training any finished trial twice.
#pragma once

#include "bitbench/analysis.h"
#include "bitbench/store.h"

#include <nlohmann/json.hpp>

#include <QObject>
#include <QString>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

class QThread;

namespace bitbench {

struct SweepRequest {
    nlohmann::json sweep; // the sweep definition (see sweep_expand)
    std::string dir;      // resolves a relative "base" path
    std::string dbPath;
    std::string dataDir; // empty: each experiment's own or the default data folder
    int32_t threads = 0; // per trial; 0 = all cores
};

// What happens to one trial when the queue reaches it.
// Busy: another live process (a CLI sweep, a resume) trains it, so this queue skips it.
enum class TrialPlan { Train, Resume, Skip, Busy };

class SweepQueue : public QObject {
    Q_OBJECT
public:
    explicit SweepQueue(QObject* parent = nullptr);
    ~SweepQueue() override; // stops and waits

    // Expands the sweep, finds it in the database (same name and definition: resume) or creates
    // it, and starts the worker. false with *error (bad sweep, read-only database, busy).
    bool start(const SweepRequest& r, QString* error = nullptr);
    // The current trial stops at its next step with a checkpoint; the rest stay pending.
    void stop();
    bool running() const { return m_thread != nullptr; }
    qint64 sweepId() const { return m_sweepId; }
    const std::vector<SweepTrialPlan>& trials() const { return m_trials; }

Q_SIGNALS:
    // index into trials(); plan as int(TrialPlan).
    void trialStarted(int index, qint64 runId, int plan);
    void trialEnded(int index, qint64 runId, bool complete, double bestTestError);
    // Overall progress in [0, 1] (trials done plus the running trial's fraction).
    void progress(double fraction);
    void finished(bool complete, const QString& message);

private:
    void run(SweepRequest r);

    std::vector<SweepTrialPlan> m_trials;
    qint64 m_sweepId = 0;
    QThread* m_thread = nullptr;
    std::shared_ptr<std::atomic<bool>> m_stop;
};



} // namespace bitbench
