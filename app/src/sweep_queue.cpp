// SweepQueue: expansion and sweep record on the GUI thread, trials on a worker thread.
#include "sweep_queue.h"

#include "bitbench/run_recording.h"

#include "training_worker.h"

#include "bitbench/dataset.h"
#include "bitbench/error.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include <QThread>

#include <cmath>
#include <optional>

namespace bitbench {

namespace {

// Reports a trial's progress at most every ~1 % and stops it when asked.
class TrialObserver : public TrainObserver {
public:
    TrialObserver(Trainer& t, std::shared_ptr<std::atomic<bool>> stop,
                  std::function<void(double)> report)
        : m_t(t), m_stop(std::move(stop)), m_report(std::move(report)) {}
    void onStep(const StepMetrics& m) override {
        if (m_stop->load()) m_t.requestStop();
        const double f = double(m.step + 1) / double(std::max<int64_t>(1, m_t.totalSteps()));
        if (f - m_last >= 0.01 || f >= 1) {
            m_last = f;
            m_report(f);
        }
    }

private:
    Trainer& m_t;
    std::shared_ptr<std::atomic<bool>> m_stop;
    std::function<void(double)> m_report;
    double m_last = -1;
};

} // namespace

SweepQueue::SweepQueue(QObject* parent)
    : QObject(parent), m_stop(std::make_shared<std::atomic<bool>>(false)) {}

SweepQueue::~SweepQueue() {
    m_stop->store(true);
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
    }
}

bool SweepQueue::start(const SweepRequest& r, QString* error) {
    try {
        if (m_thread) throw InputError("a sweep is already running");
        std::string name;
        m_trials = sweep_expand(r.sweep, r.dir, &name);
        RunStore store = RunStore::open(r.dbPath);
        if (store.readOnly())
            throw StoreError("cannot record the sweep in '" + r.dbPath +
                             "': " + store.readOnlyReason());
        // The CLI's rule: the same name and definition is the same sweep, so it resumes.
        m_sweepId = store.sweepFindOrCreate(name, r.sweep.dump());
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    m_stop = std::make_shared<std::atomic<bool>>(false);
    m_thread = QThread::create([this, r] { run(r); });
    connect(m_thread, &QThread::finished, this, [this] {
        m_thread->deleteLater();
        m_thread = nullptr;
    });
    m_thread->start();
    return true;
}

void SweepQueue::stop() {
    m_stop->store(true);
}

void SweepQueue::run(SweepRequest r) {
    const size_t n = m_trials.size();
    size_t done = 0;
    QString message;
    bool failed = false;
    QStringList diverged; // labels of trials that ended diverged
    try {
        RunStore store = RunStore::open(r.dbPath);
        for (size_t i = 0; i < n && !m_stop->load(); ++i) {
            const SweepTrialPlan& tr = m_trials[i];
            // One transaction claims the trial, so a CLI sweep on the same database at the same
            // time never trains it twice.
            const TrialClaim claim =
                store.sweepTrialClaim(m_sweepId, tr.configHash, run_info_of(tr.experiment));
            const int64_t runId = claim.runId;
            if (claim.outcome == TrialClaim::Outcome::Busy) {
                Q_EMIT trialStarted(int(i), runId, int(TrialPlan::Busy));
                Q_EMIT trialEnded(int(i), runId, false, NAN);
                continue;
            }
            if (claim.outcome == TrialClaim::Outcome::Done) {
                // A diverged trial is a result too: the same configuration diverges again.
                if (claim.status == TrialStatus::Diverged) diverged << QString::fromStdString(tr.label);
                Q_EMIT trialStarted(int(i), runId, int(TrialPlan::Skip));
                double best = NAN;
                for (const auto& e : store.epochsGet(runId))
                    best = std::isfinite(best) ? std::min(best, e.testError) : e.testError;
                Q_EMIT trialEnded(int(i), runId, true, best);
                Q_EMIT progress(double(++done) / double(n));
                continue;
            }
            const TrialPlan plan = claim.resumed ? TrialPlan::Resume : TrialPlan::Train;
            std::optional<CheckpointRecord> cp;
            if (claim.resumed) cp = store.checkpointLatest(runId);
            // A resumed trial continues on the engine its run recorded.
            const EngineKind engine = run_engine_of(store.runGet(runId), tr.experiment);
            Q_EMIT trialStarted(int(i), runId, int(plan));
            Dataset data; // outlives the trainer, which refers to it
            std::optional<Trainer> t;
            bool complete = false;
            try {
                // The run records the data it reads, or reads the data it recorded.
                data = run_data_attach(store, runId, tr.experiment, r.dataDir);
                t.emplace(tr.experiment, data, r.threads, engine);
                if (cp) t->checkpointLoad(cp->blob);
                RunWriter writer(r.dbPath, runId);
                TrialObserver obs(*t, m_stop, [this, done, n](double f) {
                    Q_EMIT progress((double(done) + f) / double(n));
                });
                t->addObserver(&writer);
                t->addObserver(&obs);
                complete = run_recording(*t, &writer, [&] {
                    return nlohmann::json{{"steps", t->globalStep()},
                                          {"epochs", int64_t(t->history().size())},
                                          {"bits", tr.experiment.bits.base.dashed()}};
                });
            } catch (const std::exception& e) {
                // The run and the trial say why; the next start trains the trial again.
                try {
                    store.runFail(runId, e.what());
                    store.sweepTrialPut(m_sweepId, tr.configHash, runId, TrialStatus::Failed,
                                        e.what());
                } catch (...) {
                }
                throw;
            }
            // A stopped trial stays "running" in the sweep with its checkpoint: the next start
            // resumes it.
            if (t->diverged()) {
                store.sweepTrialPut(m_sweepId, tr.configHash, runId, TrialStatus::Diverged,
                                    t->divergence().message);
                diverged << QString::fromStdString(tr.label);
                complete = true; // the trial ended: its result is the divergence
            } else if (complete) {
                store.sweepTrialPut(m_sweepId, tr.configHash, runId, TrialStatus::Finished);
            }
            double best = NAN;
            for (const auto& h : t->history())
                best = std::isfinite(best) ? std::min(best, h.testError) : h.testError;
            Q_EMIT trialEnded(int(i), runId, complete, best);
            if (complete) Q_EMIT progress(double(++done) / double(n));
        }
    } catch (const std::exception& e) {
        failed = true;
        message = tr("Sweep failed: %1").arg(QString::fromUtf8(e.what()));
    }
    const bool complete = !failed && done == n;
    if (!failed)
        message = complete && !diverged.isEmpty()
                      ? tr("Sweep finished: %n trial(s); diverged: %1.", nullptr, int(n))
                            .arg(diverged.join(QStringLiteral(", ")))
                  : complete ? tr("Sweep finished: %n trial(s).", nullptr, int(n))
                             : tr("Sweep stopped after %1 of %2 trials; start it again to resume.")
                                   .arg(done)
                                   .arg(n);
    Q_EMIT finished(complete, message);
}

} // namespace bitbench
