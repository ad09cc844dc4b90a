// Sweeps in shards (what a Slurm array task writes) merged back, without Slurm: sweep-trial into
// a shard, merge twice (nothing added), a merge failing half-way (a shard of a newer schema)
// leaving the main database as it was, shards of two sweeps, a trial whose task failed or was
// killed marked failed and resumed from its shard, and --slurm without sbatch.
#include "test_cli_process.h"

#include "bitbench/store.h"
#include "bitbench/error.h"
#include "store/sqlite_db.h"
#include "store/store_schema.h"

#include <sqlite3.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>

using namespace bitbench;

namespace {

using Result = test::CliResult;

Result cli(const QStringList& args) {
    return test::cliRun(args, 180000);
}

// A small fully connected model on generated data: each trial trains in well under a second.
QByteArray experiment(int epochs, int trainLimit, const char* dataset = "synthetic") {
    return QByteArray(R"({"name": "shard", "dataset": ")") + dataset +
           QByteArray(R"(", "bits": "2-8-8-8", "batch": 32, "lr": 8, "seed": 3, "train_limit": )") +
           QByteArray::number(trainLimit) +
           QByteArray(R"(, "test_limit": 64, "stats_interval": 4, "epochs": )") +
           QByteArray::number(epochs) +
           QByteArray(
               R"(, "model": {"name": "mlp", "input": {"height": 28, "width": 28, "channels": 1},
        "layers": [{"name": "fc1", "type": "fc", "out": 64, "relu": true},
                   {"name": "fc2", "type": "fc", "out": 10}]}})");
}

// One integer from a query on a database file, read with the store's own connection class; -1
// when the file cannot be read (a shard its task has not created yet).
int64_t sqlInt(const QString& db, const QString& sql) {
    try {
        SqliteDb h(db.toStdString(), db.toStdString(), SQLITE_OPEN_READONLY);
        return h.scalarInt(sql.toUtf8().constData());
    } catch (const StoreError&) {
        return -1;
    }
}

// Rows of every table a merge writes, as one comparable list.
QList<int64_t> rowCounts(const QString& db) {
    QList<int64_t> n;
    for (const char* t : {"runs", "metrics", "tensor_stats", "histograms", "epoch_hashes",
                          "checkpoints", "sweeps", "sweep_trials", "shard_merges"})
        n << sqlInt(db, QStringLiteral("SELECT count(*) FROM %1").arg(QLatin1String(t)));
    return n;
}

// Each run's config hash and last weights hash, sorted: what two databases must agree on.
QStringList runHashes(const QString& db) {
    QStringList out;
    RunStore s = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
    for (const RunRecord& r : s.runsList()) {
        const std::vector<EpochMetrics> e = s.epochsGet(r.id);
        out << QString::fromStdString(r.info.configHash + " " + run_status_name(r.status) + " ") +
                   (e.empty() ? QStringLiteral("-") : QString::number(e.back().weightsHash, 16));
    }
    out.sort();
    return out;
}

// PREFIX-images-idx3-ubyte (n blank 28x28 images, one lit pixel each) and PREFIX-labels-idx1-ubyte.
void writeIdxPair(const QString& prefix, int n) {
    QByteArray images("\0\0\x08\x03", 4), labels("\0\0\x08\x01", 4);
    for (const int v : {n, 28, 28}) {
        const char be[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
        images.append(be, 4);
        if (v == n) labels.append(be, 4);
    }
    for (int i = 0; i < n; ++i) {
        QByteArray img(28 * 28, '\0');
        img[(i % 10) * 28 + i % 10] = char(255);
        images += img;
        labels.append(char(i % 10));
    }
    test::fileWrite(prefix + QStringLiteral("-images-idx3-ubyte"), images);
    test::fileWrite(prefix + QStringLiteral("-labels-idx1-ubyte"), labels);
}

} // namespace

class TestShardMerge : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    QString path(const QString& name) const { return m_dir.filePath(name); }
    void writeFile(const QString& name, const QByteArray& text) {
        test::fileWrite(path(name), text);
    }

    // A new, empty main database (a merge never creates one).
    void createDb(const QString& db) { RunStore::open(db.toStdString()); }

    Result trial(const QString& sweep, int index, const QString& shard,
                 const QStringList& more = {}) {
        return cli(QStringList{QStringLiteral("sweep-trial"), path(sweep),
                               QStringLiteral("--index"), QString::number(index),
                               QStringLiteral("--shard"), shard, QStringLiteral("--threads"),
                               QStringLiteral("1")} +
                   more);
    }

    // Starts the one trial of long.json (8 epochs) into `shard` and returns once its first
    // checkpoint is stored.
    void startLongTrial(QProcess& p, const QString& shard) {
        p.start(QStringLiteral(BITBENCH_CLI_PATH),
                {QStringLiteral("sweep-trial"), path(QStringLiteral("long.json")),
                 QStringLiteral("--index"), QStringLiteral("0"), QStringLiteral("--shard"), shard,
                 QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY(p.waitForStarted());
        for (int i = 0;
             i < 3000 && sqlInt(shard, QStringLiteral("SELECT count(*) FROM checkpoints")) < 1; ++i)
            QThread::msleep(10);
    }

    Result merge(const QString& db, const QStringList& shards) {
        return cli(QStringList{QStringLiteral("merge"), QStringLiteral("--db"), db} + shards);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        writeFile(QStringLiteral("base.json"), experiment(2, 128));
        writeFile(
            QStringLiteral("a.json"),
            R"({"name": "a", "base": "base.json", "patterns": ["2888", "2-8-8-4", "2-8-8-6"]})");
        writeFile(QStringLiteral("b.json"),
                  R"({"name": "b", "base": "base.json", "patterns": ["2-6-8-8"]})");
        writeFile(QStringLiteral("long-base.json"), experiment(8, 1024));
        writeFile(QStringLiteral("long.json"),
                  R"({"name": "long", "base": "long-base.json", "patterns": ["2888"]})");
    }

    // Shards merged give the runs a local sweep gives; merging again adds nothing; a local sweep
    // on the merged database skips the merged trials and trains only the rest.
    void mergeTwiceAddsNothing() {
        const QString main = path(QStringLiteral("main.db")),
                      local = path(QStringLiteral("local.db"));
        Result r =
            cli({QStringLiteral("sweep"), path(QStringLiteral("a.json")), QStringLiteral("--db"),
                 local, QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QStringList shards{path(QStringLiteral("a0.db")), path(QStringLiteral("a1.db"))};
        for (int i = 0; i < 2; ++i) {
            r = trial(QStringLiteral("a.json"), i, shards[i]);
            QVERIFY2(r.code == 0, r.err.constData());
        }
        createDb(main);
        r = merge(main, shards);
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out.count("1 run(s) added"), 2);
        const QList<int64_t> once = rowCounts(main);
        QCOMPARE(once[0], int64_t(2));
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweep_trials WHERE status = 'finished' "
                                  "AND claim_pid IS NULL AND run IS NOT NULL")),
                 int64_t(2));
        QCOMPARE(
            sqlInt(main, QStringLiteral("SELECT count(*) FROM runs WHERE writer_pid IS NOT NULL")),
            int64_t(0));
        QVERIFY(once[1] > 0 && once[2] > 0 && once[3] > 0 &&
                once[5] > 0); // metrics, stats, histograms, checkpoints

        r = merge(main, shards);
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out.count("merged before, nothing added"), 2);
        QCOMPARE(rowCounts(main), once);

        // The third trial trained here; the merged two are done.
        r = cli({QStringLiteral("sweep"), path(QStringLiteral("a.json")), QStringLiteral("--db"),
                 main, QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(r.out.count("finished before"), 2);
        QCOMPARE(r.out.count(": final test error"), 1);
        // Same configurations, same weights as the local sweep: the shard changes nothing.
        QCOMPARE(runHashes(main), runHashes(local));
        r = cli({QStringLiteral("sweep-status"), path(QStringLiteral("a.json")),
                 QStringLiteral("--db"), main, QStringLiteral("--json")});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonArray trials = r.last().value(QStringLiteral("trials")).toArray();
        QCOMPARE(trials.size(), 3);
        for (const auto& t : trials)
            QCOMPARE(t.toObject().value(QStringLiteral("status")).toString(),
                     QStringLiteral("finished"));
    }

    // A merge that fails half-way (its second shard is of a newer schema) names the shard and
    // leaves the main database as it was: the first shard's run is not there either.
    void mergeFailingHalfwayChangesNothing() {
        const QString main = path(QStringLiteral("atomic.db"));
        const QString good = path(QStringLiteral("good.db")),
                      newer = path(QStringLiteral("newer.db"));
        QVERIFY(trial(QStringLiteral("b.json"), 0, good).code == 0);
        QVERIFY(QFile::copy(good, newer));
        {
            sqlite3* h = nullptr;
            QCOMPARE(sqlite3_open(newer.toUtf8().constData(), &h), SQLITE_OK);
            const QByteArray sql =
                "PRAGMA user_version = " + QByteArray::number(store_schema_latest() + 1);
            QCOMPARE(sqlite3_exec(h, sql.constData(), nullptr, nullptr, nullptr), SQLITE_OK);
            sqlite3_close(h);
        }
        createDb(main);
        const QList<int64_t> before = rowCounts(main);
        const Result r = merge(main, {good, newer});
        QCOMPARE(r.code, 4);
        QVERIFY2(r.err.contains("newer.db") && r.err.contains("newer bitbench"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        QCOMPARE(rowCounts(main), before);
        QVERIFY(merge(main, {good}).code == 0);
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM runs")), int64_t(1));
    }

    // A merge killed inside its transaction (it holds the main database's write lock, and waits
    // to read its second shard, which this test keeps locked) leaves the main database as it was.
    void mergeKilledMidwayChangesNothing() {
        const QString main = path(QStringLiteral("killed-merge.db"));
        const QString first = path(QStringLiteral("km-0.db")),
                      second = path(QStringLiteral("km-1.db"));
        QVERIFY(trial(QStringLiteral("a.json"), 0, first).code == 0);
        QVERIFY(trial(QStringLiteral("a.json"), 1, second).code == 0);
        createDb(main);
        const QList<int64_t> before = rowCounts(main);
        sqlite3* lock = nullptr;
        QCOMPARE(sqlite3_open(second.toUtf8().constData(), &lock), SQLITE_OK);
        QCOMPARE(sqlite3_exec(lock,
                              "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
                              "UPDATE runs SET name = name",
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
        QProcess p;
        p.start(QStringLiteral(BITBENCH_CLI_PATH),
                {QStringLiteral("merge"), QStringLiteral("--db"), main, first, second});
        QVERIFY(p.waitForStarted());
        // Inside the transaction: the main database's write lock is taken.
        bool inside = false;
        for (int i = 0; i < 500 && !inside && p.state() == QProcess::Running; ++i) {
            sqlite3* probe = nullptr;
            sqlite3_open(main.toUtf8().constData(), &probe);
            inside =
                sqlite3_exec(probe, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_BUSY;
            sqlite3_exec(probe, "ROLLBACK", nullptr, nullptr, nullptr);
            sqlite3_close(probe);
            QThread::msleep(10);
        }
        QVERIFY2(inside, p.readAllStandardError().constData());
        QThread::msleep(300);
        ::kill(pid_t(p.processId()), SIGKILL);
        p.waitForFinished();
        sqlite3_exec(lock, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(lock);
        QCOMPARE(rowCounts(main), before);
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM pragma_integrity_check WHERE "
                                             "integrity_check != 'ok'")),
                 int64_t(0));
        const Result r = merge(main, {first, second});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM runs")), int64_t(2));
    }

    // Shards of two sweeps: each run goes back to its own sweep, found by name and JSON.
    void shardsOfTwoSweeps() {
        const QString main = path(QStringLiteral("two.db"));
        const QString a = path(QStringLiteral("two-a.db")), b = path(QStringLiteral("two-b.db"));
        QVERIFY(trial(QStringLiteral("a.json"), 2, a).code == 0);
        QVERIFY(trial(QStringLiteral("b.json"), 0, b).code == 0);
        createDb(main);
        const Result r = merge(main, {a, b});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM sweeps")), int64_t(2));
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(DISTINCT t.sweep) FROM sweep_trials t JOIN runs r "
                                  "ON r.id = t.run AND r.config_hash = t.config_hash")),
                 int64_t(2));
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweeps s JOIN sweep_trials t ON t.sweep = "
                                  "s.id WHERE s.name = 'b' AND t.status = 'finished'")),
                 int64_t(1));
    }

    // A task that failed (a data error: exit 3) leaves its trial failed in the shard, and the
    // merge marks it failed in the main database with the message; run again with the data in
    // place, the task trains it and the next merge updates the same run, finished.
    void failedTaskMarkedFailedAndRunAgain() {
        const QString data = path(QStringLiteral("idx"));
        QVERIFY(QDir().mkpath(data));
        writeFile(QStringLiteral("idx-base.json"), experiment(1, 64, "idx"));
        writeFile(QStringLiteral("idx.json"),
                  R"({"name": "idx", "base": "idx-base.json", "patterns": ["2888"]})");
        const QString main = path(QStringLiteral("failed.db")),
                      shard = path(QStringLiteral("failed-0.db"));
        const QStringList dataArgs{QStringLiteral("--data-dir"), data};
        Result r = trial(QStringLiteral("idx.json"), 0, shard, dataArgs);
        QCOMPARE(r.code, 3);
        createDb(main);
        QVERIFY(merge(main, {shard}).code == 0);
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweep_trials WHERE status = 'failed' AND "
                                  "message LIKE '%train-images%'")),
                 int64_t(1));
        // The data arrives: the same task on the same shard trains the trial, and merging again
        // updates the main database's run (same id), now finished.
        writeIdxPair(data + QStringLiteral("/train"), 64);
        writeIdxPair(data + QStringLiteral("/t10k"), 64);
        r = trial(QStringLiteral("idx.json"), 0, shard, dataArgs);
        QVERIFY2(r.code == 0, r.err.constData());
        r = merge(main, {shard});
        QVERIFY2(r.out.contains("0 run(s) added, 1 updated"), r.out.constData());
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM runs")), int64_t(1));
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweep_trials WHERE status = 'finished' "
                                  "AND message IS NULL")),
                 int64_t(1));
        QCOMPARE(
            sqlInt(main, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'finished' AND "
                                        "status_message IS NULL")),
            int64_t(1));
    }

    // A task killed while training (out of time, say) leaves its trial running in the shard: the
    // merge brings it in as failed with an interrupted run; the next task on the same shard
    // resumes from the shard's checkpoint, and merging again updates that run, finished, with the
    // weights of an uninterrupted trial.
    void killedTaskResumesFromShard() {
        const QString main = path(QStringLiteral("killed.db")),
                      shard = path(QStringLiteral("killed-0.db"));
        QProcess p;
        startLongTrial(p, shard);
        ::kill(pid_t(p.processId()), SIGKILL);
        p.waitForFinished();
        QVERIFY(sqlInt(shard, QStringLiteral("SELECT count(*) FROM checkpoints")) >= 1);
        QVERIFY2(sqlInt(shard, QStringLiteral("SELECT count(*) FROM epoch_hashes")) < 8,
                 "the task finished before the kill");

        createDb(main);
        Result r = merge(main, {shard});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(
            sqlInt(main, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'interrupted'")),
            int64_t(1));
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweep_trials WHERE status = 'failed' AND "
                                  "message LIKE '%task ended before the trial did%'")),
                 int64_t(1));
        r = cli({QStringLiteral("sweep-status"), path(QStringLiteral("long.json")),
                 QStringLiteral("--db"), main});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("failed") && r.out.contains("task ended before the trial did"),
                 r.out.constData());

        r = trial(QStringLiteral("long.json"), 0, shard);
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("run 1 (resumed)"), r.out.constData());
        r = merge(main, {shard});
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("0 run(s) added, 1 updated"), r.out.constData());
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM runs")), int64_t(1));
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweep_trials WHERE status = 'finished'")),
                 int64_t(1));
        QCOMPARE(sqlInt(main, QStringLiteral("SELECT count(*) FROM epoch_hashes")), int64_t(8));

        const QString whole = path(QStringLiteral("whole.db"));
        r = cli({QStringLiteral("sweep"), path(QStringLiteral("long.json")), QStringLiteral("--db"),
                 whole, QStringLiteral("--threads"), QStringLiteral("1")});
        QVERIFY2(r.code == 0, r.err.constData());
        QCOMPARE(runHashes(main), runHashes(whole));
    }

    // A task stopped by SIGTERM (what Slurm sends at a job's time limit) exits 130 and leaves its
    // trial failed with a message saying so; the merge carries the message to the main database.
    void terminatedTaskSaysWhy() {
        const QString main = path(QStringLiteral("term.db")),
                      shard = path(QStringLiteral("term-0.db"));
        QProcess p;
        startLongTrial(p, shard);
        ::kill(pid_t(p.processId()), SIGTERM);
        const Result r = test::processFinish(p);
        QCOMPARE(r.code, 130);
        createDb(main);
        QVERIFY(merge(main, {shard}).code == 0);
        QCOMPARE(sqlInt(main, QStringLiteral(
                                  "SELECT count(*) FROM sweep_trials WHERE status = 'failed' AND "
                                  "message LIKE 'stopped by a signal%resumes it'")),
                 int64_t(1));
        QCOMPARE(
            sqlInt(main, QStringLiteral("SELECT count(*) FROM runs WHERE status = 'interrupted'")),
            int64_t(1));
    }

    // --slurm without sbatch on the PATH: exit 2 and a message saying what is missing.
    void slurmWithoutSbatch() {
        const Result r = test::processRun(
            QStringLiteral(BITBENCH_CLI_PATH),
            {QStringLiteral("sweep"), path(QStringLiteral("a.json")), QStringLiteral("--db"),
             path(QStringLiteral("nosbatch.db")), QStringLiteral("--slurm")},
            60000, {}, {QStringLiteral("PATH=") + path(QStringLiteral("no-such-folder"))});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("sbatch") && r.err.contains("PATH"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
    }

    // Slurm options without --slurm are a usage error; so is a trial index the sweep does not have.
    void badOptions() {
        Result r = cli({QStringLiteral("sweep"), path(QStringLiteral("a.json")),
                        QStringLiteral("--partition"), QStringLiteral("p")});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--slurm"), r.err.constData());
        r = trial(QStringLiteral("a.json"), 3, path(QStringLiteral("none.db")));
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("no trial with index 3"), r.err.constData());
        r = merge(path(QStringLiteral("main.db")), {path(QStringLiteral("missing-shard.db"))});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("missing-shard.db"), r.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestShardMerge)
#include "test_shard_merge.moc"
