// Training from the GUI controller: a short real run produces curves and a stored run; pause and
// stop work between steps and leave a resumable run.
#include "curves_panel.h"
#include "training_controller.h"

#include "bitbench/dataset.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/qcp.h"

#include <nlohmann/json.hpp>

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace bitbench;
using nlohmann::json;

namespace {

TrainingRequest tinyRequest(const QString& db, int epochs, int statsInterval = 4) {
    const json model = json::parse(R"({"name": "tiny", "input": {"height": 8, "width": 8, "channels": 1},
      "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 3, "pool": true, "relu": true},
                 {"name": "fc1", "type": "fc", "out": 12, "relu": true},
                 {"name": "fc2", "type": "fc", "out": 10}]})");
    const json j = {{"name", "gui-tiny"}, {"model", model}, {"dataset", "synthetic"}, {"bits", "2-8-8-8"},
                    {"batch", 16},         {"epochs", epochs}, {"lr", 8},             {"seed", 3},
                    {"stats_interval", statsInterval}, {"train_limit", 256}, {"test_limit", 64}};
    TrainingRequest r;
    r.experiment = experiment_from_json(j);
    r.dbPath = db.toStdString();
    r.threads = 1;
    return r;
}

} // namespace

class TestAppTraining : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void shortRunMakesCurvesAndStoredRun() {
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("runs.db"));
        TrainingController c;
        CurvesPanel curves;
        int batches = 0, stepsSeen = 0, statsSeen = 0;
        connect(&c, &TrainingController::runStarted, this,
                [&](qint64, qint64, qint64 perEpoch, int batch, const QString&) { curves.reset(perEpoch, batch); });
        connect(&c, &TrainingController::batchReady, this, [&](const MetricsBatch& b) {
            ++batches;
            stepsSeen += int(b.steps.size());
            statsSeen += int(b.stats.size());
            curves.append(b.steps, b.epochs);
            curves.flush();
        });
        QSignalSpy finished(&c, &TrainingController::runFinished);
        QVERIFY(c.start(tinyRequest(db, 2)));
        QVERIFY(c.busy());
        QString err;
        QVERIFY(!c.start(tinyRequest(db, 2), &err)); // one run at a time
        QVERIFY(!err.isEmpty());
        QVERIFY(finished.wait(60000));
        QCOMPARE(finished.first().at(0).toInt(), int(TrainingOutcome::Finished));
        QCOMPARE(c.state(), TrainingController::State::Idle);

        // 256 images / 16 = 16 steps per epoch, 2 epochs; every step reaches the curves once.
        QCOMPARE(stepsSeen, 32);
        QCOMPARE(curves.lossPlot()->pointCount(curves.trainLossSeries()), 32);
        QCOMPARE(curves.errorPlot()->pointCount(curves.testErrorSeries()), 2);
        QCOMPARE(statsSeen, 8); // every 4th step
        // Coalesced: 32 steps of a tiny model arrive in far fewer drains than steps.
        QVERIFY2(batches < 32, qPrintable(QStringLiteral("%1 batches").arg(batches)));
        QCOMPARE(c.drainCount(), qint64(batches));
        // Against epochs the same points move to fractional epochs; epoch ends land on 1 and 2.
        curves.setAxis(CurvesPanel::Axis::Epoch);
        QCOMPARE(curves.lossPlot()->pointCount(curves.trainLossSeries()), 32);
        const auto testPts = curves.errorPlot()->rawGraph(curves.testErrorSeries())->data();
        QCOMPARE(testPts->size(), 2);
        QCOMPARE(testPts->at(1)->key, 2.0);
        QCOMPARE(curves.lossPlot()->rawGraph(curves.trainLossSeries())->data()->at(0)->key, 1.0 / 16);

        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        const auto runs = store.runsList();
        QCOMPARE(int(runs.size()), 1);
        QCOMPARE(runs[0].status, RunStatus::Finished);
        QCOMPARE(runs[0].info.bitsPattern, std::string("2-8-8-8"));
        QCOMPARE(qint64(runs[0].id), finished.first().at(2).toLongLong());
        QCOMPARE(int(store.metricsGet(runs[0].id, "loss").size()), 32);
        QCOMPARE(int(store.epochsGet(runs[0].id).size()), 2);
        QVERIFY(!store.tensorStatsGet(runs[0].id).empty());
    }

    // A float run whose loss overflows: the worker stops it, stores it diverged with the step,
    // and reports the outcome and a message for the status bar.
    void divergedRunIsReportedAndStored() {
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("runs.db"));
        TrainingRequest r = tinyRequest(db, 3);
        r.experiment =
            experiment_from_json(json::parse(R"({"name": "gui-diverge", "dataset": "synthetic",
          "bits": "ffff", "batch": 16, "lr": 8, "lr_float": 1000, "seed": 4, "train_limit": 256,
          "test_limit": 64, "epochs": 3,
          "model": {"name": "tiny28", "input": {"height": 28, "width": 28, "channels": 1},
            "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 5, "pool": true, "relu": true},
                       {"name": "fc1", "type": "fc", "out": 16, "relu": true},
                       {"name": "fc2", "type": "fc", "out": 10}]}})"));
        TrainingController c;
        qint64 stepsSeen = 0;
        connect(&c, &TrainingController::batchReady, this,
                [&](const MetricsBatch& b) { stepsSeen += qint64(b.steps.size()); });
        QSignalSpy finished(&c, &TrainingController::runFinished);
        QVERIFY(c.start(r));
        QVERIFY(finished.wait(60000));
        QCOMPARE(c.state(), TrainingController::State::Idle);
        const QList<QVariant> f = finished.first();
        QCOMPARE(f.at(0).toInt(), int(TrainingOutcome::Diverged));
        const QString message = f.at(1).toString();
        QVERIFY2(message.contains(QStringLiteral("diverged at step")), qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("lr_float")), qPrintable(message));

        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        const RunRecord run = store.runGet(f.at(2).toLongLong());
        QCOMPARE(run.status, RunStatus::Diverged);
        QVERIFY(run.statusStep >= 0 && run.statusStep < 3 * 16);
        QCOMPARE(stepsSeen, run.statusStep); // the good steps reached the GUI, the bad one did not
        QVERIFY(QString::fromStdString(run.statusMessage)
                    .startsWith(QStringLiteral("training diverged at step")));
        QVERIFY(message.endsWith(QString::fromStdString(run.statusMessage)));

        // Resuming it would diverge again: refused with the reason.
        TrainingRequest again = tinyRequest(db, 3);
        again.resumeRunId = run.id;
        QSignalSpy refused(&c, &TrainingController::runFinished);
        QVERIFY(c.start(again));
        QVERIFY(refused.wait(30000));
        QCOMPARE(refused.first().at(0).toInt(), int(TrainingOutcome::Failed));
        QVERIFY2(refused.first().at(1).toString().contains(
                     QStringLiteral("diverged and cannot be resumed")),
                 qPrintable(refused.first().at(1).toString()));
    }

    void pauseHoldsAndStopCheckpoints() {
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("runs.db"));
        TrainingController c;
        qint64 steps = 0;
        connect(&c, &TrainingController::batchReady, this, [&](const MetricsBatch& b) { steps += qint64(b.steps.size()); });
        QSignalSpy finished(&c, &TrainingController::runFinished);
        QVERIFY(c.start(tinyRequest(db, 1000, 0)));
        QTRY_VERIFY_WITH_TIMEOUT(steps > 0, 30000);

        c.pause();
        QCOMPARE(c.state(), TrainingController::State::Paused);
        // The worker finishes the step under way, then waits: the count settles and stays.
        QTest::qWait(300);
        const qint64 held = steps;
        QTest::qWait(400);
        QCOMPARE(steps, held);

        c.resume();
        QCOMPARE(c.state(), TrainingController::State::Running);
        QTRY_VERIFY_WITH_TIMEOUT(steps > held + 5, 30000);

        c.stop();
        QCOMPARE(c.state(), TrainingController::State::Stopping);
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toInt(), int(TrainingOutcome::Stopped));
        const qint64 stoppedAt = finished.first().at(3).toLongLong();
        QVERIFY(stoppedAt < 1000 * 16);
        QCOMPARE(steps, stoppedAt); // everything the trainer did reached the GUI

        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        const auto runs = store.runsList();
        QCOMPARE(int(runs.size()), 1);
        QCOMPARE(runs[0].status, RunStatus::Interrupted);
        const auto cp = store.checkpointLatest(runs[0].id);
        QVERIFY(cp.has_value());
        QCOMPARE(qint64(cp->step), stoppedAt);

        // The checkpoint resumes a trainer at the same position.
        TrainingRequest r = tinyRequest(db, 1000, 0);
        const Dataset data = dataset_for_experiment(r.experiment, {});
        Trainer t(r.experiment, data, 1);
        t.checkpointLoad(cp->blob);
        QCOMPARE(qint64(t.globalStep()), stoppedAt);
    }

    void resumedRunEndsLikeAnUninterruptedOne() {
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("runs.db"));
        TrainingController c;
        QSignalSpy finished(&c, &TrainingController::runFinished);
        qint64 steps = 0;
        connect(&c, &TrainingController::batchReady, this, [&](const MetricsBatch& b) { steps += qint64(b.steps.size()); });
        // Reference: 30 epochs (480 steps) straight through: long enough to stop the second one part-way.
        QVERIFY(c.start(tinyRequest(db, 30)));
        QVERIFY(finished.wait(60000));
        const qint64 reference = finished.takeFirst().at(2).toLongLong();

        // The same experiment stopped part-way (between steps), then resumed from its checkpoint.
        steps = 0;
        QVERIFY(c.start(tinyRequest(db, 30)));
        QTRY_VERIFY_WITH_TIMEOUT(steps >= 3, 30000);
        c.pause();
        c.stop();
        QVERIFY(finished.wait(30000));
        QList<QVariant> stopped = finished.takeFirst();
        QCOMPARE(stopped.at(0).toInt(), int(TrainingOutcome::Stopped));
        const qint64 runId = stopped.at(2).toLongLong();
        QVERIFY(stopped.at(3).toLongLong() < 480);

        TrainingRequest resume;
        resume.resumeRunId = runId;
        resume.dbPath = db.toStdString();
        resume.threads = 2; // results do not depend on it
        QVERIFY(c.start(std::move(resume)));
        QVERIFY(finished.wait(60000));
        QCOMPARE(finished.first().at(0).toInt(), int(TrainingOutcome::Finished));
        QCOMPARE(finished.first().at(2).toLongLong(), runId);

        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        QCOMPARE(store.runGet(runId).status, RunStatus::Finished);
        QCOMPARE(int(store.metricsGet(runId, "loss").size()), 480);
        const auto a = store.epochsGet(reference), b = store.epochsGet(runId);
        QCOMPARE(int(a.size()), 30);
        QCOMPARE(int(b.size()), 30);
        for (int i = 0; i < 30; ++i) QCOMPARE(b[size_t(i)].weightsHash, a[size_t(i)].weightsHash);
        // Every epoch end left a checkpoint (the last one at the final step).
        QCOMPARE(qint64(store.checkpointLatest(runId)->step), qint64(480));
    }

    void stopWhilePausedEndsPromptly() {
        QTemporaryDir dir;
        TrainingController c;
        QSignalSpy started(&c, &TrainingController::runStarted);
        QSignalSpy finished(&c, &TrainingController::runFinished);
        QVERIFY(c.start(tinyRequest(dir.filePath(QStringLiteral("runs.db")), 1000, 0)));
        QVERIFY(started.wait(30000));
        c.pause();
        c.stop();
        QVERIFY(finished.wait(30000));
        QCOMPARE(finished.first().at(0).toInt(), int(TrainingOutcome::Stopped));
        QVERIFY(!c.busy());
    }
};

QTEST_MAIN(TestAppTraining)
#include "test_app_training.moc"
