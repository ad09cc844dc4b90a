// Sweep queue: trains every trial once into the database, and a sweep stopped in the middle of a
// trial resumes from its checkpoint without training finished trials again or duplicating runs.
#include "sweep_panel.h"
#include "sweep_queue.h"
#include "runs_database.h"

#include "test_runs_fixture.h"

#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <set>

using namespace bitbench;

class TestRunsSweep : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void resumesWithoutDuplicates();
    void panelPreviewAndResults();
};

namespace {

SweepRequest request(const std::string& db) {
    SweepRequest r;
    r.sweep = {{"name", "resume-test"},
               {"base", test::tinyExperimentJson("2-8-8-8")},
               {"patterns", {"2888", "2884", "28f8"}}};
    r.dbPath = db;
    r.threads = 1;
    return r;
}

} // namespace

void TestRunsSweep::resumesWithoutDuplicates() {
    QTemporaryDir dir;
    const std::string db = dir.filePath(QStringLiteral("runs.db")).toStdString();
    std::vector<int> plans;
    {
        SweepQueue q;
        bool stopped = false;
        // Direct: runs on the worker, so the stop lands inside the second trial, not after it.
        connect(
            &q, &SweepQueue::progress, &q,
            [&](double f) {
                if (f > 0.45 && !stopped) {
                    stopped = true;
                    q.stop();
                }
            },
            Qt::DirectConnection);
        QSignalSpy finished(&q, &SweepQueue::finished);
        QString error;
        QVERIFY2(q.start(request(db), &error), qPrintable(error));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60000);
        QCOMPARE(finished.front().at(0).toBool(), false); // stopped, not complete
        QTRY_VERIFY(!q.running());
    }
    RunStore store = RunStore::open(db, StoreAccess::ReadOnly);
    QCOMPARE(store.runsList().size(), size_t(2)); // trial 3 never started
    QCOMPARE(store.runsList().back().status, RunStatus::Interrupted);
    QVERIFY(store.runsList().back().epochs < 2);

    SweepQueue q;
    QSignalSpy started(&q, &SweepQueue::trialStarted);
    QSignalSpy finished(&q, &SweepQueue::finished);
    QVERIFY(q.start(request(db)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 60000);
    QCOMPARE(finished.front().at(0).toBool(), true);
    QTRY_VERIFY(!q.running());
    QCOMPARE(started.size(), 3);
    QCOMPARE(started[0].at(2).toInt(), int(TrialPlan::Skip));
    QCOMPARE(started[1].at(2).toInt(), int(TrialPlan::Resume));
    QCOMPARE(started[2].at(2).toInt(), int(TrialPlan::Train));

    const auto runs = store.runsList();
    QCOMPARE(runs.size(), size_t(3));
    for (const auto& r : runs) {
        QCOMPARE(r.status, RunStatus::Finished);
        QCOMPARE(r.epochs, 2);
        // Each run records its data as `train` does: generated data, no files to fingerprint.
        QCOMPARE(r.info.dataFingerprint, std::string("[]"));
    }
    QCOMPARE(store.sweepsList().size(), size_t(1)); // the same sweep, resumed
    const auto trials = store.sweepTrialsGet(q.sweepId());
    QCOMPARE(trials.size(), size_t(3));
    std::set<int64_t> ids;
    for (const auto& t : trials) {
        QCOMPARE(t.status, TrialStatus::Finished);
        ids.insert(t.runId);
    }
    QCOMPARE(ids.size(), size_t(3));

    // The resumed trial ends where an uninterrupted run of the same config ends.
    const std::string fresh = dir.filePath(QStringLiteral("fresh.db")).toStdString();
    nlohmann::json e = test::tinyExperimentJson("2-8-8-4");
    e["name"] = "tiny-mlp@2-8-8-4";
    const int64_t ref = test::trainTinyRun(fresh, e);
    const auto a = RunStore::open(fresh, StoreAccess::ReadOnly).epochsGet(ref);
    const auto b = store.epochsGet(started[1].at(1).toLongLong());
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        QCOMPARE(a[i].weightsHash, b[i].weightsHash);

    // A third start trains nothing.
    SweepQueue again;
    QSignalSpy s3(&again, &SweepQueue::trialStarted);
    QSignalSpy f3(&again, &SweepQueue::finished);
    QVERIFY(again.start(request(db)));
    // Every trial is skipped, so the worker may emit finished before a QSignalSpy::wait() would
    // begin (wait() only counts signals that arrive after it starts): poll the count instead.
    QTRY_COMPARE_WITH_TIMEOUT(f3.size(), 1, 60000);
    for (const auto& s : s3)
        QCOMPARE(s.at(2).toInt(), int(TrialPlan::Skip));
    QCOMPARE(store.runsList().size(), size_t(3));
}

void TestRunsSweep::panelPreviewAndResults() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    const int64_t base = test::trainTinyRun(db.toStdString(), test::tinyExperimentJson("2-8-8-8"));
    RunsDatabase rdb;
    QVERIFY(rdb.open(db));
    SweepPanel p(&rdb);
    p.setBaseRun(base);
    p.setMode(SweepPanel::Mode::Classes);
    p.setClassValues({QStringLiteral("2"), QStringLiteral("8"), QStringLiteral("4, 8"),
                      QStringLiteral("4,6,8")});
    QCOMPARE(p.updatePreview(), 6);
    p.setMode(SweepPanel::Mode::Layers);
    p.setLayerLines(QStringLiteral("fc1 W 2,4\nfc2 A 4,8"));
    QCOMPARE(p.updatePreview(), 4);
    p.setLayerLines(QStringLiteral("fc1 W"));
    QCOMPARE(p.updatePreview(), -1);

    p.setMode(SweepPanel::Mode::Classes);
    p.setClassValues(
        {QStringLiteral("2"), QStringLiteral("8"), QStringLiteral("8,f"), QStringLiteral("4,8")});
    p.setSweepName(QStringLiteral("ge"));
    QSignalSpy finished(p.queue(), &SweepQueue::finished);
    QString error;
    QVERIFY2(p.startSweep(&error), qPrintable(error));
    QVERIFY(finished.wait(120000));
    QTRY_VERIFY(!p.queue()->running());
    rdb.refresh();
    p.showSweep(p.queue()->sweepId());
    QCOMPARE(p.results()->rowCount(), 4); // G {8, f} x E {4, 8}
    for (int r = 0; r < 4; ++r)
        QCOMPARE(p.results()->item(r, 2)->text(), QStringLiteral("finished"));
    if (const QByteArray shots = qgetenv("BITBENCH_RUNS_SCREENSHOTS"); !shots.isEmpty()) {
        p.resize(1200, 800);
        p.grab().save(QString::fromLocal8Bit(shots) + QStringLiteral("/sweeps.png"));
    }
}

QTEST_MAIN(TestRunsSweep)
#include "test_runs_sweep.moc"
