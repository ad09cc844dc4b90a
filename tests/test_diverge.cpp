// Divergence: a NaN or infinite loss or weight stops training as "diverged" with its step, in the
// trainer, the store, and bitbench-cli train, resume, runs show and sweep (exit code 5).
#include "test_cli_process.h"
#include "bitbench/analysis.h"
#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/run_recording.h"
#include "bitbench/store.h"
#include "bitbench/error.h"
#include "bitbench/trainer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <cmath>
#include <cstring>

using namespace bitbench;

namespace {

// A tiny float (`ffff`) model whose learning rate makes the SSE loss overflow within a few steps.
QByteArray tinyExperiment(const char* bits, double lrFloat, int epochs) {
    return QByteArray(R"({"name": "diverge-tiny", "dataset": "synthetic", "bits": ")") + bits +
           R"(", "batch": 32, "lr": 8, "lr_float": )" + QByteArray::number(lrFloat) +
           R"(, "seed": 4, "train_limit": 256, "test_limit": 128, "stats_interval": 3, "epochs": )" +
           QByteArray::number(epochs) + R"(,
      "model": {"name": "tiny", "input": {"height": 28, "width": 28, "channels": 1},
        "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 5, "pool": true, "relu": true},
                   {"name": "fc1", "type": "fc", "out": 16, "relu": true},
                   {"name": "fc2", "type": "fc", "out": 10}]}})";
}

Experiment experimentOf(const char* bits, double lrFloat, int epochs) {
    return experiment_from_json(
        nlohmann::json::parse(tinyExperiment(bits, lrFloat, epochs).toStdString()), ".");
}

struct StepCounter : TrainObserver {
    std::vector<int64_t> steps;
    int32_t epochs = 0;
    void onStep(const StepMetrics& s) override { steps.push_back(s.step); }
    void onEpoch(const EpochMetrics&) override { ++epochs; }
};

} // namespace

class TestDiverge : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    QString path(const QString& name) const { return m_dir.filePath(name); }

    void writeFile(const QString& name, const QByteArray& text) { test::fileWrite(path(name), text); }

    using Result = test::CliResult;

    static Result cli(const QStringList& args) { return test::cliRun(args); }

    static void exec(const QString& db, const char* sql) {
        sqlite3* h = nullptr;
        QCOMPARE(sqlite3_open(db.toUtf8().constData(), &h), SQLITE_OK);
        QCOMPARE(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(h);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        writeFile(QStringLiteral("ffff.json"), tinyExperiment("ffff", 1000, 3));
    }

    // The step whose loss is not finite ends training; observers never see it.
    void trainerStopsAtTheFirstNonFiniteLoss() {
        const Experiment e = experimentOf("ffff", 1000, 3);
        const Dataset data = dataset_for_experiment(e, "");
        Trainer t(e, data, 1);
        StepCounter seen;
        t.addObserver(&seen);
        while (t.step()) {
        }
        QVERIFY(t.diverged());
        QVERIFY(t.finished());
        QVERIFY(!t.step());
        const Divergence& d = t.divergence();
        QVERIFY(d.step >= 0 && d.step < t.totalSteps());
        QCOMPARE(d.epoch, 0);
        QCOMPARE(int64_t(seen.steps.size()), d.step); // steps 0 .. step-1 were reported
        QCOMPARE(seen.epochs, 0);
        QVERIFY2(QString::fromStdString(d.message).contains(
                     QStringLiteral("diverged at step %1 of 24").arg(d.step + 1)),
                 d.message.c_str());
        QVERIFY2(QString::fromStdString(d.message).contains(QStringLiteral("lr_float (now 1000)")),
                 d.message.c_str());
    }

    // A sane rate does not trip the check, and the integer engine has nothing to check.
    void finiteTrainingIsNotDiverged() {
        for (const char* bits : {"ffff", "2888"}) {
            const Experiment e = experimentOf(bits, 0.001, 2);
            const Dataset data = dataset_for_experiment(e, "");
            Trainer t(e, data, 1);
            while (t.step()) {
            }
            QVERIFY2(!t.diverged(), t.divergence().message.c_str());
            QCOMPARE(int(t.history().size()), 2);
        }
    }

    // The weight check names the layer (the graph executor: the parameter), whatever the loss
    // does.
    void floatEnginesFindNonFiniteWeights_data() {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("name");
        QTest::newRow("legacy float engine") << int(EngineKind::Float) << "fc1";
        QTest::newRow("graph executor") << int(EngineKind::Graph) << "fc1.w";
    }
    void floatEnginesFindNonFiniteWeights() {
        QFETCH(int, kind);
        QFETCH(QString, name);
        const Experiment e = experimentOf("ffff", 0.001, 1);
        auto engine = engine_create(e, EngineKind(kind));
        QCOMPARE(engine->weightsNonFinite(), std::string());
        std::vector<uint8_t> blob = engine->weightsSave();
        // Layout (both engines): magic, layer count, then per layer a count and the floats (the
        // graph executor's solver states follow, none for WAGE); poison fc1's first.
        const size_t conv1 = 100 * 4;
        const size_t fc1First = 8 + 8 + 8 + conv1 + 8;
        for (float bad : {NAN, INFINITY, -INFINITY}) {
            std::vector<uint8_t> b = blob;
            std::memcpy(b.data() + fc1First, &bad, 4);
            engine->weightsLoad(b);
            QCOMPARE(QString::fromStdString(engine->weightsNonFinite()), name);
        }
        engine->weightsLoad(blob);
        QCOMPARE(engine->weightsNonFinite(), std::string());
        auto integer = engine_create(experimentOf("2888", 0.001, 1));
        QCOMPARE(integer->weightsNonFinite(), std::string());
    }

    // The recording loop stores the status, step and message, and no checkpoint of bad weights.
    void recordingStoresDivergedRun() {
        const std::string db = path(QStringLiteral("core.db")).toStdString();
        const Experiment e = experimentOf("ffff", 1000, 3);
        const Dataset data = dataset_for_experiment(e, "");
        Trainer t(e, data, 1);
        int64_t id = 0;
        {
            RunStore store = RunStore::open(db);
            id = store.runCreate(run_info_of(e));
        }
        {
            RunWriter w(db, id);
            t.addObserver(&w);
            QVERIFY(!run_recording(t, &w, [] { return nlohmann::json::object(); }));
        }
        RunStore store = RunStore::open(db, StoreAccess::ReadOnly);
        const RunRecord r = store.runGet(id);
        QCOMPARE(r.status, RunStatus::Diverged);
        QCOMPARE(r.statusStep, t.divergence().step);
        QCOMPARE(r.statusMessage, t.divergence().message);
        QCOMPARE(r.checkpoints, 0);
        QCOMPARE(r.steps, t.divergence().step); // metrics of the good steps only
    }

    void cliTrainExitsDivergedAndRunsShowSaysWhere() {
        const QString db = path(QStringLiteral("train.db"));
        const Result r =
            cli({QStringLiteral("train"), path(QStringLiteral("ffff.json")), QStringLiteral("--db"),
                 db, QStringLiteral("--quiet"), QStringLiteral("--json")});
        QCOMPARE(r.code, 5);
        // One line, the last on stderr (--json sends the layer table there too).
        QCOMPARE(r.err.count("diverged"), 2);
        QVERIFY2(r.err.trimmed().split('\n').last().startsWith(
                     "bitbench-cli: run 1 stored as diverged: training diverged at step "),
                 r.err.constData());
        const QJsonObject s = r.last();
        QVERIFY2(s.contains(QStringLiteral("diverged")), r.out.constData());
        const int step =
            s.value(QStringLiteral("diverged")).toObject().value(QStringLiteral("step")).toInt(-1);
        QVERIFY(step >= 0);

        const Result show = cli({QStringLiteral("runs"), QStringLiteral("show"),
                                 QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(show.code == 0, show.err.constData());
        QVERIFY2(show.out.contains("status       diverged\n"), show.out.constData());
        QVERIFY2(show.out.contains(QStringLiteral("message      training diverged at step %1 of 24")
                                       .arg(step + 1)
                                       .toUtf8()),
                 show.out.constData());
        const Result json =
            cli({QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("1"),
                 QStringLiteral("--db"), db, QStringLiteral("--json")});
        QVERIFY2(json.code == 0, json.err.constData());
        const QJsonObject j = QJsonDocument::fromJson(json.out).object();
        QCOMPARE(j.value(QStringLiteral("status")).toString(), QStringLiteral("diverged"));
        QCOMPARE(j.value(QStringLiteral("status_step")).toInt(-1), step);
        const Result list =
            cli({QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("--db"), db});
        QVERIFY2(list.out.contains("diverged"), list.out.constData());

        // Resuming a diverged run would diverge again: refused with the same code.
        const Result again =
            cli({QStringLiteral("resume"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QCOMPARE(again.code, 5);
        QVERIFY2(again.err.contains("run 1 diverged and cannot be resumed"), again.err.constData());
        QCOMPARE(again.err.count('\n'), 1);

        // An interrupted run (as stored before divergence was detected) that diverges on resume.
        exec(db,
             "UPDATE runs SET status = 'interrupted', status_step = NULL, status_message = NULL");
        const Result resumed = cli({QStringLiteral("resume"), QStringLiteral("1"),
                                    QStringLiteral("--db"), db, QStringLiteral("--quiet")});
        QCOMPARE(resumed.code, 5);
        QVERIFY2(resumed.err.contains("run 1 stored as diverged"), resumed.err.constData());
        const QJsonObject j2 =
            QJsonDocument::fromJson(
                cli({QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("1"),
                     QStringLiteral("--db"), db, QStringLiteral("--json")})
                    .out)
                .object();
        QCOMPARE(j2.value(QStringLiteral("status")).toString(), QStringLiteral("diverged"));
        QCOMPARE(j2.value(QStringLiteral("status_step")).toInt(-1), step);
    }

    // A diverged trial is recorded and the sweep goes on; re-running skips it.
    void sweepRecordsDivergedTrialAndFinishesTheOthers() {
        const QString db = path(QStringLiteral("sweep.db"));
        writeFile(
            QStringLiteral("sweep.json"),
            R"({"name": "diverge-sweep", "base": "ffff.json", "patterns": ["2888", "ffff", "2884"], "set": {"epochs": 1}})");
        const Result r = cli({QStringLiteral("sweep"), path(QStringLiteral("sweep.json")),
                              QStringLiteral("--db"), db, QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.err.contains(
                     "bitbench-cli: trial f-f-f-f (run 2) diverged: training diverged at step"),
                 r.err.constData());
        QVERIFY2(r.out.contains("diverged: f-f-f-f (run 2)"), r.out.constData());
        QCOMPARE(r.last().value(QStringLiteral("diverged")).toArray().size(), 1);

        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        const int64_t sweep = store.sweepsList().front().id;
        const auto trials = store.sweepTrialsGet(sweep);
        QCOMPARE(int(trials.size()), 3);
        QCOMPARE(trials[0].status, TrialStatus::Finished);
        QCOMPARE(trials[1].status, TrialStatus::Diverged);
        QVERIFY(QString::fromStdString(trials[1].message)
                    .startsWith(QStringLiteral("training diverged at step")));
        QCOMPARE(trials[2].status, TrialStatus::Finished);
        QCOMPARE(store.runGet(trials[1].runId).status, RunStatus::Diverged);
        QCOMPARE(store.runGet(trials[2].runId).epochs, 1);

        const Result again = cli({QStringLiteral("sweep"), path(QStringLiteral("sweep.json")),
                                  QStringLiteral("--db"), db});
        QVERIFY2(again.code == 0, again.err.constData());
        QCOMPARE(again.out.count("skipped"), 3);
        QVERIFY2(again.out.contains("diverged before (run 2)"), again.out.constData());
    }

    // The shipped pattern sweep gives its float trial (ffff) an lr_float that does not diverge
    // (0.001, measured on MNIST) and leaves the other float-G trials (28f8, 28ff) at the default.
    void shippedSweepGivesFfffItsOwnRate() {
        const std::string dir = BITBENCH_SOURCE_DIR "/experiments";
        const auto trials = sweep_expand(json_file_read(dir + "/sweep-wage-patterns.json", "sweep file"), dir);
        QCOMPARE(int(trials.size()), 6);
        for (const auto& t : trials) {
            const double want = t.label == "f-f-f-f" ? 0.001 : 0.01;
            QVERIFY2(t.experiment.lrFloat == want, t.label.c_str());
        }
        // A per-pattern "set" changes that trial only; unknown keys are named.
        const auto two = sweep_expand(nlohmann::json::parse(R"({"base": {"model": "mlp"},
            "patterns": ["ffff", {"bits": "28ff", "set": {"lr_float": 0.5, "epochs": 2}}]})"), ".");
        QCOMPARE(int(two.size()), 2);
        QCOMPARE(two[0].experiment.lrFloat, 0.01);
        QCOMPARE(two[1].experiment.lrFloat, 0.5);
        QCOMPARE(two[1].experiment.epochs, 2);
        QCOMPARE(two[1].label, std::string("2-8-f-f"));
        for (const char* bad : {R"({"bits": "ffff", "lr_float": 1})", R"({"set": {}})", R"({"bits": "ffff", "set": 3})"}) {
            bool threw = false;
            try {
                sweep_expand({{"base", {{"model", "mlp"}}}, {"patterns", {nlohmann::json::parse(bad)}}}, ".");
            } catch (const InputError& e) {
                threw = QString::fromUtf8(e.what()).startsWith(QStringLiteral("sweep.patterns:"));
            }
            QVERIFY2(threw, bad);
        }
    }
};

QTEST_GUILESS_MAIN(TestDiverge)
#include "test_diverge.moc"
