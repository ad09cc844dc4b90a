// Run store opening: migrations, refusal of foreign/newer/non-SQLite files, read-only files and
// folders, missing ids, and run/sweep bookkeeping.
#include "bitbench/error.h"
#include "bitbench/store.h"
#include "store/store_schema.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace bitbench;

namespace {

std::string readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void writeAll(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Runs SQL on a raw connection (not through the store), for setting up foreign files.
void rawExec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    QCOMPARE(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    QVERIFY2(rc == SQLITE_OK, msg.c_str());
}

int64_t rawInt(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

std::string rawText(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    std::string v = "<no row>";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

RunInfo info(const std::string& name) {
    return RunInfo{
        name, R"({"model":"mlp"})", "{}", "cfg-" + name, 42, "2-8-8-8", "mlp", "synthetic", "", ""};
}

// Expects `body` to throw a StoreError whose message contains `needle`.
template <class F>
bool throwsStoreError(F body, const std::string& needle, std::string* msg = nullptr) {
    try {
        body();
    } catch (const StoreError& e) {
        if (msg) *msg = e.what();
        if (std::string(e.what()).find(needle) != std::string::npos) return true;
        qWarning("message was: %s", e.what());
        return false;
    }
    qWarning("no StoreError");
    return false;
}

struct Probe {
    int exitCode = -1;
    QString out, err;
};

Probe probe(const std::string& db) {
    QProcess p;
    p.start(QStringLiteral(BITBENCH_STORE_HELPER),
            {QStringLiteral("probe"), QString::fromStdString(db), QStringLiteral("--as-nobody")});
    p.waitForFinished(60000);
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

} // namespace

class TestStoreSchema : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void createsMissingFileAtLatestSchema() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("sub/folder/runs.db").toStdString();
        {
            RunStore s = RunStore::open(p);
            QVERIFY(!s.readOnly());
            QVERIFY(s.runsList().empty());
        }
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(store_schema_latest()));
        QCOMPARE(rawInt(p, "PRAGMA application_id"), int64_t(kStoreApplicationId));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM sqlite_schema WHERE name IN ('runs', 'metrics', "
                           "'tensor_stats', 'histograms', 'epoch_hashes', 'checkpoints', 'sweeps', "
                           "'sweep_trials')"),
                 int64_t(8));
        // WAL is a property of the file, kept after the connection closes.
        QCOMPARE(readAll(p).substr(18, 2), std::string("\x02\x02"));
    }

    void migratesEmptyFile() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("empty.db").toStdString();
        writeAll(p, "");
        RunStore s = RunStore::open(p);
        const int64_t id = s.runCreate(info("a"));
        QCOMPARE(s.runGet(id).info.name, std::string("a"));
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(store_schema_latest()));
    }

    void reopenKeepsRuns() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        int64_t id = 0;
        {
            RunStore s = RunStore::open(p);
            id = s.runCreate(info("kept"));
            s.runFinish(id, RunStatus::Finished, R"({"final":1})");
        }
        RunStore s = RunStore::open(p);
        const RunRecord r = s.runGet(id);
        QCOMPARE(r.info.name, std::string("kept"));
        QCOMPARE(r.info.seed, uint64_t(42));
        QCOMPARE(r.status, RunStatus::Finished);
        QCOMPARE(r.summaryJson, std::string(R"({"final":1})"));
        QVERIFY(!r.startedAt.empty() && !r.endedAt.empty());
        QVERIFY(!r.info.programVersion.empty() && !r.info.host.empty());
    }

    // One seed range everywhere (issue 10 item 3): 0..2^63-1 is stored and read back exactly; a
    // larger seed, which SQLite's signed integer would hold as a negative number, is refused.
    void seedRangeRoundTrips() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("seeds.db").toStdString();
        RunStore s = RunStore::open(p);
        for (const uint64_t seed : {uint64_t(0), uint64_t(9223372036854775807ull)}) {
            RunInfo i = info("seed");
            i.seed = seed;
            QCOMPARE(s.runGet(s.runCreate(i)).info.seed, seed);
        }
        for (const uint64_t seed : {uint64_t(9223372036854775808ull), ~uint64_t(0)}) {
            RunInfo i = info("too large");
            i.seed = seed;
            QVERIFY_THROWS_EXCEPTION(InputError, s.runCreate(i));
        }
        QCOMPARE(s.runsList().size(), size_t(2));
    }

    // The mechanism itself, with a made-up version 2 on top of this program's steps.
    void migratorAppliesNewerStepsInOrder() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        { RunStore::open(p).runCreate(info("old")); }
        std::vector<StoreMigration> steps(store_schema_migrations().begin(),
                                          store_schema_migrations().end());
        const int32_t next = store_schema_latest() + 1;
        steps.push_back({next, "ALTER TABLE runs ADD COLUMN note TEXT; UPDATE runs SET note = 'next';"});
        {
            SqliteDb db(p, p, SQLITE_OPEN_READWRITE);
            store_schema_migrate(db, steps);
            store_schema_migrate(db, steps); // already there: no-op
        }
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(next));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM runs WHERE note = 'next'"), int64_t(1));
        // And this program, which knows only the versions before, now refuses the file.
        QVERIFY(throwsStoreError([&] { RunStore::open(p); }, "newer bitbench"));
    }

    void migratorFromZeroRunsEveryStep() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("fresh.db").toStdString();
        std::vector<StoreMigration> steps(store_schema_migrations().begin(),
                                          store_schema_migrations().end());
        const int32_t next = store_schema_latest() + 1;
        steps.push_back({next, "CREATE TABLE notes (x);"});
        {
            SqliteDb db(p, p, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
            store_schema_migrate(db, steps);
        }
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(next));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM sqlite_schema WHERE name IN ('runs', 'notes')"),
                 int64_t(2));
    }

    void failingMigrationLeavesFileAsItWas() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        { RunStore::open(p).runCreate(info("old")); }
        std::vector<StoreMigration> steps(store_schema_migrations().begin(),
                                          store_schema_migrations().end());
        const int32_t next = store_schema_latest() + 1;
        steps.push_back({next, "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);"});
        {
            SqliteDb db(p, p, SQLITE_OPEN_READWRITE);
            QVERIFY(throwsStoreError([&] { store_schema_migrate(db, steps); },
                                     "schema " + std::to_string(next)));
        }
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(store_schema_latest()));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"), int64_t(0));
        QCOMPARE(RunStore::open(p).runsList().size(), size_t(1));
    }

    void refusesNonSqlite_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::newRow("text") << QByteArray("name,bits\nrun,2888\n");
        QTest::newRow("short") << QByteArray("SQLite");
        QTest::newRow("almost") << QByteArray("SQLite format 2\0 and then some more bytes", 40);
        QByteArray noise(8192, 0);
        for (int i = 0; i < noise.size(); ++i)
            noise[i] = char((i * 131 + 7) & 0xff);
        QTest::newRow("noise") << noise;
    }

    void refusesNonSqlite() {
        QFETCH(QByteArray, bytes);
        QTemporaryDir dir;
        const std::string p = dir.filePath("notes.txt").toStdString();
        writeAll(p, bytes.toStdString());
        std::string msg;
        QVERIFY(throwsStoreError([&] { RunStore::open(p); }, "not an SQLite file", &msg));
        QVERIFY(msg.find("notes.txt") != std::string::npos);
        QVERIFY(
            throwsStoreError([&] { RunStore::open(p, StoreAccess::ReadOnly); }, "not an SQLite"));
        QCOMPARE(readAll(p), bytes.toStdString());
        QVERIFY(!std::filesystem::exists(p + "-wal") && !std::filesystem::exists(p + "-shm"));
    }

    void refusesForeignSqlite_data() {
        QTest::addColumn<QString>("sql");
        QTest::addColumn<QString>("expect");
        QTest::newRow("no application id")
            << "CREATE TABLE notes (x); INSERT INTO notes VALUES (1);"
            << "application_id 0x00000000";
        QTest::newRow("other application id")
            << "PRAGMA application_id = 252006674; CREATE TABLE t (x);"
            << "application_id 0x0f055112";
        QTest::newRow("id only, no tables") << "PRAGMA application_id = 7;"
                                            << "application_id 0x00000007";
        QTest::newRow("user_version only") << "PRAGMA user_version = 3;"
                                           << "application_id 0x00000000";
    }

    void refusesForeignSqlite() {
        QFETCH(QString, sql);
        QFETCH(QString, expect);
        QTemporaryDir dir;
        const std::string p = dir.filePath("other.sqlite").toStdString();
        rawExec(p, sql.toStdString());
        const std::string before = readAll(p);
        QVERIFY(throwsStoreError([&] { RunStore::open(p); }, "not a bitbench run database"));
        QVERIFY(throwsStoreError([&] { RunStore::open(p); }, expect.toStdString()));
        QCOMPARE(readAll(p), before);
        QVERIFY(!std::filesystem::exists(p + "-wal"));
    }

    void refusesNewerSchema() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        { RunStore::open(p).runCreate(info("from the future")); }
        rawExec(p, "PRAGMA user_version = 99");
        const std::string before = readAll(p);
        const std::string expect =
            "was written by a newer bitbench (schema 99, this program knows " +
            std::to_string(store_schema_latest()) + ")";
        QVERIFY(throwsStoreError([&] { RunStore::open(p); }, expect));
        QVERIFY(throwsStoreError([&] { RunStore::open(p, StoreAccess::ReadOnly); }, expect));
        QCOMPARE(readAll(p), before);
    }

    void readOnlyAccessNeverWrites() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        QVERIFY(
            throwsStoreError([&] { RunStore::open(p, StoreAccess::ReadOnly); }, "no run database at"));
        QVERIFY(!std::filesystem::exists(p));
        { RunStore::open(p).runCreate(info("a")); }
        RunStore s = RunStore::open(p, StoreAccess::ReadOnly);
        QVERIFY(s.readOnly());
        QCOMPARE(s.runsList().size(), size_t(1));
        QVERIFY(throwsStoreError([&] { s.runCreate(info("b")); },
                                 "cannot create a run: opened read-only"));
        QVERIFY(throwsStoreError([&] { s.runDelete(1); }, "cannot delete a run"));
    }

    // Permission bits do not bind root, so these run in a child process as an ordinary user.
    void readOnlyFile() {
        QTemporaryDir dir;
        QVERIFY(::chmod(dir.path().toLocal8Bit().constData(), 0777) == 0);
        const std::string p = dir.filePath("runs.db").toStdString();
        { RunStore::open(p).runCreate(info("stored")); }
        QVERIFY(::chmod(p.c_str(), 0444) == 0);
        const Probe r = probe(p);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QStringLiteral("readonly=1")), qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QStringLiteral("runs=1")), qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QStringLiteral("create=error: '") + QString::fromStdString(p) +
                                QStringLiteral("': cannot create a run: the file is read-only")),
                 qPrintable(r.out));
    }

    void readOnlyFolder() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        { RunStore::open(p).runCreate(info("stored")); }
        QVERIFY(::chmod(p.c_str(), 0666) == 0); // the file is writable, its folder is not
        QVERIFY(::chmod(dir.path().toLocal8Bit().constData(), 0755) == 0);
        const Probe r = probe(p);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QStringLiteral("readonly=1")), qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QStringLiteral("runs=1")), qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains(QStringLiteral("create=error:")) &&
                     r.out.contains(QStringLiteral("is not writable, and SQLite's write-ahead log "
                                                   "needs to create 'runs.db-wal'")),
                 qPrintable(r.out));
        QVERIFY(!std::filesystem::exists(p + "-wal"));
    }

    void readOnlyFolderWithoutDatabase() {
        QTemporaryDir dir;
        QVERIFY(::chmod(dir.path().toLocal8Bit().constData(), 0755) == 0);
        const std::string p = dir.filePath("runs.db").toStdString();
        const Probe r = probe(p);
        QCOMPARE(r.exitCode, 4);
        QVERIFY2(r.err.contains(QStringLiteral("cannot create the database: the folder")),
                 qPrintable(r.err));
        QVERIFY(!std::filesystem::exists(p));
    }

    void missingRunIdIsNamed() {
        QTemporaryDir dir;
        RunStore s = RunStore::open(dir.filePath("runs.db").toStdString());
        QVERIFY(throwsStoreError([&] { s.runGet(999); }, "has no run with id 999"));
        QVERIFY(throwsStoreError([&] { s.runRename(999, "x"); }, "has no run with id 999"));
        QVERIFY(throwsStoreError([&] { s.runDelete(999); }, "has no run with id 999"));
        QVERIFY(throwsStoreError([&] { s.runFinish(999, RunStatus::Failed, ""); }, "id 999"));
        QVERIFY(throwsStoreError([&] { s.sweepGet(5); }, "has no sweep with id 5"));
        QVERIFY(throwsStoreError([&] { RunWriter w(s.path(), 999); }, "has no run with id 999"));
        QVERIFY(!s.runExists(999));
    }

    void renameAndDeleteCascade() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        RunStore s = RunStore::open(p);
        const int64_t a = s.runCreate(info("a"));
        const int64_t b = s.runCreate(info("b"));
        {
            RunWriter w(p, a);
            w.onStep(StepMetrics{0, 0, 1.0, 0.5, 0.1, 100});
            w.onEpoch(EpochMetrics{0, 1, 1, 0.5, 1, 0.25, 77, 1, 100});
            w.checkpointPut(1, 0, {1, 2, 3});
            w.finish(RunStatus::Finished, "{}");
        }
        const int64_t sweep = s.sweepCreate("bits", R"({"W":[2,4]})");
        s.sweepTrialPut(sweep, "cfg-a", a, TrialStatus::Finished);
        s.runRename(a, "renamed");
        QCOMPARE(s.runGet(a).info.name, std::string("renamed"));
        s.runDelete(a);
        QVERIFY(!s.runExists(a));
        QVERIFY(s.runExists(b));
        QVERIFY(s.metricsGet(a, "loss").empty());
        QVERIFY(s.epochsGet(a).empty());
        QVERIFY(!s.checkpointLatest(a));
        for (const char* table :
             {"metrics", "epoch_hashes", "checkpoints", "tensor_stats", "histograms"})
            QCOMPARE(rawInt(p, (std::string("SELECT count(*) FROM ") + table).c_str()), int64_t(0));
        // The trial survives without its run, so the sweep can run that configuration again.
        const auto trials = s.sweepTrialsGet(sweep);
        QCOMPARE(trials.size(), size_t(1));
        QCOMPARE(trials[0].runId, int64_t(0));
    }

    // A database written by bitbench 0.1 (schema 1, tests/golden/store-v1) upgrades in place and
    // keeps every run, child row and sweep trial; old runs keep every checkpoint.
    void upgradesVersion1Database() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        std::filesystem::copy_file(BITBENCH_SOURCE_DIR "/tests/golden/store-v1/runs.db", p);
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(1));
        const char* counts[] = {"SELECT count(*) FROM metrics", "SELECT count(*) FROM histograms",
                                "SELECT count(*) FROM tensor_stats", "SELECT count(*) FROM checkpoints",
                                "SELECT count(*) FROM epoch_hashes", "SELECT count(*) FROM sweep_trials"};
        std::vector<int64_t> before;
        for (const char* q : counts) before.push_back(rawInt(p, q));
        QVERIFY(before[0] > 0 && before[3] > 0 && before[5] == 2);
        {
            RunStore s = RunStore::open(p);
            const auto runs = s.runsList();
            QCOMPARE(runs.size(), size_t(5));
            QCOMPARE(runs[2].status, RunStatus::Interrupted);
            QCOMPARE(runs[2].epochs, 6);
            QCOMPARE(runs[1].info.bitsPattern, std::string("2-8-f-8"));
            const auto trials = s.sweepTrialsGet(1);
            QCOMPARE(trials.size(), size_t(2));
            QCOMPARE(trials[0].runId, int64_t(4));
            QCOMPARE(trials[1].status, TrialStatus::Finished);
        }
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(store_schema_latest()));
        for (size_t i = 0; i < std::size(counts); ++i) QCOMPARE(rawInt(p, counts[i]), before[i]);
        QCOMPARE(rawInt(p, "SELECT count(*) FROM runs WHERE keep_checkpoints = 0"), int64_t(5));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM runs WHERE executor IS NULL"), int64_t(5));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM pragma_foreign_key_check"), int64_t(0));
        QCOMPARE(rawInt(p, "PRAGMA foreign_keys"), int64_t(0)); // a fresh raw connection's default
        // The children still cascade from the rebuilt runs table.
        {
            RunStore s = RunStore::open(p);
            s.runDelete(3);
        }
        QCOMPARE(rawInt(p, "SELECT count(*) FROM checkpoints WHERE run = 3"), int64_t(0));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM metrics WHERE run = 3"), int64_t(0));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM metrics WHERE run = 1") > 0, true);
    }

    // A database of the release before engines were recorded (schema 2, tests/golden/store-v2)
    // upgrades in place: its runs get no executor (NULL: they replay and resume by the rule of
    // that release), and new runs store theirs; every run gets a uid.
    void upgradesVersion2Database() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        std::filesystem::copy_file(BITBENCH_SOURCE_DIR "/tests/golden/store-v2/runs.db", p);
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(2));
        const int64_t metrics = rawInt(p, "SELECT count(*) FROM metrics");
        const int64_t checkpoints = rawInt(p, "SELECT count(*) FROM checkpoints");
        QVERIFY(metrics > 0 && checkpoints > 0);
        {
            RunStore s = RunStore::open(p);
            const auto runs = s.runsList();
            QCOMPARE(runs.size(), size_t(3));
            for (const RunRecord& r : runs) QCOMPARE(r.info.executor, std::string());
            QCOMPARE(runs[1].info.bitsPattern, std::string("2-8-f-f"));
            RunInfo graph = info("new");
            graph.executor = "graph";
            QCOMPARE(s.runGet(s.runCreate(graph)).info.executor, std::string("graph"));
            QCOMPARE(s.runGet(s.runCreate(info("unknown"))).info.executor, std::string());
        }
        QCOMPARE(rawInt(p, "PRAGMA user_version"), int64_t(store_schema_latest()));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM runs WHERE executor IS NULL"), int64_t(4));
        // Schema 4: every run, old or new, has its own uid (what a shard merge knows it by).
        QCOMPARE(rawInt(p, "SELECT count(DISTINCT uid) FROM runs WHERE length(uid) = 32"),
                 int64_t(5));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM runs WHERE executor = 'graph'"), int64_t(1));
        QCOMPARE(rawInt(p, "SELECT count(*) FROM metrics"), metrics);
        QCOMPARE(rawInt(p, "SELECT count(*) FROM checkpoints"), checkpoints);
        QCOMPARE(rawInt(p, "SELECT count(*) FROM pragma_foreign_key_check"), int64_t(0));
    }

    // The status words are what files hold: each enum value is written and read as this word.
    void statusNamesAsStored() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        const std::pair<RunStatus, const char*> runs[] = {{RunStatus::Running, "running"},
                                                          {RunStatus::Finished, "finished"},
                                                          {RunStatus::Failed, "failed"},
                                                          {RunStatus::Interrupted, "interrupted"},
                                                          {RunStatus::Diverged, "diverged"}};
        const std::pair<TrialStatus, const char*> trials[] = {{TrialStatus::Pending, "pending"},
                                                              {TrialStatus::Running, "running"},
                                                              {TrialStatus::Finished, "finished"},
                                                              {TrialStatus::Failed, "failed"},
                                                              {TrialStatus::Diverged, "diverged"}};
        std::vector<int64_t> ids;
        {
            RunStore s = RunStore::open(p);
            const int64_t sweep = s.sweepCreate("names", "{}");
            for (const auto& [status, word] : runs) {
                QCOMPARE(std::string(run_status_name(status)), std::string(word));
                const int64_t id = s.runCreate(info(word));
                s.runFinish(id, status, "");
                QCOMPARE(s.runGet(id).status, status);
                ids.push_back(id);
            }
            for (const auto& [status, word] : trials)
                s.sweepTrialPut(sweep, word, 0, status);
            const auto got = s.sweepTrialsGet(sweep);
            QCOMPARE(got.size(), std::size(trials));
            for (size_t i = 0; i < got.size(); ++i) {
                QCOMPARE(got[i].configHash, std::string(trials[i].second));
                QCOMPARE(got[i].status, trials[i].first);
            }
        }
        for (size_t i = 0; i < ids.size(); ++i)
            QCOMPARE(rawText(p, "SELECT status FROM runs WHERE id = " + std::to_string(ids[i])),
                     std::string(runs[i].second));
        for (const auto& [status, word] : trials)
            QCOMPARE(rawText(p, std::string("SELECT status FROM sweep_trials WHERE config_hash = '") +
                                    word + "'"),
                     std::string(word));
    }

    void sweepTrialsAreUniquePerConfig() {
        QTemporaryDir dir;
        RunStore s = RunStore::open(dir.filePath("runs.db").toStdString());
        const int64_t sweep = s.sweepCreate("wage", R"({"patterns":["2888","28f8"]})");
        const int64_t r1 = s.runCreate(info("t1"));
        s.sweepTrialPut(sweep, "h1", 0, TrialStatus::Pending);
        s.sweepTrialPut(sweep, "h2", 0, TrialStatus::Pending);
        s.sweepTrialPut(sweep, "h1", r1, TrialStatus::Running);
        s.sweepTrialPut(sweep, "h1", r1, TrialStatus::Finished);
        const auto t = s.sweepTrialsGet(sweep);
        QCOMPARE(t.size(), size_t(2));
        QCOMPARE(t[0].configHash, std::string("h1"));
        QCOMPARE(t[0].runId, r1);
        QCOMPARE(t[0].status, TrialStatus::Finished);
        QCOMPARE(t[1].status, TrialStatus::Pending);
        QCOMPARE(s.sweepGet(sweep).name, std::string("wage"));
        QCOMPARE(s.sweepsList().size(), size_t(1));
        QVERIFY(throwsStoreError([&] { s.sweepTrialPut(sweep, "h3", 4242, TrialStatus::Running); },
                                 "no run with id 4242"));
        QVERIFY(throwsStoreError([&] { s.sweepTrialPut(77, "h3", 0, TrialStatus::Running); },
                                 "no sweep with id 77"));
    }
};

QTEST_APPLESS_MAIN(TestStoreSchema)
#include "test_store_schema.moc"
