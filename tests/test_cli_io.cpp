// bitbench-cli (and the GUI's --autotrain) input and output edges: output files never replace a
// database and are written whole, failed writes to stdout, empty option values, epoch numbering,
// databases that must not be created, and the errno words for unwritable files.
#include "test_cli_process.h"
#include "bitbench/atomic_file.h"
#include "bitbench/error.h"
#include "bitbench/store.h"
#include "test_store_synthetic.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

using namespace bitbench;
using namespace bitbench::test;

namespace {

using Result = test::CliResult;

Result run(const QString& program, const QStringList& args, const QString& stdoutFile = {},
           const QStringList& env = {}) {
    return test::processRun(program, args, 120000, stdoutFile, env);
}

Result cli(const QStringList& args, const QString& stdoutFile = {}) {
    return test::cliRun(args, 120000, stdoutFile);
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

void writeFile(const QString& path, const QByteArray& text) { test::fileWrite(path, text); }

QByteArray tinyExperiment() {
    return R"({"name": "io-tiny", "dataset": "synthetic", "bits": "2-8-8-8", "batch": 32,
      "lr": 8, "seed": 4, "train_limit": 64, "test_limit": 32, "epochs": 1,
      "model": {"name": "tiny", "input": {"height": 28, "width": 28, "channels": 1},
        "layers": [{"name": "fc1", "type": "fc", "out": 16, "relu": true},
                   {"name": "fc2", "type": "fc", "out": 10}]}})";
}

} // namespace

class TestCliIo : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    QString m_db;
    int64_t m_run = 0;

    QString path(const QString& name) const { return m_dir.filePath(name); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_db = path(QStringLiteral("runs.db"));
        const std::string p = m_db.toStdString();
        RunStore store = RunStore::open(p);
        m_run = store.runCreate(RunInfo{"io run", "{}", "{}", "h1", 5, "2-8-8-8", "lenet5",
                                        "mnist", "", ""});
        RunWriter w(p, m_run);
        for (int e = 0; e < 600; ++e) // enough epochs for a curves export of about 100 KiB
            w.onEpoch(syntheticEpoch(e, 100 * (e + 1)));
        w.finish(RunStatus::Finished, R"({"done":true})");
        writeFile(path(QStringLiteral("tiny.json")), tinyExperiment());
    }

    // ---- issue 10 item 1: no output over a database; outputs written whole ----

    void exportRefusesTheDatabaseItself() {
        const QByteArray before = readAll(m_db);
        Result r = cli({"export", "--all", "--db", m_db, "-o", m_db});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(m_db.toUtf8()), r.err.constData());
        QCOMPARE(readAll(m_db), before);
        // Through a symlink, and through a relative spelling of the same file.
        const QString link = path(QStringLiteral("table.csv"));
        QVERIFY(QFile::link(m_db, link));
        r = cli({"export", "--all", "--db", m_db, "-o", link});
        QCOMPARE(r.code, 2);
        QVERIFY(QFileInfo(link).isSymLink());
        QFile::remove(link);
        QCOMPARE(readAll(m_db), before);
        QVERIFY(RunStore::open(m_db.toStdString(), StoreAccess::ReadOnly).runExists(m_run));
    }

    void exportRefusesAnySqliteFile() {
        const QString foreign = path(QStringLiteral("other.sqlite"));
        sqlite3* db = nullptr;
        QCOMPARE(sqlite3_open(foreign.toUtf8().constData(), &db), SQLITE_OK);
        QCOMPARE(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42)", nullptr, nullptr,
                              nullptr),
                 SQLITE_OK);
        sqlite3_close(db);
        const QByteArray before = readAll(foreign);
        Result r = cli({"export", "--all", "--db", m_db, "-o", foreign});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(foreign.toUtf8()) && r.err.contains("SQLite database"),
                 r.err.constData());
        QCOMPARE(readAll(foreign), before);
        // A companion file of a database is refused as well.
        const QString wal = foreign + QStringLiteral("-wal");
        writeFile(wal, "");
        QCOMPARE(cli({"export", "--all", "--db", m_db, "-o", wal}).code, 2);
        QCOMPARE(QFileInfo(wal).size(), 0);
    }

    void exportReplacesOrdinaryFilesWhole() {
        const QString out = path(QStringLiteral("curves.csv"));
        writeFile(out, "old contents\n");
        QFile::setPermissions(out, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup);
        Result r = cli({"export", "--all", "--curves", "--db", m_db, "-o", out});
        QCOMPARE(r.code, 0);
        const QByteArray full = readAll(out);
        QVERIFY(full.size() > 80 * 1024);
        QCOMPARE(QFile::permissions(out) & (QFile::ReadGroup | QFile::ReadOther),
                 QFile::ReadGroup); // the replaced file kept its permissions

        // A write that fails half-way (file size limit: above the database's 32 KiB shared-memory
        // file, below the table) leaves the old file and no temporary one.
        writeFile(out, "old contents\n");
        const QString sh = QStringLiteral("ulimit -f 48; trap '' XFSZ; exec \"$0\" \"$@\"");
        r = run(QStringLiteral("/bin/bash"),
                {"-c", sh, QStringLiteral(BITBENCH_CLI_PATH), "export", "--all", "--curves", "--db",
                 m_db, "-o", out});
        QCOMPARE(r.code, 4);
        QVERIFY2(r.err.contains(out.toUtf8()), r.err.constData());
        QCOMPARE(readAll(out), QByteArray("old contents\n"));
        const QStringList left = QDir(m_dir.path()).entryList(QDir::Files | QDir::Hidden);
        for (const QString& f : left)
            QVERIFY2(!f.contains(QStringLiteral(".tmp-")), qPrintable(f));
    }

    void helperChecks() {
        QVERIFY(file_is_sqlite(m_db.toStdString()));
        QVERIFY(!file_is_sqlite(path(QStringLiteral("tiny.json")).toStdString()));
        QVERIFY(!file_is_sqlite(path(QStringLiteral("missing")).toStdString()));
        QVERIFY(!file_is_sqlite(m_dir.path().toStdString()));
        QVERIFY(file_same(m_db.toStdString(), (m_dir.path() + "/./runs.db").toStdString()));
        QVERIFY(!file_same(m_db.toStdString(), path(QStringLiteral("tiny.json")).toStdString()));
        QCOMPARE(file_database_companion((m_db + "-journal").toStdString()), m_db.toStdString());
        QCOMPARE(file_database_companion(path(QStringLiteral("tiny.json-wal")).toStdString()),
                 std::string());
        QCOMPARE(file_database_companion(m_db.toStdString()), std::string());
        // A database open in this process is refused by device and inode, whatever its name.
        const QString fresh = path(QStringLiteral("fresh.db"));
        RunStore store = RunStore::open(fresh.toStdString());
        QVERIFY_THROWS_EXCEPTION(InputError, file_output_check(fresh.toStdString()));
        QVERIFY_THROWS_EXCEPTION(InputError,
                                 file_output_check(path(QStringLiteral("tiny.json")).toStdString(),
                                                   path(QStringLiteral("tiny.json")).toStdString()));
        file_output_check(path(QStringLiteral("new.csv")).toStdString(), m_db.toStdString());
        file_write_atomic(path(QStringLiteral("new.csv")).toStdString(), "a,b\n");
        QCOMPARE(readAll(path(QStringLiteral("new.csv"))), QByteArray("a,b\n"));
        QVERIFY_THROWS_EXCEPTION(
            OutputError, file_write_atomic(path(QStringLiteral("no/such/dir.csv")).toStdString(), "x"));
    }

    // ---- issue 10 item 8: failed writes to standard output ----

    void stdoutFullIsAnError_data() {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("export") << QStringList{"export", "--all", "--curves", "--db", m_db};
        QTest::newRow("runs list") << QStringList{"runs", "list", "--db", m_db};
        QTest::newRow("runs list --json") << QStringList{"runs", "list", "--json", "--db", m_db};
        QTest::newRow("runs show --json")
            << QStringList{"runs", "show", QString::number(m_run), "--json", "--db", m_db};
        QTest::newRow("train --json") << QStringList{
            "train", path(QStringLiteral("tiny.json")), "--json", "--quiet", "--no-store"};
    }
    void stdoutFullIsAnError() {
        QFETCH(QStringList, args);
        if (!QFile::exists(QStringLiteral("/dev/full"))) QSKIP("no /dev/full");
        const Result r = cli(args, QStringLiteral("/dev/full"));
        QCOMPARE(r.code, 4);
        QVERIFY2(r.err.contains("cannot write standard output: No space left on device"),
                 r.err.constData());
    }

    // ---- issue 10 item 9: an empty value is a usage error naming the option ----

    void emptyOptionValues_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("option");
        const QString exp = path(QStringLiteral("tiny.json"));
        QTest::newRow("train --db") << QStringList{"train", exp, "--db", ""} << "--db";
        QTest::newRow("train --bits") << QStringList{"train", exp, "--bits", "", "--no-store"}
                                      << "--bits";
        QTest::newRow("train --data-dir")
            << QStringList{"train", exp, "--data-dir=", "--no-store"} << "--data-dir";
        QTest::newRow("runs --db") << QStringList{"runs", "list", "--db", ""} << "--db";
        QTest::newRow("export -o") << QStringList{"export", "--all", "--db", m_db, "-o", ""}
                                   << "--output";
        QTest::newRow("export --format")
            << QStringList{"export", "--all", "--db", m_db, "--format", ""} << "--format";
        QTest::newRow("resume --db") << QStringList{"resume", "1", "--db", ""} << "--db";
        QTest::newRow("replay --data-dir")
            << QStringList{"replay", "1", "--db", m_db, "--data-dir", ""} << "--data-dir";
    }
    void emptyOptionValues() {
        QFETCH(QStringList, args);
        QFETCH(QString, option);
        const QString home = path(QStringLiteral("home-") + QString::fromLatin1(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('_')));
        const Result r = run(QStringLiteral(BITBENCH_CLI_PATH), args, {},
                             {QStringLiteral("BITBENCH_DATA_DIR=") + home});
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(option.toUtf8()), r.err.constData());
        QVERIFY2(r.err.contains("empty"), r.err.constData());
        QVERIFY(!QFile::exists(home + QStringLiteral("/runs.db"))); // not the default database
    }

    // ---- issue 10 item 14: epochs numbered from 1; no database created by mistake ----

    void runsShowNumbersEpochsLikeTrain() {
        Result r = cli({"train", path(QStringLiteral("tiny.json")), "--json", "--quiet", "--db",
                        path(QStringLiteral("train.db"))});
        QCOMPARE(r.code, 0);
        const QJsonObject s = QJsonDocument::fromJson(r.out.trimmed().split('\n').last()).object();
        const int trained = s[QStringLiteral("per_epoch")].toArray()[0].toObject()["epoch"].toInt();
        QCOMPARE(trained, 1);
        r = cli({"runs", "show", "1", "--json", "--db", path(QStringLiteral("train.db"))});
        QCOMPARE(r.code, 0);
        const QJsonArray ep =
            QJsonDocument::fromJson(r.out).object()[QStringLiteral("epochs_detail")].toArray();
        QCOMPARE(ep.size(), 1);
        QCOMPARE(ep[0].toObject()[QStringLiteral("epoch")].toInt(), trained);
        r = cli({"runs", "show", "1", "--db", path(QStringLiteral("train.db"))});
        QCOMPARE(r.code, 0);
        const QList<QByteArray> lines = r.out.split('\n');
        int i = 0;
        while (i < lines.size() && !lines[i].trimmed().startsWith("EPOCH"))
            ++i;
        QVERIFY(i + 1 < lines.size());
        QVERIFY2(lines[i + 1].trimmed().startsWith("1 "), lines[i + 1].constData());
    }

    // A database's -wal, -shm or -journal file is part of it: never opened as a run database of
    // its own (an empty -wal, as a reader leaves it, looked like a new database and was written).
    void companionFileIsNoDatabase_data() {
        QTest::addColumn<QString>("suffix");
        QTest::addColumn<QStringList>("args");
        const QString exp = path(QStringLiteral("tiny.json"));
        for (const char* s : {"-wal", "-shm", "-journal"}) {
            QTest::newRow(qPrintable(QStringLiteral("train ") + s))
                << QString::fromLatin1(s) << QStringList{"train", exp, "--quiet"};
            QTest::newRow(qPrintable(QStringLiteral("sweep ") + s))
                << QString::fromLatin1(s) << QStringList{"sweep", path(QStringLiteral("tiny-sweep.json"))};
            QTest::newRow(qPrintable(QStringLiteral("runs list ") + s))
                << QString::fromLatin1(s) << QStringList{"runs", "list"};
        }
    }
    void companionFileIsNoDatabase() {
        QFETCH(QString, suffix);
        QFETCH(QStringList, args);
        writeFile(path(QStringLiteral("tiny-sweep.json")),
                  R"({"base": "tiny.json", "patterns": ["2888"]})");
        const QString base = path(QStringLiteral("companion.db"));
        if (!QFile::exists(base)) {
            sqlite3* db = nullptr;
            QCOMPARE(sqlite3_open(base.toUtf8().constData(), &db), SQLITE_OK);
            QCOMPARE(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr), SQLITE_OK);
            sqlite3_close(db);
        }
        const QString companion = base + suffix;
        for (const bool present : {true, false}) {
            if (present) writeFile(companion, "");
            else QFile::remove(companion);
            const Result r = cli(QStringList(args) << "--db" << companion);
            if (!present && args.first() == QLatin1String("runs")) {
                // Nothing there: nothing to list, and nothing is created.
                QVERIFY2(r.code == 0, r.err.constData());
                QVERIFY(!QFile::exists(companion));
                continue;
            }
            QVERIFY2(r.code == 4, (QByteArray::number(r.code) + ": " + r.err).constData());
            QVERIFY2(r.err.contains(companion.toUtf8()) && r.err.contains(base.toUtf8()),
                     r.err.constData());
            QCOMPARE(r.err.count('\n'), 1);
            QCOMPARE(QFile::exists(companion), present);
            if (present) QCOMPARE(QFileInfo(companion).size(), 0);
            QVERIFY(!QFile::exists(companion + QStringLiteral("-wal")));
        }
    }

    void mistypedDatabaseIsNeverCreated_data() {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("resume") << QStringList{"resume", "1"};
        QTest::newRow("replay") << QStringList{"replay", "1"};
        QTest::newRow("runs show") << QStringList{"runs", "show", "1"};
        QTest::newRow("export") << QStringList{"export", "--all"};
    }
    void mistypedDatabaseIsNeverCreated() {
        QFETCH(QStringList, args);
        const QString typo = path(QStringLiteral("rusn.db"));
        const Result r = cli(args << "--db" << typo);
        QCOMPARE(r.code, 4); // the database could not be opened (README, exit codes)
        QVERIFY2(r.err.contains("no run database at '" + typo.toUtf8() + "'"), r.err.constData());
        QVERIFY(!QFile::exists(typo));
        QVERIFY(!QFile::exists(typo + QStringLiteral("-wal")));
    }

    // A FIFO or a folder given as the database is named as such (exit 4), never opened: reading
    // a FIFO would wait for a writer, and SQLite reports only an I/O error.
    void databaseThatIsNoFile_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<bool>("fifo");
        QTest::newRow("runs list, FIFO") << QStringList{"runs", "list"} << true;
        QTest::newRow("train, FIFO") << QStringList{"train", path(QStringLiteral("tiny.json"))} << true;
        QTest::newRow("runs list, folder") << QStringList{"runs", "list"} << false;
    }
    void databaseThatIsNoFile() {
        QFETCH(QStringList, args);
        QFETCH(bool, fifo);
        const QString db = path(fifo ? QStringLiteral("fifo.db") : QStringLiteral("folder.db"));
        if (fifo) QCOMPARE(::mkfifo(QFile::encodeName(db).constData(), 0600), 0);
        else QVERIFY(QDir().mkpath(db));
        const Result r = cli(args << "--db" << db);
        QCOMPARE(r.code, 4);
        const QByteArray want = fifo ? "not a regular file (a FIFO)" : "not a regular file (a directory)";
        QVERIFY2(r.err.contains(want), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        QFile::remove(db);
        QDir().rmdir(db);
    }

    // ---- issue 10 item 13: bitbench --autotrain fails as bitbench-cli does ----

    void guiAutotrainReportsLikeTheCli_data() {
        QTest::addColumn<QString>("experimentText");
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<int>("code");
        QTest::newRow("bad bits") << QString::fromUtf8(tinyExperiment())
                                  << QStringList{"--bits", "2-8-8-99"} << 2;
        QByteArray mnist = tinyExperiment();
        mnist.replace(R"("dataset": "synthetic")", R"("dataset": "mnist")");
        QTest::newRow("missing data") << QString::fromUtf8(mnist) << QStringList{} << 3;
        // A float run whose SSE loss overflows within a few steps: stored as diverged, exit 5.
        const char* diverging = R"({"name": "io-diverge", "dataset": "synthetic", "bits": "ffff",
          "batch": 32, "lr": 8, "lr_float": 1000, "seed": 4, "train_limit": 256, "test_limit": 128,
          "epochs": 3, "model": {"name": "tiny", "input": {"height": 28, "width": 28, "channels": 1},
            "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 5, "pool": true, "relu": true},
                       {"name": "fc1", "type": "fc", "out": 16, "relu": true},
                       {"name": "fc2", "type": "fc", "out": 10}]}})";
        QTest::newRow("diverged") << QString::fromUtf8(diverging) << QStringList{} << 5;
    }
    void guiAutotrainReportsLikeTheCli() {
#ifndef BITBENCH_GUI_PATH
        QSKIP("built without the GUI");
#else
        QFETCH(QString, experimentText);
        QFETCH(QStringList, extra);
        QFETCH(int, code);
        const QString tag = QString::fromLatin1(QTest::currentDataTag()).replace(QLatin1Char(' '), QLatin1Char('_'));
        const QString home = path(QStringLiteral("gui-") + tag);
        QVERIFY(QDir().mkpath(home + QStringLiteral("/data")));
        const QString exp = home + QStringLiteral("/exp.json");
        writeFile(exp, experimentText.toUtf8());
        const QStringList env = {QStringLiteral("BITBENCH_DATA_DIR=") + home + QStringLiteral("/data"),
                                 QStringLiteral("XDG_CONFIG_HOME=") + home + QStringLiteral("/config"),
                                 QStringLiteral("QT_QPA_PLATFORM=offscreen")};
        const QString db = home + QStringLiteral("/runs.db");
        const Result c = run(QStringLiteral(BITBENCH_CLI_PATH),
                             QStringList{"train", exp, "--db", db, "--quiet"} + extra, {}, env);
        QCOMPARE(c.code, code);
        // A database of its own, so a stored run gets the same id as the CLI's.
        const QString guiDb = home + QStringLiteral("/gui-runs.db");
        const Result g = run(QStringLiteral(BITBENCH_GUI_PATH),
                             QStringList{"--autotrain", "--quit-when-done", "-e", exp, "--db", guiDb} + extra,
                             {}, env);
        QCOMPARE(g.code, code);
        const QByteArray cliLine = c.err.trimmed().split('\n').last().mid(int(strlen("bitbench-cli: ")));
        QVERIFY2(g.err.contains("bitbench: " + cliLine), (g.err + " / " + cliLine).constData());
#endif
    }

    // --help lists every exit code the program uses, as the README does.
    void helpListsEveryExitCode() {
        const Result r = cli({"--help"});
        QCOMPARE(r.code, 0);
        const QByteArray text = r.out.simplified();
        for (const char* code : {"0 ok", "1 check failed", "2 usage or input error", "3 data error",
                                 "4 database, output file or standard output could not be written",
                                 "5 the run diverged", "130 interrupted"})
            QVERIFY2(text.contains(code), (QByteArray(code) + " not in: " + text).constData());
    }

    // The words for an unwritable file follow errno (a read-only mount needs root to make here).
    void errnoWords() {
        QCOMPARE(file_errno_words(EROFS), std::string("read-only file system"));
        QCOMPARE(file_errno_words(EACCES), std::string("no write permission"));
        QCOMPARE(file_errno_words(EPERM), std::string("no write permission"));
        QVERIFY(!file_errno_words(EIO).empty());
    }
};

QTEST_APPLESS_MAIN(TestCliIo)
#include "test_cli_io.moc"
