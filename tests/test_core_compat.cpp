// What the rebuilt core must keep from the release before it: every shipped experiment's config
// hash (sweeps de-duplicate by it), and a run database of that release (tests/golden/store-v2)
// that opens, replays bit for bit, and resumes to the uninterrupted run's weights.
#include "bitbench/analysis.h"
#include "bitbench/experiment.h"

#include "test_cli_process.h"

#include <QJsonArray>
#include <QTemporaryDir>
#include <QtTest>

using bitbench::test::cliRun;
using bitbench::test::CliResult;

class TestCoreCompat : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_db;

    QJsonObject show(int id) {
        const CliResult r = cliRun({QStringLiteral("runs"), QStringLiteral("show"), QString::number(id),
                                    QStringLiteral("--db"), m_db, QStringLiteral("--json")});
        if (r.code != 0) qWarning("%s", r.err.constData());
        return QJsonDocument::fromJson(r.out).object();
    }
    static QString lastHash(const QJsonObject& run) {
        return run.value(QStringLiteral("epochs_detail")).toArray().last().toObject().value(QStringLiteral("weights_hash")).toString();
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_db = m_dir.filePath(QStringLiteral("runs.db"));
        QVERIFY(QFile::copy(QStringLiteral(BITBENCH_SOURCE_DIR "/tests/golden/store-v2/runs.db"), m_db));
        QFile(m_db).setPermissions(QFile::ReadOwner | QFile::WriteOwner);
        // Opened once with write access, as a user's first command after the upgrade does: the
        // schema moves to the version that records each run's engine (read-only commands refuse
        // an older schema).
        const CliResult r = cliRun({QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("--db"), m_db});
        QVERIFY2(r.code == 0, r.err.constData());
    }

    // Config hashes of the shipped experiments as the release before the core redesign computed
    // them; a change would make sweeps re-run finished trials.
    void shippedExperimentsKeepTheirConfigHash_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("hash");
        QTest::newRow("wage-lenet5-mnist-2888") << "wage-lenet5-mnist-2888.json" << "15f21bb4bf67580a";
        QTest::newRow("wage-vgg7-cifar10-2888") << "wage-vgg7-cifar10-2888.json" << "a622bc427648589e";
        QTest::newRow("float-lenet5-mnist") << "float-lenet5-mnist.json" << "73222083cb962864";
        // Added later: pinned as first computed, so sweeps over it keep finding their trials.
        QTest::newRow("wage-lenet5-fashion-mnist-2888") << "wage-lenet5-fashion-mnist-2888.json" << "3b0c0bf17df52e8e";
        QTest::newRow("store-v2 wage") << "../tests/golden/store-v2/wage.json" << "0fb25e28f02d2dc2";
        QTest::newRow("store-v2 float") << "../tests/golden/store-v2/float.json" << "185c26ec06c03610";
    }
    void shippedExperimentsKeepTheirConfigHash() {
        QFETCH(QString, file);
        QFETCH(QString, hash);
        const auto e = bitbench::experiment_load(BITBENCH_SOURCE_DIR "/experiments/" + file.toStdString());
        QCOMPARE(QString::fromStdString(e.configHash()), hash);
    }

    // Every trial of the shipped sweeps, as the release before the core redesign expanded them:
    // a sweep re-run after an upgrade must find its finished trials by these hashes.
    void shippedSweepsKeepTheirTrialHashes_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("trials");
        QTest::newRow("sweep-wage-error-bits")
            << "sweep-wage-error-bits.json"
            << "2-8-8-2 3f11d0fd5ebf657c,2-8-8-3 d67ea7ff804faf82,2-8-8-4 db9920a3bb6ccc9a,2-8-8-5 a11d100112643a79,"
               "2-8-8-6 e3e5311badee8c0d,2-8-8-7 4b62287ed17d52a7,2-8-8-8 a622bc427648589e,2-8-8-9 580c4d46154fe4fc,"
               "2-8-8-10 fe0398843bf30f57,2-8-8-11 b2b90fc468345375,2-8-8-12 d7be1b9e49fc0c6c";
        QTest::newRow("sweep-wage-patterns")
            << "sweep-wage-patterns.json"
            << "2-8-8-8 15f21bb4bf67580a,2-8-f-8 6db8bbd2a7b6b9a1,2-8-12-8 12a81896fa6c90d4,2-8-8-12 4961ce7e279adec8,"
               "2-8-f-f 936830bf2cfd0af8,f-f-f-f 8ed52fd1fbb64b68";
    }
    void shippedSweepsKeepTheirTrialHashes() {
        QFETCH(QString, file);
        QFETCH(QString, trials);
        const std::string dir = BITBENCH_SOURCE_DIR "/experiments";
        QStringList got;
        for (const auto& t : bitbench::sweep_expand(bitbench::json_file_read(dir + "/" + file.toStdString(), "sweep file"), dir))
            got << QString::fromStdString(t.label + " " + t.configHash);
        QCOMPARE(got.join(QLatin1Char(',')), trials);
    }

    void storedRunsKeepTheirConfigHash() {
        QCOMPARE(show(1).value(QStringLiteral("config_hash")).toString(), QStringLiteral("0fb25e28f02d2dc2"));
        QCOMPARE(show(2).value(QStringLiteral("config_hash")).toString(), QStringLiteral("185c26ec06c03610"));
        QCOMPARE(show(3).value(QStringLiteral("config_hash")).toString(), QStringLiteral("185c26ec06c03610"));
    }

    // The release stored no engine: the runs show none recorded, and the engine their release's
    // rule picked (a new 2-8-f-f run would train on the graph executor instead).
    void storedRunsRecordNoEngine_data() {
        QTest::addColumn<int>("id");
        QTest::addColumn<QString>("engine");
        QTest::newRow("wage") << 1 << "integer";
        QTest::newRow("float") << 2 << "float";
        QTest::newRow("float, interrupted") << 3 << "float";
    }
    void storedRunsRecordNoEngine() {
        QFETCH(int, id);
        QFETCH(QString, engine);
        const QJsonObject run = show(id);
        QVERIFY(run.contains(QStringLiteral("executor")));
        QVERIFY(run.value(QStringLiteral("executor")).isNull());
        const CliResult text = cliRun({QStringLiteral("runs"), QStringLiteral("show"), QString::number(id),
                                       QStringLiteral("--db"), m_db});
        QVERIFY2(text.out.contains(("engine       " + engine + " (not recorded").toUtf8()), text.out.constData());
    }

    void finishedRunsReplayBitForBit_data() {
        QTest::addColumn<int>("id");
        QTest::addColumn<QString>("engine");
        QTest::newRow("integer engine") << 1 << "integer";
        QTest::newRow("float engine") << 2 << "float";
    }
    void finishedRunsReplayBitForBit() {
        QFETCH(int, id);
        QFETCH(QString, engine);
        const CliResult r = cliRun({QStringLiteral("replay"), QString::number(id), QStringLiteral("--db"), m_db});
        QVERIFY2(r.code == 0, r.out.constData());
        QVERIFY2(r.out.contains(("on the " + engine + " engine (not recorded").toUtf8()), r.out.constData());
        QVERIFY2(r.out.contains("MATCH: 3 epochs bit-identical"), r.out.constData());
    }

    void interruptedRunResumesToTheUninterruptedWeights() {
        const QJsonObject before = show(3);
        QCOMPARE(before.value(QStringLiteral("status")).toString(), QStringLiteral("interrupted"));
        QCOMPARE(before.value(QStringLiteral("epochs_detail")).toArray().size(), 1);
        const CliResult r = cliRun({QStringLiteral("resume"), QStringLiteral("3"), QStringLiteral("--db"), m_db,
                                    QStringLiteral("--quiet")});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("2-8-f-f, float engine"), r.out.constData()); // the legacy float engine
        const QJsonObject after = show(3);
        QVERIFY(after.value(QStringLiteral("executor")).isNull()); // still the release's rule
        QCOMPARE(after.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(after.value(QStringLiteral("epochs_detail")).toArray().size(), 3);
        QCOMPARE(lastHash(show(2)), QStringLiteral("75a6a98d8459e74f")); // as the release stored it
        QCOMPARE(lastHash(after), lastHash(show(2)));
        const CliResult replay = cliRun({QStringLiteral("replay"), QStringLiteral("3"), QStringLiteral("--db"), m_db});
        QVERIFY2(replay.code == 0 && replay.out.contains("MATCH"), replay.out.constData());
    }
};

QTEST_GUILESS_MAIN(TestCoreCompat)
#include "test_core_compat.moc"
