// RunWriter: readback of every event type, batching, checkpoints, resume, concurrent writer
// processes, crash detection (interrupted runs) and a full disk.
#include "bitbench/error.h"
#include "bitbench/store.h"
#include "test_store_synthetic.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <cmath>

using namespace bitbench;
using namespace bitbench::test;

namespace {

RunInfo info(const std::string& name) {
    return RunInfo{name, "{}", "{}", "cfg-" + name, 3, "2-8-8-8", "lenet5", "mnist", "", ""};
}

QProcess* startHelper(QObject* parent, const QStringList& args) {
    auto* p = new QProcess(parent);
    p->start(QStringLiteral(BITBENCH_STORE_HELPER), args);
    return p;
}

int64_t helperRunId(QProcess* p) {
    return QString::fromUtf8(p->readAllStandardOutput()).trimmed().toLongLong();
}

void rawExec(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_busy_timeout(db, 10000);
    QCOMPARE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
}

bool sameDouble(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) || a == b;
}

void compareStats(const TensorStats& got, const TensorStats& want) {
    QCOMPARE(got.step, want.step);
    QCOMPARE(got.layer, want.layer);
    QCOMPARE(got.layerName, want.layerName);
    QCOMPARE(int(got.cls), int(want.cls));
    QCOMPARE(got.bits, want.bits);
    QCOMPARE(got.quantStep, want.quantStep);
    QCOMPARE(got.clipLo, want.clipLo);
    QCOMPARE(got.clipHi, want.clipHi);
    QCOMPARE(got.maxAbs, want.maxAbs);
    QCOMPARE(got.saturation, want.saturation);
    QCOMPARE(got.underflow, want.underflow);
    QVERIFY(sameDouble(got.sqnrDb, want.sqnrDb));
    QCOMPARE(got.values.lo, want.values.lo);
    QCOMPARE(got.values.hi, want.values.hi);
    QCOMPARE(got.values.counts, want.values.counts);
    QCOMPARE(got.error.lo, want.error.lo);
    QCOMPARE(got.error.hi, want.error.hi);
    QCOMPARE(got.error.counts, want.error.counts);
}

} // namespace

class TestStoreWriter : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsBackEveryEventType() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        RunStore store = RunStore::open(p);
        const int64_t id = store.runCreate(info("all events"), 0); // keeps every checkpoint
        {
            RunWriter w(p, id);
            for (int64_t s = 0; s < 120; ++s) {
                const int32_t epoch = int32_t(s / 60);
                w.onStep(syntheticStep(s, epoch));
                if (s % 50 == 0) w.onTensorStats(syntheticStats(s));
                if (s % 60 == 59) {
                    w.onEpoch(syntheticEpoch(epoch, s + 1));
                    w.checkpointPut(s + 1, epoch, syntheticBlob(5000, uint8_t(epoch)));
                }
            }
            w.finish(RunStatus::Finished, R"({"test_error":0.035})");
        }
        const RunRecord r = store.runGet(id);
        QCOMPARE(r.status, RunStatus::Finished);
        QCOMPARE(r.summaryJson, std::string(R"({"test_error":0.035})"));
        QCOMPARE(r.epochs, 2);
        QCOMPARE(r.steps, int64_t(120));
        QCOMPARE(r.checkpoints, 2);

        const char* keys[] = {"loss", "error", "lr", "images_per_s"};
        for (const char* key : keys) {
            const auto pts = store.metricsGet(id, key);
            QCOMPARE(pts.size(), size_t(120));
            for (int64_t s = 0; s < 120; ++s) {
                const StepMetrics m = syntheticStep(s, int32_t(s / 60));
                const double want = std::string(key) == "loss"    ? m.loss
                                    : std::string(key) == "error" ? m.error
                                    : std::string(key) == "lr"    ? m.learningRate
                                                                  : m.imagesPerSecond;
                QCOMPARE(pts[size_t(s)].step, s);
                QCOMPARE(pts[size_t(s)].epoch, int32_t(s / 60));
                QCOMPARE(pts[size_t(s)].value, want);
            }
        }
        const auto allKeys = store.metricKeys(id);
        QCOMPARE(allKeys.size(), size_t(10));

        const auto epochs = store.epochsGet(id);
        QCOMPARE(epochs.size(), size_t(2));
        for (int32_t e = 0; e < 2; ++e) {
            const EpochMetrics want = syntheticEpoch(e, 60 * (e + 1));
            const EpochMetrics& got = epochs[size_t(e)];
            QCOMPARE(got.epoch, want.epoch);
            QCOMPARE(got.step, want.step);
            QCOMPARE(got.trainLoss, want.trainLoss);
            QCOMPARE(got.trainError, want.trainError);
            QCOMPARE(got.testLoss, want.testLoss);
            QCOMPARE(got.testError, want.testError);
            QCOMPARE(got.weightsHash, want.weightsHash);
            QCOMPARE(got.seconds, want.seconds);
            QCOMPARE(got.imagesPerSecond, want.imagesPerSecond);
        }

        const auto stats = store.tensorStatsGet(id);
        QCOMPARE(stats.size(), size_t(3 * 8));
        for (int k = 0; k < 3; ++k) {
            const auto want = syntheticStats(50 * k);
            for (size_t i = 0; i < want.size(); ++i)
                compareStats(stats[size_t(k) * 8 + i], want[i]);
        }
        QCOMPARE(store.tensorStatsGet(id, 50, 50).size(), size_t(8));

        const auto hist = store.histogramsGet(id, 1, TensorClass::G, HistogramKind::Error, 1, 100);
        QCOMPARE(hist.size(), size_t(2));
        QCOMPARE(hist[0].step, int64_t(50));
        QCOMPARE(hist[1].step, int64_t(100));
        QCOMPARE(hist[1].hist.counts, syntheticStats(100)[6].error.counts);
        QCOMPARE(hist[1].quantStep, syntheticStats(100)[6].quantStep);

        const auto ck = store.checkpointLatest(id);
        QVERIFY(ck);
        QCOMPARE(ck->step, int64_t(120));
        QCOMPARE(ck->epoch, 1);
        QCOMPARE(ck->blob, syntheticBlob(5000, 1));
        QVERIFY(!ck->createdAt.empty());
    }

    // Many events, few transactions: commits come from the timer and epoch ends, not per event.
    void batchesCommits() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        RunStore store = RunStore::open(p);
        const int64_t id = store.runCreate(info("batched"));
        RunWriter w(p, id);
        for (int64_t s = 0; s < 2000; ++s)
            w.onStep(syntheticStep(s, 0));
        w.flush();
        QVERIFY2(w.commitCount() >= 1 && w.commitCount() <= 40,
                 qPrintable(QString::number(w.commitCount())));
        QCOMPARE(store.metricsGet(id, "loss").size(), size_t(2000));
        // Without any flush, the timer commits what is queued.
        w.onStep(syntheticStep(2000, 0));
        QTRY_COMPARE_WITH_TIMEOUT(store.metricsGet(id, "loss").size(), size_t(2001), 20000);
        // An epoch end is committed without a flush or the trainer waiting.
        w.onEpoch(syntheticEpoch(0, 2001));
        QTRY_COMPARE_WITH_TIMEOUT(store.epochsGet(id).size(), size_t(1), 20000);
        w.finish(RunStatus::Finished, "");
        QCOMPARE(store.runGet(id).summaryJson, std::string());
    }

    void checkpointIsCommittedOnReturn() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        const int64_t id = RunStore::open(p).runCreate(info("ckpt"));
        RunWriter w(p, id);
        for (int64_t s = 0; s < 30; ++s)
            w.onStep(syntheticStep(s, 0));
        w.checkpointPut(30, 0, {});
        RunStore reader = RunStore::open(p, StoreAccess::ReadOnly);
        QCOMPARE(reader.metricsGet(id, "loss").size(), size_t(30));
        auto ck = reader.checkpointLatest(id);
        QVERIFY(ck);
        QCOMPARE(ck->step, int64_t(30));
        QVERIFY(ck->blob.empty());
        w.checkpointPut(30, 0, {9, 9}); // same step: replaced
        ck = reader.checkpointLatest(id);
        QCOMPARE(ck->blob, std::vector<uint8_t>({9, 9}));
        QCOMPARE(reader.runGet(id).checkpoints, 1);
        w.finish(RunStatus::Finished, "{}");
        QVERIFY_THROWS_EXCEPTION(StoreError, w.onStep(syntheticStep(31, 0)));
    }

    // A resumed run re-runs the steps after its checkpoint: they replace the stored ones.
    void resumeRewritesSteps() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        RunStore store = RunStore::open(p);
        const int64_t id = store.runCreate(info("resumed"));
        {
            RunWriter w(p, id);
            for (int64_t s = 0; s < 80; ++s)
                w.onStep(syntheticStep(s, 0));
            // destroyed without finish: interrupted
        }
        QCOMPARE(store.runGet(id).status, RunStatus::Interrupted);
        RunWriter w(p, id);
        QCOMPARE(store.runGet(id).status, RunStatus::Running);
        QVERIFY(store.runGet(id).endedAt.empty());
        for (int64_t s = 50; s < 100; ++s)
            w.onStep(syntheticStep(s, 0, 1.0));
        w.finish(RunStatus::Finished, "{}");
        const auto loss = store.metricsGet(id, "loss");
        QCOMPARE(loss.size(), size_t(100));
        QCOMPARE(loss[49].value, syntheticStep(49, 0).loss);
        QCOMPARE(loss[50].value, syntheticStep(50, 0, 1.0).loss);
        QCOMPARE(store.runGet(id).status, RunStatus::Finished);
    }

    void concurrentWriterProcesses() {
        QTemporaryDir dir;
        // The database does not exist yet: both processes also race to create and migrate it.
        const std::string p = dir.filePath("shared.db").toStdString();
        const QString db = QString::fromStdString(p);
        QProcess* a = startHelper(this, {"write", db, "alpha", "600", "1500"});
        QProcess* b = startHelper(this, {"write", db, "beta", "600", "1500"});
        int64_t own = 0;
        {
            // This process writes a third run meanwhile.
            QVERIFY(a->waitForStarted() && b->waitForStarted());
            RunStore store = RunStore::open(p);
            own = store.runCreate(info("gamma"), 0); // keeps every checkpoint
            RunWriter w(p, own);
            for (int64_t s = 0; s < 600; ++s) {
                w.onStep(syntheticStep(s, int32_t(s / 50)));
                if (s % 50 == 49) w.checkpointPut(s + 1, int32_t(s / 50), syntheticBlob(2048, 1));
                if (s % 20 == 0) store.runsList(); // and reads through another connection
            }
            w.finish(RunStatus::Finished, "{}");
        }
        QVERIFY(a->waitForFinished(120000) && b->waitForFinished(120000));
        const QByteArray errA = a->readAllStandardError(), errB = b->readAllStandardError();
        QVERIFY2(a->exitCode() == 0, errA.constData());
        QVERIFY2(b->exitCode() == 0, errB.constData());
        QVERIFY(!errA.contains("locked") && !errB.contains("locked"));
        const int64_t ids[] = {helperRunId(a), helperRunId(b), own};
        RunStore store = RunStore::open(p);
        QCOMPARE(store.runsList().size(), size_t(3));
        for (int64_t id : ids) {
            const RunRecord r = store.runGet(id);
            QVERIFY2(r.status == RunStatus::Finished,
                     qPrintable(
                         QStringLiteral("run %1 (%2) is %3")
                             .arg(id)
                             .arg(QString::fromStdString(r.info.name), run_status_name(r.status))));
            QCOMPARE(store.metricsGet(id, "loss").size(), size_t(600));
            QCOMPARE(r.checkpoints, 12);
        }
        QCOMPARE(store.epochsGet(ids[0]).size(), size_t(12));
        QCOMPARE(store.tensorStatsGet(ids[1]).size(), size_t(60 * 8));
    }

    void crashedRunIsMarkedInterrupted() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        QProcess* c = startHelper(this, {"crash", QString::fromStdString(p), "doomed", "120"});
        QVERIFY(c->waitForFinished(60000));
        QCOMPARE(c->exitCode(), 9);
        const int64_t id = helperRunId(c);
        QVERIFY(id > 0);
        // A run of this (live) process and one written on another machine stay running.
        int64_t mine = 0, remote = 0;
        {
            sqlite3* raw = nullptr;
            sqlite3_open(p.c_str(), &raw);
            sqlite3_stmt* st = nullptr;
            sqlite3_prepare_v2(raw, "SELECT status FROM runs WHERE id = ?", -1, &st, nullptr);
            sqlite3_bind_int64(st, 1, id);
            QCOMPARE(sqlite3_step(st), SQLITE_ROW);
            QCOMPARE(QByteArray(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))),
                     QByteArray("running")); // nobody has looked yet
            sqlite3_finalize(st);
            sqlite3_close(raw);
        }
        RunStore store = RunStore::open(p);
        QCOMPARE(store.runGet(id).status, RunStatus::Interrupted);
        QVERIFY(!store.runGet(id).endedAt.empty());
        QCOMPARE(store.metricsGet(id, "loss").size(), size_t(120));
        QCOMPARE(store.checkpointLatest(id)->step, int64_t(100));

        mine = store.runCreate(info("alive"));
        remote = store.runCreate(info("elsewhere"));
        rawExec(p, ("UPDATE runs SET writer_host = 'another-machine', writer_pid = 1 WHERE id = " +
                    std::to_string(remote))
                       .c_str());
        QCOMPARE(store.runsMarkInterrupted(), 0);
        RunStore again = RunStore::open(p);
        QCOMPARE(again.runGet(mine).status, RunStatus::Running);
        QCOMPARE(again.runGet(remote).status, RunStatus::Running);
        // A recycled pid with another start time is not the writer.
        rawExec(p,
                ("UPDATE runs SET writer_token = 'other-boot:1' WHERE id = " + std::to_string(mine))
                    .c_str());
        QCOMPARE(again.runsMarkInterrupted(), 1);
        QCOMPARE(again.runGet(mine).status, RunStatus::Interrupted);
    }

    void fullDiskGivesStoreErrorAndKeepsRuns() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        const QString db = QString::fromStdString(p);
        QProcess* w = startHelper(this, {"write", db, "before", "400"});
        QVERIFY(w->waitForFinished(60000));
        QCOMPARE(w->exitCode(), 0);
        const int64_t before = helperRunId(w);

        QProcess* f = startHelper(this, {"fill", db, QString::number(512 * 1024)});
        QVERIFY(f->waitForFinished(120000));
        const QString err = QString::fromUtf8(f->readAllStandardError());
        QVERIFY2(f->exitCode() == 4, qPrintable(err));
        QVERIFY2(err.contains(QStringLiteral("no space left for the database")), qPrintable(err));
        QVERIFY2(err.contains(db), qPrintable(err));
        const int64_t filled = helperRunId(f);

        RunStore store = RunStore::open(p);
        {
            sqlite3* raw = nullptr;
            sqlite3_open(p.c_str(), &raw);
            sqlite3_stmt* st = nullptr;
            sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &st, nullptr);
            QCOMPARE(sqlite3_step(st), SQLITE_ROW);
            QCOMPARE(QByteArray(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))),
                     QByteArray("ok"));
            sqlite3_finalize(st);
            sqlite3_close(raw);
        }
        const RunRecord r = store.runGet(before);
        QCOMPARE(r.status, RunStatus::Finished);
        QCOMPARE(store.metricsGet(before, "loss").size(), size_t(400));
        QCOMPARE(store.epochsGet(before).size(), size_t(8));
        QCOMPARE(store.tensorStatsGet(before).size(), size_t(40 * 8));
        // The filling run kept what was committed before the failure and is no longer running.
        const RunRecord fr = store.runGet(filled);
        QVERIFY(fr.status == RunStatus::Interrupted || fr.status == RunStatus::Failed);
        QVERIFY(fr.checkpoints >= 1);
        const auto ck = store.checkpointLatest(filled);
        QCOMPARE(ck->blob, syntheticBlob(32 * 1024, uint8_t(ck->step)));
    }

    // Not an assertion on speed: prints what the trainer thread pays per step at the trainer's
    // event rates (every step; 16 tensors x 2 histograms of 64 bins every 50 steps).
    void measuresTrainerSideCost() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        const int64_t id = RunStore::open(p).runCreate(info("cost"));
        RunWriter w(p, id);
        const int64_t steps = 6000;
        const auto stats = syntheticStats(0, 4);
        QElapsedTimer t;
        t.start();
        qint64 callNs = 0;
        for (int64_t s = 0; s < steps; ++s) {
            QElapsedTimer c;
            c.start();
            w.onStep(syntheticStep(s, int32_t(s / 600)));
            if (s % 50 == 0) w.onTensorStats(stats);
            if (s % 600 == 599) w.onEpoch(syntheticEpoch(int32_t(s / 600), s + 1));
            callNs += c.nsecsElapsed();
        }
        const qint64 handNs = t.nsecsElapsed();
        w.flush();
        const qint64 totalNs = t.nsecsElapsed();
        qInfo("trainer thread: %.2f us per step in observer calls; writer: %lld steps stored in "
              "%.0f ms (%.0f steps/s), %lld commits",
              double(callNs) / 1000.0 / double(steps), static_cast<long long>(steps),
              double(totalNs) / 1e6, double(steps) / (double(totalNs) / 1e9),
              static_cast<long long>(w.commitCount()));
        Q_UNUSED(handNs);
        w.finish(RunStatus::Finished, "{}");
        QCOMPARE(RunStore::open(p).metricsGet(id, "loss").size(), size_t(steps));
    }
};

QTEST_MAIN(TestStoreWriter)
#include "test_store_writer.moc"
