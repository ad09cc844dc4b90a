// TrainingWorker: runs one experiment on its own thread, Trainer::step() in a loop, into the store.
#pragma once

#include "bitbench/experiment.h"

#include <QObject>
#include <QString>

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace bitbench {

class Trainer;
class TrainObserver;

// Everything a run needs; built and validated on the GUI thread.
struct TrainingRequest {
    Experiment experiment;
    std::string dataDir; // empty: the experiment's dataset.dir, else the default data folder
    std::string dbPath;  // the run database
    int32_t threads = 0; // 0 = all cores
    // Non-zero: continue this stored run from its last checkpoint; `experiment` is ignored (the
    // run's stored configuration is used).
    int64_t resumeRunId = 0;
};

// How a run ended (the store's RunStatus, plus "never started"). Diverged: a NaN or infinite
// loss or weight stopped it (stored as diverged with the step; the message says where).
enum class TrainingOutcome { Finished, Stopped, Failed, Diverged };

// Lives on a worker QThread: run() blocks that thread until training ends. pause/resume/stop are
// called from the GUI thread and take effect between steps (stop also interrupts a step's
// evaluation through Trainer::requestStop). Events go to the given observer (the GUI mailbox) and
// to a RunWriter; a stopped run leaves a checkpoint so it can be resumed.
class TrainingWorker : public QObject {
    Q_OBJECT
public:
    // The engine's quantizer plans at each statistics step, read on the training thread.
    using PlansSink = std::function<void(std::vector<std::array<QuantPlan, kQuantClassCount>>)>;

    TrainingWorker(TrainingRequest request, TrainObserver* observer, PlansSink plans = {});

    // Thread-safe.
    void setPaused(bool paused);
    void requestStop();
    bool paused() const { return m_paused.load(); }

    // Loads the dataset, opens the store, trains. Emits started once training can begin and
    // finished exactly once.
    void run();

Q_SIGNALS:
    void status(const QString& message);
    void started(qint64 runId, qint64 totalSteps, qint64 stepsPerEpoch, int batch, const QString& engineKind);
    void finished(int outcome, const QString& message, qint64 runId, qint64 steps);
    // Just before finished(Failed) or finished(Diverged): the outcome as bitbench-cli reports it
    // (error_exit_code and error_line; 5 and "run N stored as diverged: ..."), for --autotrain.
    void failed(int exitCode, const QString& line);

private:
    TrainingRequest m_request;
    TrainObserver* m_observer;
    PlansSink m_plans;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::atomic<bool> m_paused{false};
    std::atomic<bool> m_stop{false};
    Trainer* m_trainer = nullptr; // guarded by m_mutex
};

} // namespace bitbench
