// A run's life in the database through bitbench-cli: checkpoint retention and the file's size,
// replay without checkpoints, atomic claims of sweep trials and resumed runs (two processes
// started at once, repeated), and a data error inside a sweep trial.
#include "test_cli_process.h"
#include "bitbench/store.h"
#include "store/store_process.h"
#include "store/store_schema.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <filesystem>

using namespace bitbench;

namespace {

using Result = test::CliResult;

Result finish(QProcess& p) { return test::processFinish(p, 180000); }

Result cli(const QStringList& args) { return test::cliRun(args, 180000); }

// One fully connected layer of 784 x 512 weights: a checkpoint of about 1.6 MB, far more than
// the metrics of a short epoch, so the file's size is mostly its checkpoints.
QByteArray experiment(int epochs, int trainLimit, const char* dataset = "synthetic") {
    return QByteArray(R"({"name": "wide", "dataset": ")") + dataset +
           QByteArray(R"(", "bits": "2-8-8-8", "batch": 32, "lr": 8, "seed": 4,
      "train_limit": )") +
           QByteArray::number(trainLimit) +
           QByteArray(R"(, "test_limit": 64, "stats_interval": 1000, "epochs": )") +
           QByteArray::number(epochs) + QByteArray(R"(,
      "model": {"name": "wide", "input": {"height": 28, "width": 28, "channels": 1},
        "layers": [{"name": "fc1", "type": "fc", "out": 512, "relu": true},
                   {"name": "fc2", "type": "fc", "out": 10}]}})");
}

int64_t sqlInt(const QString& db, const QString& sql) {
    sqlite3* h = nullptr;
    int64_t v = -1;
    if (sqlite3_open(db.toUtf8().constData(), &h) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(h, sql.toUtf8().constData(), -1, &st, nullptr) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

QList<qint64> sqlInts(const QString& db, const QString& sql) {
    QList<qint64> out;
    sqlite3* h = nullptr;
    if (sqlite3_open(db.toUtf8().constData(), &h) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(h, sql.toUtf8().constData(), -1, &st, nullptr) == SQLITE_OK)
            while (sqlite3_step(st) == SQLITE_ROW)
                out << sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return out;
}

bool sqlExec(const QString& db, const QString& sql) {
    sqlite3* h = nullptr;
    bool ok = sqlite3_open(db.toUtf8().constData(), &h) == SQLITE_OK &&
              sqlite3_exec(h, sql.toUtf8().constData(), nullptr, nullptr, nullptr) == SQLITE_OK;
    sqlite3_close(h);
    return ok;
}

QStringList hashes(const QJsonObject& summary) {
    QStringList h;
    for (const auto& e : summary.value(QStringLiteral("per_epoch")).toArray())
        h << e.toObject().value(QStringLiteral("weights_hash")).toString();
    return h;
}

// The checkpoint steps a run with `keep` (0 = all) should hold: its `keep` newest checkpoints and
// its best epoch's (lowest stored test error, the earliest on a tie), from what the run stored.
QSet<qint64> expectedCheckpoints(const QString& db, int runId, const QList<qint64>& epochSteps,
                                 int keep) {
    QSet<qint64> want;
    if (keep == 0) return QSet<qint64>(epochSteps.begin(), epochSteps.end());
    for (int i = 0; i < keep && i < epochSteps.size(); ++i)
        want << epochSteps[epochSteps.size() - 1 - i];
    want << sqlInt(db, QStringLiteral("SELECT step FROM metrics WHERE run = %1 AND key = "
                                      "'test_error' ORDER BY value, step LIMIT 1")
                           .arg(runId));
    return want;
}

QSet<qint64> storedCheckpoints(const QString& db, int runId) {
    const QList<qint64> s =
        sqlInts(db, QStringLiteral("SELECT step FROM checkpoints WHERE run = %1").arg(runId));
    return QSet<qint64>(s.begin(), s.end());
}

// Writes an IDX file: images (n x 28 x 28, a bright square whose place depends on the label) or
// labels (i % 10).
void writeIdx(const QString& path, bool images, int n) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QByteArray b;
    auto be32 = [&](uint32_t v) {
        for (int s = 24; s >= 0; s -= 8)
            b.append(char((v >> s) & 0xff));
    };
    be32(images ? 0x803 : 0x801);
    be32(uint32_t(n));
    if (images) {
        be32(28);
        be32(28);
        for (int i = 0; i < n; ++i) {
            QByteArray img(28 * 28, '\0');
            const int c = i % 10;
            for (int y = 0; y < 6; ++y)
                for (int x = 0; x < 6; ++x)
                    img[(2 + 2 * c + y) * 28 + 2 + 2 * c + x] = char(250);
            b += img;
        }
    } else {
        for (int i = 0; i < n; ++i)
            b.append(char(i % 10));
    }
    f.write(b);
}

} // namespace

class TestCliLifecycle : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    QString path(const QString& name) const { return m_dir.filePath(name); }

    void writeFile(const QString& name, const QByteArray& text) { test::fileWrite(path(name), text); }

    // The steps at which each stored epoch of the run ended, ascending.
    static QList<qint64> epochSteps(const QString& db, int runId) {
        return sqlInts(db,
                       QStringLiteral("SELECT step FROM epoch_hashes WHERE run = %1 ORDER BY step")
                           .arg(runId));
    }

    static QJsonObject listJson(const QString& db) {
        const Result r = cli({QStringLiteral("runs"), QStringLiteral("list"),
                              QStringLiteral("--db"), db, QStringLiteral("--json")});
        return QJsonDocument::fromJson(r.out).object();
    }

    // A process that lives until killed, to stand for another trainer on this machine.
    static std::unique_ptr<QProcess> startSleeper() {
        auto p = std::make_unique<QProcess>();
        p->start(QStringLiteral("sleep"), {QStringLiteral("600")});
        p->waitForStarted();
        return p;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        writeFile(QStringLiteral("wide8.json"), experiment(8, 64));
        writeFile(QStringLiteral("wide12.json"), experiment(12, 64));
        writeFile(QStringLiteral("wide30.json"), experiment(30, 1024));
        writeFile(QStringLiteral("wide4.json"), experiment(4, 4096));
    }

    // Item 4: the newest N checkpoints plus the best epoch's survive; the rest go in the
    // transaction that adds a new one.
    void keepsLastAndBestCheckpoints_data() {
        QTest::addColumn<QStringList>("option");
        QTest::addColumn<int>("keep");
        QTest::newRow("default") << QStringList{} << 1;
        QTest::newRow("3") << QStringList{QStringLiteral("--keep-checkpoints"), QStringLiteral("3")}
                           << 3;
        QTest::newRow("all") << QStringList{QStringLiteral("--keep-checkpoints"),
                                            QStringLiteral("all")}
                             << 0;
    }
    void keepsLastAndBestCheckpoints() {
        QFETCH(QStringList, option);
        QFETCH(int, keep);
        const QString db = path(QStringLiteral("keep-%1.db").arg(keep));
        const Result r =
            cli(QStringList{QStringLiteral("train"), path(QStringLiteral("wide8.json")),
                            QStringLiteral("--db"), db, QStringLiteral("--quiet")} +
                option);
        QVERIFY2(r.code == 0, r.err.constData());
        const QList<qint64> steps = epochSteps(db, 1);
        QCOMPARE(steps.size(), 8);
        const QSet<qint64> want = expectedCheckpoints(db, 1, steps, keep);
        QCOMPARE(storedCheckpoints(db, 1), want);
        // The data make the best epoch an early one, so "best" is a checkpoint of its own.
        const qint64 best =
            sqlInt(db, QStringLiteral("SELECT step FROM metrics WHERE run = 1 AND key = "
                                      "'test_error' ORDER BY value, step LIMIT 1"));
        if (keep > 0)
            QVERIFY2(best < steps[steps.size() - keep],
                     "the best epoch is among the newest: the test would not see it kept");
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT keep_checkpoints FROM runs WHERE id = 1")),
                 qint64(keep));
        const QJsonObject list = listJson(db);
        const QJsonObject run = list[QStringLiteral("runs")].toArray()[0].toObject();
        QCOMPARE(run[QStringLiteral("keep_checkpoints")].toInt(), keep);
        QCOMPARE(run[QStringLiteral("checkpoints")].toInt(), int(want.size()));
        QCOMPARE(list[QStringLiteral("database_bytes")].toInteger(), QFileInfo(db).size());
    }

    void rejectsBadKeepCheckpoints_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("value");
        for (const QString v :
             {QStringLiteral("0"), QString(), QStringLiteral("x"), QStringLiteral("-1"),
              QStringLiteral("1e3"), QStringLiteral("99999999999")}) {
            QTest::newRow(qPrintable("train " + v))
                << QStringList{QStringLiteral("train"), path(QStringLiteral("wide8.json"))} << v;
            QTest::newRow(qPrintable("resume " + v))
                << QStringList{QStringLiteral("resume"), QStringLiteral("1")} << v;
            QTest::newRow(qPrintable("sweep " + v))
                << QStringList{QStringLiteral("sweep"), path(QStringLiteral("none.json"))} << v;
        }
    }
    void rejectsBadKeepCheckpoints() {
        QFETCH(QStringList, args);
        QFETCH(QString, value);
        const QString db = path(QStringLiteral("bad-keep.db"));
        const Result r = cli(args + QStringList{QStringLiteral("--keep-checkpoints"), value,
                                                QStringLiteral("--db"), db});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--keep-checkpoints"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY(!QFile::exists(db));
    }

    // Item 4: with the default policy the file holds about two checkpoints however many epochs
    // ran; keeping all of them grows it by one checkpoint per epoch.
    void fileSizeDoesNotGrowWithEpochs() {
        const QString few = path(QStringLiteral("size-2.db")),
                      many = path(QStringLiteral("size-12.db")),
                      all = path(QStringLiteral("size-all.db"));
        for (const auto& [db, extra] :
             {std::pair{few, QStringList{QStringLiteral("--epochs"), QStringLiteral("2")}},
              std::pair{many, QStringList{}},
              std::pair{
                  all, QStringList{QStringLiteral("--keep-checkpoints"), QStringLiteral("all")}}}) {
            const Result r =
                cli(QStringList{QStringLiteral("train"), path(QStringLiteral("wide12.json")),
                                QStringLiteral("--db"), db, QStringLiteral("--quiet")} +
                    extra);
            QVERIFY2(r.code == 0, r.err.constData());
        }
        const qint64 blob =
            sqlInt(many, QStringLiteral("SELECT max(length(blob)) FROM checkpoints"));
        QVERIFY(blob > 1000000);
        const auto bytes = [](const QString& db) {
            return listJson(db)[QStringLiteral("database_bytes")].toInteger();
        };
        const qint64 sizeFew = bytes(few), sizeMany = bytes(many), sizeAll = bytes(all);
        const QString sizes =
            QStringLiteral("2 epochs %1, 12 epochs %2, 12 keeping all %3, checkpoint %4 bytes")
                .arg(sizeFew)
                .arg(sizeMany)
                .arg(sizeAll)
                .arg(blob);
        qInfo("%s", qPrintable(sizes));
        QVERIFY2(sizeMany <= 2 * blob + blob / 2, qPrintable(sizes));
        QVERIFY2(sizeMany <= sizeFew + blob / 4, qPrintable(sizes)); // no growth per epoch
        QVERIFY2(sizeAll >= 12 * blob, qPrintable(sizes));
        // Incremental auto-vacuum is on, and the freed pages left the file.
        QCOMPARE(sqlInt(many, QStringLiteral("PRAGMA auto_vacuum")), qint64(2));
        QVERIFY(sqlInt(many, QStringLiteral("PRAGMA freelist_count")) * 4096 < blob / 4);
    }

    // Item 4: a run killed mid-way resumes from the newest checkpoint retention kept and ends
    // where an uninterrupted run does.
    void resumeFromLastKeptCheckpoint() {
        const Result straight = cli({QStringLiteral("train"), path(QStringLiteral("wide30.json")),
                                     QStringLiteral("--no-store"), QStringLiteral("--json"),
                                     QStringLiteral("--quiet")});
        QVERIFY2(straight.code == 0, straight.err.constData());
        const QString db = path(QStringLiteral("resume.db"));
        QProcess p;
        p.start(QStringLiteral(BITBENCH_CLI_PATH),
                {QStringLiteral("train"), path(QStringLiteral("wide30.json")),
                 QStringLiteral("--db"), db, QStringLiteral("--quiet")});
        QVERIFY(p.waitForStarted());
        QByteArray seen;
        QTRY_VERIFY_WITH_TIMEOUT((seen += p.readAllStandardOutput()).contains("epoch    4 "),
                                 60000);
        p.kill();
        QVERIFY(p.waitForFinished());
        QVERIFY2(!seen.contains("epoch   30 "), "the run finished before it could be killed");
        QVERIFY(sqlInt(db, QStringLiteral("SELECT count(*) FROM checkpoints")) <= 2);

        const Result resumed =
            cli({QStringLiteral("resume"), QStringLiteral("1"), QStringLiteral("--db"), db,
                 QStringLiteral("--json"), QStringLiteral("--quiet")});
        QVERIFY2(resumed.code == 0, resumed.err.constData());
        QVERIFY2(resumed.err.contains("from its last checkpoint"), resumed.err.constData());
        QCOMPARE(hashes(resumed.last()), hashes(straight.last()));
        const QList<qint64> steps = epochSteps(db, 1);
        QCOMPARE(steps.size(), 30);
        QCOMPARE(storedCheckpoints(db, 1), expectedCheckpoints(db, 1, steps, 1));
    }

    // Item 4: replay re-runs from the stored configuration; it needs no checkpoint.
    void replayNeedsNoCheckpoint() {
        const QString db = path(QStringLiteral("replay.db"));
        const Result r = cli({QStringLiteral("train"), path(QStringLiteral("wide8.json")),
                              QStringLiteral("--db"), db, QStringLiteral("--quiet"),
                              QStringLiteral("--keep-checkpoints"), QStringLiteral("all")});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(sqlExec(db, QStringLiteral("DELETE FROM checkpoints WHERE run = 1")));
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM checkpoints")), qint64(0));
        const Result rep =
            cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(rep.code == 0, rep.out.constData());
        QVERIFY(rep.out.contains("MATCH: 8 epochs"));
    }

    // Item 4: a database from before schema 2 is converted to incremental auto-vacuum once, with
    // its contents intact.
    void upgradeTurnsOnIncrementalVacuum() {
        const QString db = path(QStringLiteral("v1.db"));
        std::filesystem::copy_file(BITBENCH_SOURCE_DIR "/tests/golden/store-v1/runs.db",
                                   db.toStdString());
        QCOMPARE(sqlInt(db, QStringLiteral("PRAGMA auto_vacuum")), qint64(0));
        const qint64 runs = sqlInt(db, QStringLiteral("SELECT count(*) FROM runs"));
        const qint64 metrics = sqlInt(db, QStringLiteral("SELECT count(*) FROM metrics"));
        RunStore::open(db.toStdString());
        QCOMPARE(sqlInt(db, QStringLiteral("PRAGMA auto_vacuum")), qint64(2));
        QCOMPARE(sqlInt(db, QStringLiteral("PRAGMA user_version")), qint64(store_schema_latest()));
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM runs")), runs);
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM metrics")), metrics);
        QCOMPARE(
            sqlInt(
                db,
                QStringLiteral(
                    "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'")),
            qint64(0));
        // Runs stored before version 2 kept every checkpoint, and still do.
        QCOMPARE(
            sqlInt(db, QStringLiteral("SELECT count(*) FROM runs WHERE keep_checkpoints != 0")),
            qint64(0));
    }

    // Item 5: a claim held by a live process is respected; a dead process's claim is taken over.
    void sweepSkipsTrialOfLiveProcess() {
        writeFile(QStringLiteral("claim-base.json"), experiment(1, 64));
        writeFile(
            QStringLiteral("claim-sweep.json"),
            R"({"name": "claims", "base": "claim-base.json", "patterns": ["2888", "2-8-8-4"]})");
        const QString db = path(QStringLiteral("claim.db"));
        const QStringList sweep{QStringLiteral("sweep"), path(QStringLiteral("claim-sweep.json")),
                                QStringLiteral("--db"), db};
        Result r = cli(sweep);
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out.count(": final test error"), 2);

        // Trial 1 looks claimed by a live process on this machine, its run unfinished.
        auto sleeper = startSleeper();
        const qint64 pid = sleeper->processId();
        const QString claim =
            QStringLiteral("UPDATE sweep_trials SET status = 'running', claim_host = '%1', "
                           "claim_pid = %2, claim_token = '%3' WHERE run = 1; "
                           "UPDATE runs SET status = 'interrupted' WHERE id = 1;")
                .arg(QString::fromStdString(store_host_name()))
                .arg(pid)
                .arg(QString::fromStdString(store_process_token(pid)));
        QVERIFY(sqlExec(db, claim));
        r = cli(sweep);
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(
            r.out.contains(
                QStringLiteral("run 1 is being trained by process %1: skipped").arg(pid).toUtf8()),
            r.out.constData());
        QCOMPARE(r.out.count(": final test error"), 0);
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT status = 'interrupted' FROM runs WHERE id = 1")),
                 qint64(1));

        // The claimer dies: the next sweep takes the trial over and finishes its run.
        sleeper->kill();
        sleeper->waitForFinished();
        r = cli(sweep);
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("run 1 (resumed)"), r.out.constData());
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM runs")), qint64(2));
        QCOMPARE(
            sqlInt(db, QStringLiteral("SELECT count(*) FROM sweep_trials WHERE status = 'finished' "
                                      "AND claim_pid IS NOT NULL")),
            qint64(2));
    }

    // Item 5: resume refuses a run that a live process trains (exit 2, naming the process), and
    // takes it over once that process is gone.
    void resumeRefusesRunOfLiveProcess() {
        const QString db = path(QStringLiteral("busy.db"));
        Result r = cli({QStringLiteral("train"), path(QStringLiteral("wide8.json")),
                        QStringLiteral("--db"), db, QStringLiteral("--quiet"),
                        QStringLiteral("--keep-checkpoints"), QStringLiteral("all")});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY(sqlExec(db, QStringLiteral("DELETE FROM checkpoints WHERE step > 4")));
        auto sleeper = startSleeper();
        const qint64 pid = sleeper->processId();
        QVERIFY(sqlExec(
            db, QStringLiteral(
                    "UPDATE runs SET status = 'running', writer_host = '%1', writer_pid = %2, "
                    "writer_token = '%3' WHERE id = 1")
                    .arg(QString::fromStdString(store_host_name()))
                    .arg(pid)
                    .arg(QString::fromStdString(store_process_token(pid)))));
        const QStringList resume{QStringLiteral("resume"), QStringLiteral("1"),
                                 QStringLiteral("--db"), db, QStringLiteral("--quiet")};
        r = cli(resume);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(
                     QStringLiteral("run 1 is being trained by process %1").arg(pid).toUtf8()),
                 r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        sleeper->kill();
        sleeper->waitForFinished();
        r = cli(resume);
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("resuming run 1 at step 4 "), r.out.constData());
    }

    // Item 5: two sweep processes started at the same instant on one sweep train every trial
    // exactly once between them; repeated, since a race shows only sometimes.
    void twoSweepsAtOnceTrainEachTrialOnce() {
        writeFile(QStringLiteral("race-base.json"), experiment(1, 512));
        writeFile(
            QStringLiteral("race-sweep.json"),
            R"({"name": "race", "base": "race-base.json", "patterns": ["2888", "2-8-8-4", "2-8-8-6", "2-6-8-8"]})");
        for (int round = 0; round < 5; ++round) {
            const QString db = path(QStringLiteral("race-sweep-%1.db").arg(round));
            const QStringList args{
                QStringLiteral("sweep"),     path(QStringLiteral("race-sweep.json")),
                QStringLiteral("--db"),      db,
                QStringLiteral("--threads"), QStringLiteral("1")};
            QProcess a, b;
            a.start(QStringLiteral(BITBENCH_CLI_PATH), args);
            b.start(QStringLiteral(BITBENCH_CLI_PATH), args);
            const Result ra = finish(a), rb = finish(b);
            QVERIFY2(ra.code == 0, ra.err.constData());
            QVERIFY2(rb.code == 0, rb.err.constData());
            const QByteArray both = ra.out + rb.out;
            QCOMPARE(both.count(": final test error"), 4); // each trial trained by one of them
            for (const char* label : {"2-8-8-8 ", "2-8-8-4 ", "2-8-8-6 ", "2-6-8-8 "})
                QVERIFY2(both.count(QByteArray("trial ") + label) == 2,
                         both.constData()); // trained + skipped
            QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM sweeps")), qint64(1));
            QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM runs")), qint64(4));
            QCOMPARE(
                sqlInt(db, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'finished'")),
                qint64(4));
            QCOMPARE(sqlInt(db, QStringLiteral(
                                    "SELECT count(*) FROM sweep_trials WHERE status = 'finished'")),
                     qint64(4));
            // One epoch stored per run.
            QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM epoch_hashes")), qint64(4));
        }
    }

    // Item 5: two resumes of one run started at the same instant: exactly one trains it, the
    // other exits 2 naming the process that does; repeated.
    void twoResumesAtOnceTrainOnce() {
        const QString db = path(QStringLiteral("race-resume.db"));
        Result r = cli({QStringLiteral("train"), path(QStringLiteral("wide4.json")),
                        QStringLiteral("--db"), db, QStringLiteral("--quiet"),
                        QStringLiteral("--keep-checkpoints"), QStringLiteral("all"),
                        QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY2(r.code == 0, r.err.constData());
        const qint64 first = epochSteps(db, 1).value(0);
        QVERIFY(first > 0);
        int busySeen = 0;
        for (int round = 0; round < 5; ++round) {
            // Back to "interrupted after epoch 1".
            QVERIFY(
                sqlExec(db, QStringLiteral("UPDATE runs SET status = 'interrupted' WHERE id = 1; "
                                           "DELETE FROM checkpoints WHERE step > %1; "
                                           "DELETE FROM epoch_hashes WHERE step > %1;")
                                .arg(first)));
            const QStringList args{
                QStringLiteral("resume"),  QStringLiteral("1"),         QStringLiteral("--db"), db,
                QStringLiteral("--quiet"), QStringLiteral("--threads"), QStringLiteral("1")};
            QProcess a, b;
            a.start(QStringLiteral(BITBENCH_CLI_PATH), args);
            b.start(QStringLiteral(BITBENCH_CLI_PATH), args);
            const qint64 pidA = a.processId(), pidB = b.processId();
            const Result ra = finish(a), rb = finish(b);
            QVERIFY2((ra.code == 0) != (rb.code == 0), (ra.err + rb.err).constData());
            const Result& winner = ra.code == 0 ? ra : rb;
            const Result& loser = ra.code == 0 ? rb : ra;
            const qint64 winnerPid = ra.code == 0 ? pidA : pidB;
            QCOMPARE(loser.code, 2);
            QCOMPARE(loser.out.count("train loss"), 0);
            QCOMPARE(winner.out.count("train loss"), 3); // epochs 2 to 4
            const QByteArray busy =
                QStringLiteral("run 1 is being trained by process %1").arg(winnerPid).toUtf8();
            QVERIFY2(loser.err.contains(busy) || loser.err.contains("run 1 is already finished"),
                     loser.err.constData());
            busySeen += loser.err.contains(busy) ? 1 : 0;
            QCOMPARE(
                sqlInt(db, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'finished'")),
                qint64(1));
            QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM epoch_hashes")), qint64(4));
        }
        QVERIFY2(busySeen > 0, "the two resumes never overlapped");
    }

    // Item 12: a data error inside a sweep trial exits 3, marks its run and trial failed with the
    // message, and a re-run after the data is fixed trains the trial.
    void sweepDataErrorFailsTrialAndResumes() {
        const QString data = path(QStringLiteral("idx"));
        QVERIFY(QDir().mkpath(data));
        writeIdx(data + "/train-images-idx3-ubyte", true, 64);
        writeIdx(data + "/train-labels-idx1-ubyte", false, 64);
        writeIdx(data + "/t10k-images-idx3-ubyte", true, 64);
        writeIdx(data + "/t10k-labels-idx1-ubyte", false, 64);
        const QString missing = data + "/t10k-labels-idx1-ubyte";
        QVERIFY(QFile::rename(missing, missing + ".away"));
        writeFile(QStringLiteral("idx-base.json"), experiment(1, 64, "mnist"));
        writeFile(QStringLiteral("idx-sweep.json"),
                  R"({"name": "idx", "base": "idx-base.json", "patterns": ["2888"]})");
        const QString db = path(QStringLiteral("data-error.db"));
        const QStringList sweep{
            QStringLiteral("sweep"),      path(QStringLiteral("idx-sweep.json")),
            QStringLiteral("--db"),       db,
            QStringLiteral("--data-dir"), data};
        Result r = cli(sweep);
        QCOMPARE(r.code, 3);
        QVERIFY2(r.err.contains("t10k-labels-idx1-ubyte"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'failed' AND "
                                           "status_message LIKE '%t10k-labels-idx1-ubyte%'")),
                 qint64(1));
        QCOMPARE(sqlInt(db, QStringLiteral(
                                "SELECT count(*) FROM sweep_trials WHERE status = 'failed' AND "
                                "message LIKE '%t10k-labels-idx1-ubyte%'")),
                 qint64(1));
        Result show = cli({QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("1"),
                           QStringLiteral("--db"), db});
        QVERIFY2(show.out.contains("failed") && show.out.contains("t10k-labels-idx1-ubyte"),
                 show.out.constData());

        QVERIFY(QFile::rename(missing + ".away", missing));
        r = cli(sweep);
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out.count(": final test error"), 1);
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM sweep_trials WHERE status = "
                                           "'finished' AND message IS NULL")),
                 qint64(1));
        QCOMPARE(sqlInt(db, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'finished' "
                                           "AND status_message IS NULL")),
                 qint64(1));
    }
};

QTEST_GUILESS_MAIN(TestCliLifecycle)
#include "test_cli_lifecycle.moc"
