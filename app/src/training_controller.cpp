// TrainingController: worker-object thread lifecycle and the frame-paced mailbox drain.
#include "training_controller.h"

#include <QCoreApplication>
#include <QThread>

#include <algorithm>

namespace bitbench {

TrainingController::TrainingController(QObject* parent) : QObject(parent) {
    m_drainTimer.setSingleShot(true);
    connect(&m_drainTimer, &QTimer::timeout, this, &TrainingController::drain);
    // The mailbox emits from the trainer thread; this object lives in the GUI thread: queued.
    connect(&m_mailbox, &MetricsMailbox::dataReady, this, &TrainingController::onDataReady, Qt::QueuedConnection);
    m_sinceDrain.start();
}

TrainingController::~TrainingController() { stopAndWait(); }

void TrainingController::setState(State s) {
    if (m_state == s) return;
    m_state = s;
    Q_EMIT stateChanged(s);
}

bool TrainingController::start(TrainingRequest request, QString* error) {
    if (busy()) {
        if (error) *error = tr("A run is already in progress");
        return false;
    }
    m_mailbox.take(); // leftovers of an earlier run
    m_runId = 0;
    m_totalSteps = 0;
    m_stepsPerEpoch = 0;
    m_lastStep = -1;
    m_thread = new QThread(this);
    m_thread->setObjectName(QStringLiteral("bitbench-trainer"));
    m_worker = new TrainingWorker(std::move(request), &m_mailbox,
                                  [this](std::vector<std::array<QuantPlan, kQuantClassCount>> p) {
                                      m_mailbox.putPlans(std::move(p));
                                  });
    m_worker->moveToThread(m_thread);
    connect(m_thread, &QThread::started, m_worker, &TrainingWorker::run);
    connect(m_worker, &TrainingWorker::status, this, &TrainingController::statusMessage);
    connect(m_worker, &TrainingWorker::started, this,
            [this](qint64 runId, qint64 total, qint64 perEpoch, int batch, const QString& kind) {
                m_runId = runId;
                m_totalSteps = total;
                m_stepsPerEpoch = perEpoch;
                m_batch = batch;
                if (m_state == State::Starting) setState(m_worker && m_worker->paused() ? State::Paused : State::Running);
                Q_EMIT runStarted(runId, total, perEpoch, batch, kind);
            });
    connect(m_worker, &TrainingWorker::failed, this, &TrainingController::runFailed);
    connect(m_worker, &TrainingWorker::finished, this, &TrainingController::onWorkerFinished);
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    setState(State::Starting);
    m_thread->start();
    return true;
}

void TrainingController::pause() {
    if (!m_worker || m_state == State::Stopping) return;
    m_worker->setPaused(true);
    if (m_state == State::Running) setState(State::Paused);
}

void TrainingController::resume() {
    if (!m_worker || m_state == State::Stopping) return;
    m_worker->setPaused(false);
    if (m_state == State::Paused) setState(State::Running);
}

void TrainingController::stop() {
    if (!m_worker || m_state == State::Stopping) return;
    m_worker->requestStop();
    setState(State::Stopping);
}

void TrainingController::stopAndWait() {
    if (!m_thread) return;
    if (m_worker) m_worker->requestStop();
    m_thread->quit();
    m_thread->wait();
    // The finished signal is queued to us; deliver it now so state and store agree.
    QCoreApplication::sendPostedEvents(this);
}

void TrainingController::onDataReady() {
    if (m_drainTimer.isActive()) return;
    // Pace by the previous drain, not by this signal: a steady stream then drains every frame.
    const qint64 wait = std::max<qint64>(0, kFrameMs - m_sinceDrain.elapsed());
    m_drainTimer.start(int(wait));
}

void TrainingController::drain() {
    m_sinceDrain.restart();
    MetricsBatch batch = m_mailbox.take();
    if (batch.empty()) return;
    if (!batch.steps.empty()) m_lastStep = batch.steps.back().step;
    ++m_drains;
    Q_EMIT batchReady(batch);
}

void TrainingController::onWorkerFinished(int outcome, const QString& message, qint64 runId, qint64 steps) {
    m_drainTimer.stop();
    drain();
    if (m_thread) {
        m_thread->quit();
        m_thread->wait();
        m_thread->deleteLater();
    }
    m_thread = nullptr;
    m_worker = nullptr; // deleted with the thread's finished signal
    m_runId = runId;
    setState(State::Idle);
    Q_EMIT runFinished(outcome, message, runId, steps);
}

} // namespace bitbench
