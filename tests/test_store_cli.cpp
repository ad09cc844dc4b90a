// bitbench-cli runs / export against real databases: output, JSON, exit codes 0, 2 and 4.
#include "test_cli_process.h"
#include "bitbench/store.h"
#include "bitbench/store_export.h"
#include "test_store_synthetic.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace bitbench;
using namespace bitbench::test;

namespace {

using Result = CliResult;

Result cli(const QStringList& args) { return cliRun(args, 60000); }

} // namespace

class TestStoreCli : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    QString m_db;
    int64_t m_a = 0, m_b = 0, m_sweep = 0;

private Q_SLOTS:
    void initTestCase() {
        m_db = m_dir.filePath(QStringLiteral("runs.db"));
        const std::string p = m_db.toStdString();
        RunStore store = RunStore::open(p);
        m_a = store.runCreate(RunInfo{"wage 2888", R"({"bits":"2888"})", "{}", "h1", 5, "2-8-8-8",
                                      "lenet5", "mnist", "", ""});
        m_b = store.runCreate(
            RunInfo{"float errors", "{}", "{}", "h2", 6, "2-8-f-8", "mlp", "mnist", "", ""});
        for (int64_t id : {m_a, m_b}) {
            RunWriter w(p, id);
            for (int e = 0; e < 2; ++e)
                w.onEpoch(syntheticEpoch(e, 100 * (e + 1)));
            w.finish(RunStatus::Finished, R"({"done":true})");
        }
        m_sweep = store.sweepCreate("bits", "{}");
        store.sweepTrialPut(m_sweep, "h2", m_b, TrialStatus::Finished);
    }

    void listsNothingWithoutDatabase() {
        const QString missing = m_dir.filePath(QStringLiteral("none.db"));
        Result r = cli({"runs", "list", "--db", missing});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("No runs yet"));
        QVERIFY(!QFile::exists(missing));
        r = cli({"runs", "--json", "--db", missing});
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o[QStringLiteral("runs")].toArray().size(), 0);
        QCOMPARE(o[QStringLiteral("database_bytes")].toInt(-1), 0);
    }

    void listsRuns() {
        Result r = cli({"runs", "--db", m_db});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("wage 2888") && r.out.contains("float errors"));
        QVERIFY(r.out.contains("finished"));
        r = cli({"runs", "list", "--db", m_db, "--json"});
        QCOMPARE(r.code, 0);
        const QJsonObject list = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(list[QStringLiteral("database")].toString(), m_db);
        QVERIFY(list[QStringLiteral("database_bytes")].toInteger() > 0);
        const QJsonArray a = list[QStringLiteral("runs")].toArray();
        QCOMPARE(a.size(), 2);
        QCOMPARE(a[0].toObject()[QStringLiteral("name")].toString(), QStringLiteral("wage 2888"));
        QCOMPARE(a[1].toObject()[QStringLiteral("epochs")].toInt(), 2);
        QCOMPARE(a[1].toObject()[QStringLiteral("final_test_error")].toDouble(),
                 syntheticEpoch(1, 200).testError);
    }

    void showsRun() {
        Result r = cli({"runs", "show", QString::number(m_a), "--db", m_db});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("wage 2888"));
        QVERIFY(r.out.contains("f00dface00000001")); // epoch 1 weights hash
        r = cli({"runs", "show", QString::number(m_a), "--json", "--db", m_db});
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o[QStringLiteral("experiment")].toObject()[QStringLiteral("bits")].toString(),
                 QStringLiteral("2888"));
        QCOMPARE(o[QStringLiteral("epochs_detail")].toArray().size(), 2);
    }

    void missingAndMalformedIds() {
        Result r = cli({"runs", "show", "999", "--db", m_db});
        QCOMPARE(r.code, 4);
        QVERIFY(r.err.contains("no run with id 999"));
        r = cli({"runs", "show", "12abc", "--db", m_db});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("'12abc' is not a run id"));
        r = cli({"export", "1", "0", "--db", m_db});
        QCOMPARE(r.code, 2);
        r = cli({"export", "999", "--db", m_db});
        QCOMPARE(r.code, 4);
    }

    void refusesForeignFiles() {
        const QString bad = m_dir.filePath(QStringLiteral("notes.txt"));
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not a database\n");
        f.close();
        Result r = cli({"runs", "--db", bad});
        QCOMPARE(r.code, 4);
        QVERIFY(r.err.contains("not an SQLite file"));
        r = cli({"export", "--all", "--db", bad});
        QCOMPARE(r.code, 4);
        QFile g(bad);
        QVERIFY(g.open(QIODevice::ReadOnly));
        QCOMPARE(g.readAll(), QByteArray("not a database\n"));
    }

    // The CLI prints exactly what the library renders: one code path for CLI and GUI.
    void exportsWhatTheLibraryRenders() {
        RunStore store = RunStore::open(m_db.toStdString(), StoreAccess::ReadOnly);
        Result r = cli({"export", QString::number(m_a), QString::number(m_b), "--format", "csv",
                        "--db", m_db});
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out,
                 QByteArray::fromStdString(export_csv(export_summary_table(store, {m_a, m_b}))));
        r = cli({"export", "--all", "--format", "latex", "--curves", "--db", m_db});
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out,
                 QByteArray::fromStdString(export_latex(export_curves_table(store, {m_a, m_b}))));
        const QString out = m_dir.filePath(QStringLiteral("sweep.md"));
        r = cli({"export", "--sweep", QString::number(m_sweep), "--format", "md", "-o", out, "--db",
                 m_db});
        QCOMPARE(r.code, 0);
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(),
                 QByteArray::fromStdString(export_markdown(export_summary_table(store, {m_b}))));
    }

    void exportUsageErrors() {
        QCOMPARE(cli({"export", "--db", m_db}).code, 2);               // nothing chosen
        QCOMPARE(cli({"export", "1", "--all", "--db", m_db}).code, 2); // two choices
        QCOMPARE(cli({"export", "--all", "--format", "xlsx", "--db", m_db}).code, 2);
        QCOMPARE(cli({"export", "--sweep", "77", "--db", m_db}).code, 4);
    }
};

QTEST_APPLESS_MAIN(TestStoreCli)
#include "test_store_cli.moc"
