// bitbench-cli end to end: train into a database, replay (match and forced mismatch), a real
// SIGKILL followed by resume, sweeps that skip finished trials, and rejected input.
#include "test_cli_process.h"
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

class TestCliRuns : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_db;

    QString path(const QString& name) const { return m_dir.filePath(name); }

    void writeFile(const QString& name, const QByteArray& text) { bitbench::test::fileWrite(path(name), text); }

    using Result = bitbench::test::CliResult;

    Result cli(const QStringList& args, int timeoutMs = 120000) { return bitbench::test::cliRun(args, timeoutMs); }

    static QByteArray experiment(int epochs) {
        return QByteArray(R"({"name": "cli-tiny", "dataset": "synthetic", "bits": "2-8-8-8", "batch": 32,
          "lr": 8, "seed": 4, "train_limit": 256, "test_limit": 128, "stats_interval": 3, "epochs": )") +
               QByteArray::number(epochs) + QByteArray(R"(,
          "model": {"name": "tiny", "input": {"height": 28, "width": 28, "channels": 1},
            "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 5, "pool": true, "relu": true},
                       {"name": "fc1", "type": "fc", "out": 16, "relu": true},
                       {"name": "fc2", "type": "fc", "out": 10}]}})");
    }

    static QStringList hashes(const QJsonObject& summary) {
        QStringList h;
        for (const auto& e : summary.value(QStringLiteral("per_epoch")).toArray())
            h << e.toObject().value(QStringLiteral("weights_hash")).toString();
        return h;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_db = path(QStringLiteral("runs.db"));
        writeFile(QStringLiteral("tiny3.json"), experiment(3));
        writeFile(QStringLiteral("tiny400.json"), experiment(400));
    }

    void trainRecordsAndReplayMatches() {
        const Result r = cli({QStringLiteral("train"), path(QStringLiteral("tiny3.json")), QStringLiteral("--db"), m_db,
                              QStringLiteral("--json"), QStringLiteral("--quiet")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonObject s = r.last();
        QCOMPARE(s.value(QStringLiteral("epochs")).toInt(), 3);
        QCOMPARE(s.value(QStringLiteral("run_id")).toInt(), 1);
        QVERIFY(s.contains(QStringLiteral("final_test_error")));
        QVERIFY(s.contains(QStringLiteral("best_test_error")));
        QVERIFY(s.contains(QStringLiteral("train_images_per_s")));
        QCOMPARE(s.value(QStringLiteral("weights_hash")).toString().size(), 16);

        const Result rep = cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), m_db,
                                QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY2(rep.code == 0, rep.out.constData());
        QVERIFY(rep.out.contains("MATCH: 3 epochs"));
    }

    void exportCarriesEnergyEstimate() {
        const Result r = cli({QStringLiteral("export"), QStringLiteral("1"), QStringLiteral("--format"), QStringLiteral("csv"),
                              QStringLiteral("--db"), m_db});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("energy_estimate"), r.out.constData());
        QVERIFY2(r.out.contains(" uJ") || r.out.contains(" nJ"), r.out.constData());
    }

    void replayReportsFirstMismatch() {
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(m_db.toUtf8().constData(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "UPDATE epoch_hashes SET weights_hash = '0123456789abcdef' WHERE run = 1 AND epoch = 1",
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
        QCOMPARE(sqlite3_changes(db), 1);
        sqlite3_close(db);
        const Result rep = cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), m_db});
        QCOMPARE(rep.code, 1);
        QVERIFY2(rep.out.contains("MISMATCH at epoch 2"), rep.out.constData());
        QVERIFY(rep.out.contains("0123456789abcdef"));
    }

    // A run killed with SIGKILL and resumed ends exactly where an uninterrupted run does.
    void killAndResumeEqualsUninterrupted() {
        const Result straight = cli({QStringLiteral("train"), path(QStringLiteral("tiny400.json")), QStringLiteral("--no-store"),
                                     QStringLiteral("--json"), QStringLiteral("--quiet"), QStringLiteral("--epochs"),
                                     QStringLiteral("40"), QStringLiteral("--train-limit"), QStringLiteral("2048")});
        QVERIFY2(straight.code == 0, straight.err.constData());

        QProcess p;
        p.start(QStringLiteral(BITBENCH_CLI_PATH),
                {QStringLiteral("train"), path(QStringLiteral("tiny400.json")), QStringLiteral("--db"), m_db,
                 QStringLiteral("--quiet"), QStringLiteral("--epochs"), QStringLiteral("40"),
                 QStringLiteral("--train-limit"), QStringLiteral("2048")});
        QVERIFY(p.waitForStarted());
        QByteArray seen;
        QTRY_VERIFY_WITH_TIMEOUT((seen += p.readAllStandardOutput()).contains("epoch    3 "), 60000);
        p.kill(); // SIGKILL: no handler, no cleanup
        QVERIFY(p.waitForFinished());
        QVERIFY2(!seen.contains("epoch   40 "), "the run finished before it could be killed");

        const Result list = cli({QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("--db"), m_db, QStringLiteral("--json")});
        QVERIFY2(list.code == 0, list.err.constData());
        QVERIFY2(list.out.contains("interrupted"), list.out.constData());

        const Result resumed = cli({QStringLiteral("resume"), QStringLiteral("2"), QStringLiteral("--db"), m_db,
                                    QStringLiteral("--json"), QStringLiteral("--quiet")});
        QVERIFY2(resumed.code == 0, resumed.err.constData());
        QCOMPARE(hashes(resumed.last()), hashes(straight.last()));
        QCOMPARE(resumed.last().value(QStringLiteral("final_test_error")).toDouble(),
                 straight.last().value(QStringLiteral("final_test_error")).toDouble());
        const Result rep = cli({QStringLiteral("replay"), QStringLiteral("2"), QStringLiteral("--db"), m_db});
        QVERIFY2(rep.code == 0, rep.out.constData());
    }

    void sweepSkipsFinishedTrials() {
        writeFile(QStringLiteral("sweep.json"),
                  R"({"name": "tiny-sweep", "base": "tiny3.json", "patterns": ["2888", "2-8-8-4", "2888"], "set": {"epochs": 1}})");
        const Result first = cli({QStringLiteral("sweep"), path(QStringLiteral("sweep.json")), QStringLiteral("--db"), m_db});
        QVERIFY2(first.code == 0, first.err.constData());
        QCOMPARE(first.out.count("trial "), 2); // the duplicate pattern is one trial
        const Result again = cli({QStringLiteral("sweep"), path(QStringLiteral("sweep.json")), QStringLiteral("--db"), m_db,
                                  QStringLiteral("--jobs"), QStringLiteral("2")});
        QVERIFY2(again.code == 0, again.err.constData());
        QCOMPARE(again.out.count("skipped"), 2);
    }

    void rejectsBadInput_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        const QString exp = path(QStringLiteral("tiny3.json"));
        QTest::newRow("bad pattern") << QStringList{QStringLiteral("train"), exp, QStringLiteral("--bits"), QStringLiteral("2-8-8")}
                                     << 2 << "invalid bitwidth pattern '2-8-8'";
        QTest::newRow("missing file") << QStringList{QStringLiteral("train"), path(QStringLiteral("none.json"))} << 2
                                      << "cannot read experiment file";
        QTest::newRow("unknown key") << QStringList{QStringLiteral("train"), path(QStringLiteral("typo.json"))} << 2
                                     << "unknown key \"epoch\"";
        QTest::newRow("missing data") << QStringList{QStringLiteral("train"), path(QStringLiteral("mnist.json")), QStringLiteral("--data-dir"),
                                                     path(QStringLiteral("nowhere"))}
                                      << 3 << "nowhere";
        QTest::newRow("missing run") << QStringList{QStringLiteral("replay"), QStringLiteral("99"), QStringLiteral("--db"), m_db} << 4
                                     << "99";
        QTest::newRow("malformed run id") << QStringList{QStringLiteral("resume"), QStringLiteral("abc"), QStringLiteral("--db"), m_db}
                                          << 2 << "abc";
    }
    void rejectsBadInput() {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, message);
        writeFile(QStringLiteral("typo.json"), R"({"model": "lenet5", "epoch": 3})");
        writeFile(QStringLiteral("mnist.json"), R"({"model": "lenet5", "dataset": "mnist"})");
        const Result r = cli(args);
        QCOMPARE(r.code, code);
        QVERIFY2(QString::fromUtf8(r.err).contains(message), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1); // one line
    }
};

QTEST_GUILESS_MAIN(TestCliRuns)
#include "test_cli_runs.moc"
