// TrainingWorker: dataset, store and trainer on the worker thread; pause, stop and checkpoint.
#include "training_worker.h"

#include "bitbench/dataset.h"
#include "bitbench/error.h"
#include "bitbench/paths.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>

namespace bitbench {

namespace {

nlohmann::json summaryOf(const Trainer& t) {
    double best = 1, last = 1;
    for (const auto& h : t.history()) {
        best = std::min(best, h.testError);
        last = h.testError;
    }
    nlohmann::json j = {{"steps", t.globalStep()},
                        {"epochs", int64_t(t.history().size())},
                        {"engine", t.engine().kind()},
                        {"bits", t.experiment().bits.base.dashed()}};
    if (!t.history().empty()) {
        j["final_test_error"] = last;
        j["best_test_error"] = best;
        j["train_images_per_s"] = t.history().back().imagesPerSecond;
    }
    return j;
}

// Hands the engine's plans on at each statistics step: inside Trainer::step(), on the training
// thread, before the epoch's evaluation, so they are the plans of the step the statistics show.
class PlanTap : public TrainObserver {
public:
    PlanTap(const Trainer& t, TrainingWorker::PlansSink& sink) : m_t(t), m_sink(sink) {}
    void onTensorStats(const std::vector<TensorStats>&) override { m_sink(m_t.engine().quantPlans()); }

private:
    const Trainer& m_t;
    TrainingWorker::PlansSink& m_sink;
};

} // namespace

TrainingWorker::TrainingWorker(TrainingRequest request, TrainObserver* observer, PlansSink plans)
    : m_request(std::move(request)), m_observer(observer), m_plans(std::move(plans)) {}

void TrainingWorker::setPaused(bool paused) {
    {
        std::lock_guard lock(m_mutex);
        m_paused.store(paused);
    }
    m_wake.notify_all();
}

void TrainingWorker::requestStop() {
    {
        std::lock_guard lock(m_mutex);
        m_stop.store(true);
        if (m_trainer) m_trainer->requestStop();
    }
    m_wake.notify_all();
}

void TrainingWorker::run() {
    int64_t runId = m_request.resumeRunId;
    int64_t steps = 0;
    try {
        std::optional<CheckpointRecord> checkpoint;
        std::optional<Dataset> resumeData;
        EngineKind engine = EngineKind::Auto; // a new run: engine_select's rule
        if (runId) {
            // The stored configuration, not the panel's: a resumed run must be the same run.
            RunStore store = RunStore::open(m_request.dbPath);
            if (store.readOnly())
                throw StoreError("run database " + m_request.dbPath + " is read-only: " + store.readOnlyReason());
            const RunRecord rec = store.runGet(runId);
            if (rec.status == RunStatus::Finished)
                throw InputError("run " + std::to_string(runId) + " is already finished");
            if (rec.status == RunStatus::Running)
                throw InputError("run " + std::to_string(runId) + " is still running in another process");
            if (rec.status == RunStatus::Diverged)
                throw InputError("run " + std::to_string(runId) +
                                 " diverged and cannot be resumed: " + rec.statusMessage);
            m_request.experiment = run_experiment_of(rec);
            // The engine that trained the run: another one would round differently.
            engine = run_engine_of(rec, m_request.experiment);
            checkpoint = store.checkpointLatest(runId);
            // The run's own data folder (the panel's folder is for new runs), checked against the
            // fingerprint stored with the run; runs stored without one read the panel's folder.
            Q_EMIT status(tr("Loading %1 data…").arg(QString::fromStdString(rec.info.dataset)));
            resumeData =
                run_data_load(store, rec, m_request.experiment,
                              rec.info.dataDir.empty() ? m_request.dataDir : std::string());
        }
        const Experiment& e = m_request.experiment;
        if (!resumeData)
            Q_EMIT status(tr("Loading %1 data…").arg(QString::fromStdString(e.datasetKind)));
        const Dataset data =
            resumeData ? std::move(*resumeData) : dataset_for_experiment(e, m_request.dataDir);
        if (m_stop.load()) {
            Q_EMIT finished(int(TrainingOutcome::Stopped), tr("Stopped before training began"), runId, 0);
            return;
        }
        Trainer trainer(e, data, m_request.threads, engine);
        if (checkpoint) trainer.checkpointLoad(checkpoint->blob);

        if (!runId) {
            RunStore store = RunStore::open(m_request.dbPath);
            if (store.readOnly())
                throw StoreError("run database " + m_request.dbPath + " is read-only: " + store.readOnlyReason());
            RunInfo info = run_info_of(e, data, store);
            info.executor = trainer.engine().kind();
            runId = store.runCreate(info);
        }
        RunWriter writer(m_request.dbPath, runId);
        trainer.addObserver(&writer);
        PlanTap planTap(trainer, m_plans);
        if (m_plans) trainer.addObserver(&planTap);
        if (m_observer) trainer.addObserver(m_observer);
        {
            std::lock_guard lock(m_mutex);
            m_trainer = &trainer;
            if (m_stop.load()) trainer.requestStop();
        }
        Q_EMIT started(runId, trainer.totalSteps(), trainer.stepsPerEpoch(), e.batch,
                       QString::fromLatin1(trainer.engine().kind()));
        size_t epochsSeen = trainer.history().size();

        QString failure;
        int failureCode = 1;
        QString failureLine;
        try {
            for (;;) {
                {
                    std::unique_lock lock(m_mutex);
                    m_wake.wait(lock, [&] { return !m_paused.load() || m_stop.load(); });
                }
                if (m_stop.load()) break;
                const bool more = trainer.step();
                // A checkpoint at every epoch end, as bitbench-cli does: a crash loses one epoch at most.
                if (trainer.history().size() != epochsSeen) {
                    epochsSeen = trainer.history().size();
                    writer.checkpointPut(trainer.globalStep(), trainer.epoch(), trainer.checkpointSave());
                }
                if (!more) break;
            }
        } catch (const std::exception& ex) {
            failure = QString::fromUtf8(ex.what());
            failureCode = error_exit_code(ex);
            failureLine = QString::fromStdString(error_line(ex));
        }
        {
            std::lock_guard lock(m_mutex);
            m_trainer = nullptr;
        }
        steps = trainer.globalStep();
        const nlohmann::json summary = summaryOf(trainer);
        if (!failure.isEmpty()) {
            writer.finish(RunStatus::Failed, nlohmann::json{{"error", failure.toStdString()}}.dump());
            Q_EMIT failed(failureCode, failureLine);
            Q_EMIT finished(int(TrainingOutcome::Failed), failure, runId, steps);
        } else if (trainer.diverged()) {
            // No checkpoint of the non-finite weights: the last epoch's one stays the latest.
            const Divergence& d = trainer.divergence();
            writer.finish(RunStatus::Diverged, summary.dump(), d.step, d.message);
            Q_EMIT failed(5, QStringLiteral("run %1 stored as diverged: %2") // bitbench-cli's line
                                 .arg(runId)
                                 .arg(QString::fromStdString(d.message)));
            Q_EMIT finished(
                int(TrainingOutcome::Diverged),
                tr("Run %1 diverged: %2").arg(runId).arg(QString::fromStdString(d.message)), runId,
                steps);
        } else if (trainer.globalStep() >= trainer.totalSteps() && !m_stop.load()) {
            writer.finish(RunStatus::Finished, summary.dump());
            Q_EMIT finished(int(TrainingOutcome::Finished), tr("Finished"), runId, steps);
        } else {
            // A stop mid-run: keep the position so the run can be resumed to the same result.
            writer.checkpointPut(trainer.globalStep(), trainer.epoch(), trainer.checkpointSave());
            writer.finish(RunStatus::Interrupted, summary.dump());
            Q_EMIT finished(int(TrainingOutcome::Stopped),
                            tr("Stopped at step %1; checkpoint saved, run %2 can be resumed").arg(steps).arg(runId),
                            runId, steps);
        }
    } catch (const std::exception& ex) {
        Q_EMIT failed(error_exit_code(ex), QString::fromStdString(error_line(ex)));
        Q_EMIT finished(int(TrainingOutcome::Failed), QString::fromUtf8(ex.what()), runId, steps);
    }
}

} // namespace bitbench
