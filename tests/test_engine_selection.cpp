// Which engine trains a run: the rule for new runs (graph executor where the integer engine cannot
// run a layer-list experiment), the rule of the release before it (legacy float engine), and the
// engine each stored run records, which its replay and resume use.
#include "test_cli_process.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/store.h"

#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

using namespace bitbench;
using bitbench::test::cliRun;
using bitbench::test::CliResult;
using nlohmann::json;

namespace {

// A small layer-list net (conv with pooling, fc) on generated data: a few seconds for 3 epochs.
const char* kExperiment = R"({"name": "engine-choice", "dataset": "synthetic", "bits": "ffff", "batch": 64,
 "epochs": 3, "lr_float": 0.002, "seed": 7, "train_limit": 2048, "test_limit": 512, "stats_interval": 8,
 "model": {"name": "small-conv", "input": {"height": 12, "width": 12, "channels": 1},
   "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 5, "pool": true, "relu": true},
              {"name": "fc1", "type": "fc", "out": 10}]}})";

Experiment experimentOf(const std::string& bits, const std::string& loss = "sse") {
    json j = json::parse(kExperiment);
    // "PATTERN:LAYER=PATTERN" sets one layer's bits apart.
    const auto colon = bits.find(':');
    j["bits"] = bits.substr(0, colon);
    if (colon != std::string::npos) {
        const auto eq = bits.find('=', colon);
        j["layer_bits"] = {{bits.substr(colon + 1, eq - colon - 1), bits.substr(eq + 1)}};
    }
    j["loss"] = loss;
    return experiment_from_json(j);
}

bool sqlExec(const QString& db, const QString& sql) {
    sqlite3* h = nullptr;
    const bool ok = sqlite3_open(db.toUtf8().constData(), &h) == SQLITE_OK &&
                    sqlite3_exec(h, sql.toUtf8().constData(), nullptr, nullptr, nullptr) == SQLITE_OK;
    sqlite3_close(h);
    return ok;
}

QStringList hashesOf(const QJsonArray& epochs) {
    QStringList h;
    for (const auto& e : epochs) h << e.toObject().value(QStringLiteral("weights_hash")).toString();
    return h;
}

} // namespace

class TestEngineSelection : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_json;

    QJsonObject show(const QString& db, int id) {
        const CliResult r = cliRun({QStringLiteral("runs"), QStringLiteral("show"), QString::number(id),
                                    QStringLiteral("--db"), db, QStringLiteral("--json")});
        if (r.code != 0) qWarning("%s", r.err.constData());
        return QJsonDocument::fromJson(r.out).object();
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_json = m_dir.filePath(QStringLiteral("experiment.json"));
        QFile f(m_json);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(kExperiment);
    }

    // Per pattern: the engine of a new run and of a run stored before engines were recorded.
    // The integer engine takes every class quantized with W, A, E of at most 8 bits (G may be
    // wider); the rest went to the float engine and now goes to the graph executor.
    void selectionRulePerPattern_data() {
        QTest::addColumn<QString>("bits");
        QTest::addColumn<QString>("loss");
        QTest::addColumn<QString>("current");
        QTest::addColumn<QString>("legacy");
        QTest::newRow("2888") << "2888" << "sse" << "integer" << "integer";
        QTest::newRow("2-8-12-8 (G wider)") << "2-8-12-8" << "sse" << "integer" << "integer";
        QTest::newRow("28f8") << "28f8" << "sse" << "graph" << "float";
        QTest::newRow("28ff") << "28ff" << "sse" << "graph" << "float";
        QTest::newRow("ffff") << "ffff" << "sse" << "graph" << "float";
        QTest::newRow("f888 (float W)") << "f888" << "sse" << "graph" << "float";
        QTest::newRow("288C (E 12 bits: int16 errors)") << "288C" << "sse" << "integer" << "float";
        QTest::newRow("2-8-8-16") << "2-8-8-16" << "sse" << "integer" << "float";
        QTest::newRow("2-8-8-8 with fc1 at E 12") << "2888:fc1=2-8-8-12" << "sse" << "integer" << "float";
        QTest::newRow("2-9-8-8 (A 9 bits)") << "2-9-8-8" << "sse" << "graph" << "float";
        QTest::newRow("288f softmax_ce") << "288f" << "softmax_ce" << "graph" << "float";
    }
    void selectionRulePerPattern() {
        QFETCH(QString, bits);
        QFETCH(QString, loss);
        QFETCH(QString, current);
        QFETCH(QString, legacy);
        const Experiment e = experimentOf(bits.toStdString(), loss.toStdString());
        QVERIFY(!e.needsGraphExecutor());
        QCOMPARE(QString(engine_kind_name(engine_select(e))), current);
        QCOMPARE(QString(engine_kind_name(engine_select(e, EngineRule::Current))), current);
        QCOMPARE(QString(engine_kind_name(engine_select(e, EngineRule::Legacy))), legacy);
        // Auto follows the current rule; each rule's engine is what gets built.
        QCOMPARE(QString(engine_create(e)->kind()), current);
        QCOMPARE(QString(engine_create(e, engine_select(e, EngineRule::Legacy))->kind()), legacy);
        // A new run records the current rule's engine; a record without one gets the legacy rule.
        QCOMPARE(QString::fromStdString(run_info_of(e).executor), current);
        RunRecord old;
        old.info = run_info_of(e);
        old.info.executor.clear();
        QCOMPARE(QString(engine_kind_name(run_engine_of(old, e))), legacy);
    }

    // Op graphs need the graph executor under both rules; a run stored before the run database
    // recorded engines ran it with float products only (graph-float).
    void opGraphsNeedTheGraphExecutorUnderBothRules() {
        const Experiment e = experiment_from_json(
            {{"name", "bn"}, {"dataset", "synthetic"}, {"model", "lenet5-bn"}, {"method", "float-sgd"}});
        QVERIFY(e.needsGraphExecutor());
        QCOMPARE(engine_select(e, EngineRule::Current), EngineKind::Graph);
        QCOMPARE(engine_select(e, EngineRule::Legacy), EngineKind::GraphFloat);
        QCOMPARE(QString(engine_create(e, EngineKind::GraphFloat)->kind()), QString("graph-float"));
        EngineKind k = EngineKind::Auto;
        QVERIFY(engine_kind_parse("graph-float", k));
        QCOMPARE(k, EngineKind::GraphFloat);
    }

    void recordedEngineWins() {
        const Experiment e = experimentOf("28f8");
        RunRecord r;
        r.id = 12;
        r.info = run_info_of(e);
        for (const EngineKind k : {EngineKind::Integer, EngineKind::Float, EngineKind::Graph, EngineKind::Reference}) {
            r.info.executor = engine_kind_name(k);
            QCOMPARE(run_engine_of(r, e), k);
        }
        EngineKind parsed = EngineKind::Float;
        QVERIFY(!engine_kind_parse("auto", parsed));
        QVERIFY(!engine_kind_parse("Graph", parsed));
        QCOMPARE(parsed, EngineKind::Float); // untouched on failure
        r.info.executor = "quantum";
        try {
            run_engine_of(r, e);
            QFAIL("an unknown engine name was accepted");
        } catch (const StoreError& err) {
            QVERIFY2(QString(err.what()).contains(QStringLiteral("run 12")) &&
                         QString(err.what()).contains(QStringLiteral("'quantum'")),
                     err.what());
        }
    }

    // New runs of patterns the integer engine cannot run are stored with the graph executor and
    // replay bit for bit on it (on another thread count); a run cut back to its first epoch
    // resumes to the uninterrupted run's weights.
    void newRunsTrainReplayAndResumeOnTheGraphExecutor_data() {
        QTest::addColumn<QString>("bits");
        QTest::addColumn<QString>("dashed");
        QTest::newRow("ffff") << "ffff" << "f-f-f-f";
        QTest::newRow("2-9-8-8 (A 9 bits)") << "2-9-8-8" << "2-9-8-8";
        QTest::newRow("28f8") << "28f8" << "2-8-f-8";
    }
    void newRunsTrainReplayAndResumeOnTheGraphExecutor() {
        QFETCH(QString, bits);
        QFETCH(QString, dashed);
        const QString db = m_dir.filePath(bits + QStringLiteral(".db"));
        const QStringList train{QStringLiteral("train"), m_json, QStringLiteral("--bits"), bits,
                                QStringLiteral("--db"), db, QStringLiteral("--quiet"), QStringLiteral("--json"),
                                QStringLiteral("--threads"), QStringLiteral("1"),
                                QStringLiteral("--keep-checkpoints"), QStringLiteral("all")};
        for (int run = 1; run <= 2; ++run) {
            const CliResult r = cliRun(train);
            QVERIFY2(r.code == 0, r.err.constData());
            QVERIFY2(r.err.contains(("bits " + dashed + ", graph engine").toUtf8()), r.err.constData());
            QCOMPARE(r.last().value(QStringLiteral("engine")).toString(), QStringLiteral("graph"));
            QCOMPARE(r.last().value(QStringLiteral("run_id")).toInt(), run);
        }
        const QJsonObject first = show(db, 1);
        QCOMPARE(first.value(QStringLiteral("executor")).toString(), QStringLiteral("graph"));
        const QStringList straight = hashesOf(first.value(QStringLiteral("epochs_detail")).toArray());
        QCOMPARE(straight.size(), 3);
        QCOMPARE(hashesOf(show(db, 2).value(QStringLiteral("epochs_detail")).toArray()), straight);

        const CliResult replay = cliRun({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db,
                                         QStringLiteral("--threads"), QStringLiteral("2")});
        QVERIFY2(replay.code == 0, replay.out.constData());
        QVERIFY2(replay.out.contains("on the graph engine: 3 epochs"), replay.out.constData());
        QVERIFY2(replay.out.contains("MATCH: 3 epochs bit-identical"), replay.out.constData());

        // Run 2 back to "interrupted after epoch 1": its later epochs and checkpoints removed.
        const qint64 firstEpochStep = show(db, 2).value(QStringLiteral("epochs_detail")).toArray()[0]
                                          .toObject().value(QStringLiteral("step")).toInteger();
        QVERIFY(firstEpochStep > 0);
        QVERIFY(sqlExec(db, QStringLiteral("UPDATE runs SET status = 'interrupted' WHERE id = 2; "
                                           "DELETE FROM checkpoints WHERE run = 2 AND step > %1; "
                                           "DELETE FROM epoch_hashes WHERE run = 2 AND step > %1; "
                                           "DELETE FROM metrics WHERE run = 2 AND step > %1;")
                                .arg(firstEpochStep)));
        QCOMPARE(show(db, 2).value(QStringLiteral("epochs_detail")).toArray().size(), 1);
        const CliResult resumed = cliRun({QStringLiteral("resume"), QStringLiteral("2"), QStringLiteral("--db"), db,
                                          QStringLiteral("--quiet"), QStringLiteral("--threads"), QStringLiteral("2")});
        QVERIFY2(resumed.code == 0, resumed.err.constData());
        QVERIFY2(resumed.out.contains("graph engine"), resumed.out.constData());
        QVERIFY2(resumed.out.contains("from its last checkpoint"), resumed.out.constData());
        const QJsonObject after = show(db, 2);
        QCOMPARE(after.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(after.value(QStringLiteral("executor")).toString(), QStringLiteral("graph"));
        QCOMPARE(hashesOf(after.value(QStringLiteral("epochs_detail")).toArray()), straight);
    }

    // A stored run whose record says "float" replays on the legacy float engine even though a
    // new run of its experiment would train on the graph executor (and there gives other bits).
    void recordedFloatEngineIsUsedForReplay() {
        const QString db = m_dir.filePath(QStringLiteral("recorded-float.db"));
        const CliResult graph = cliRun({QStringLiteral("train"), m_json, QStringLiteral("--db"), db,
                                        QStringLiteral("--quiet"), QStringLiteral("--json")});
        QVERIFY2(graph.code == 0, graph.err.constData());
        // Relabelled as trained by the float engine: the replay must run the float engine, whose
        // sums round differently, and so report a mismatch rather than a MATCH.
        QVERIFY(sqlExec(db, QStringLiteral("UPDATE runs SET executor = 'float' WHERE id = 1")));
        const CliResult replay = cliRun({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(replay.out.contains("on the float engine: 3 epochs"), replay.out.constData());
        QVERIFY2(replay.out.contains("MISMATCH at epoch 1"), replay.out.constData());
        QVERIFY(sqlExec(db, QStringLiteral("UPDATE runs SET executor = 'graph' WHERE id = 1")));
        const CliResult again = cliRun({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(again.code == 0 && again.out.contains("MATCH"), again.out.constData());
    }
};

QTEST_GUILESS_MAIN(TestEngineSelection)
#include "test_engine_selection.moc"
