// TrainingController: starts a worker thread per run, forwards pause/stop, drains the mailbox.
#pragma once

#include "metrics_mailbox.h"
#include "training_worker.h"

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

class QThread;

namespace bitbench {

// The GUI side of a run. Events reach the GUI through the mailbox: its payload-free dataReady
// starts a single-shot timer that fires about one frame (kFrameMs) after the previous drain,
// so a burst of steps becomes one batchReady and the views replot once per frame.
class TrainingController : public QObject {
    Q_OBJECT
public:
    enum class State { Idle, Starting, Running, Paused, Stopping };
    static constexpr int kFrameMs = 30;

    explicit TrainingController(QObject* parent = nullptr);
    ~TrainingController() override;

    // Starts a run; false (with *error) when one is already running.
    bool start(TrainingRequest request, QString* error = nullptr);
    void pause();
    void resume();
    // Asks the run to stop; runFinished follows once it has stopped and checkpointed.
    void stop();
    // Stops and blocks until the worker thread has ended (for shutdown).
    void stopAndWait();

    State state() const { return m_state; }
    bool busy() const { return m_state != State::Idle; }
    qint64 runId() const { return m_runId; }
    qint64 totalSteps() const { return m_totalSteps; }
    qint64 stepsPerEpoch() const { return m_stepsPerEpoch; }
    int batch() const { return m_batch; }
    qint64 lastStep() const { return m_lastStep; }
    const MetricsMailbox& mailbox() const { return m_mailbox; }
    // Drains delivered so far (each one is one replot of the views).
    qint64 drainCount() const { return m_drains; }

Q_SIGNALS:
    void stateChanged(bitbench::TrainingController::State state);
    void statusMessage(const QString& message);
    void runStarted(qint64 runId, qint64 totalSteps, qint64 stepsPerEpoch, int batch, const QString& engineKind);
    // Everything that arrived since the previous batch; receivers append and replot once.
    void batchReady(const bitbench::MetricsBatch& batch);
    void runFinished(int outcome, const QString& message, qint64 runId, qint64 steps);
    // Before runFinished(Failed): the exit code and one line a command line reports for it.
    void runFailed(int exitCode, const QString& line);

private:
    void setState(State s);
    void onDataReady();
    void drain();
    void onWorkerFinished(int outcome, const QString& message, qint64 runId, qint64 steps);

    MetricsMailbox m_mailbox;
    QTimer m_drainTimer;
    QElapsedTimer m_sinceDrain;
    QThread* m_thread = nullptr;
    TrainingWorker* m_worker = nullptr;
    State m_state = State::Idle;
    qint64 m_runId = 0;
    qint64 m_totalSteps = 0;
    qint64 m_stepsPerEpoch = 0;
    int m_batch = 0;
    qint64 m_lastStep = -1;
    qint64 m_drains = 0;
};

} // namespace bitbench
