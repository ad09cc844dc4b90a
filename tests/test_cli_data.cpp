// bitbench-cli and the data a run reads: the run keeps its data folder and the fingerprint of
// each file; resume and replay use that folder and refuse changed data; data files that are not
// regular files, overflowing IDX headers and out-of-range labels are data errors (exit 3).
#include "test_cli_process.h"
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

class TestCliData : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    QString path(const QString& name) const { return m_dir.filePath(name); }

    using Result = bitbench::test::CliResult;

    // A process that does not finish in time is killed and counts as a failure (code -1).
    static Result cli(const QStringList& args, int timeoutMs = 60000) {
        return bitbench::test::cliRun(args, timeoutMs);
    }

    static void writeBytes(const QString& file, const QByteArray& bytes) {
        bitbench::test::fileWrite(file, bytes);
    }

    static QByteArray idx(const QList<quint32>& dims, const QByteArray& body) {
        QByteArray b;
        b.append(char(0)).append(char(0)).append(char(8)).append(char(dims.size()));
        for (quint32 d : dims)
            for (int s = 24; s >= 0; s -= 8)
                b.append(char((d >> s) & 0xFF));
        return b + body;
    }

    // An MNIST-style folder of 8x8 images: `train` and `test` items, labels cycling 0..9 (the
    // first training label is `firstLabel`).
    static void writeIdxFolder(const QString& dir, int train, int test, int firstLabel = 0) {
        QDir().mkpath(dir);
        for (const auto& [prefix, n] :
             {std::pair{QStringLiteral("train"), train}, std::pair{QStringLiteral("t10k"), test}}) {
            QByteArray images, labels;
            for (int i = 0; i < n; ++i) {
                const int label =
                    (i == 0 && prefix == QLatin1String("train")) ? firstLabel : i % 10;
                labels.append(char(label));
                for (int p = 0; p < 64; ++p)
                    images.append(char((p * 7 + label * 29 + i) & 0xFF));
            }
            writeBytes(dir + QLatin1Char('/') + prefix + QStringLiteral("-images-idx3-ubyte"),
                       idx({quint32(n), 8, 8}, images));
            writeBytes(dir + QLatin1Char('/') + prefix + QStringLiteral("-labels-idx1-ubyte"),
                       idx({quint32(n)}, labels));
        }
    }

    static QByteArray experiment() {
        return R"({"name": "idx-tiny", "dataset": "idx", "bits": "2-8-8-8", "batch": 16, "lr": 8,
          "seed": 3, "stats_interval": 0, "epochs": 3,
          "model": {"name": "tiny8", "input": {"height": 8, "width": 8, "channels": 1},
            "layers": [{"name": "fc1", "type": "fc", "out": 16, "relu": true},
                       {"name": "fc2", "type": "fc", "out": 10}]}})";
    }

    static QStringList hashes(const QJsonObject& summary) {
        QStringList h;
        for (const auto& e : summary.value(QStringLiteral("per_epoch")).toArray())
            h << e.toObject().value(QStringLiteral("weights_hash")).toString();
        return h;
    }

    // Makes a stored run resumable from its first checkpoint, as if it had been interrupted.
    static void interrupt(const QString& db, int run) {
        sqlite3* h = nullptr;
        QCOMPARE(sqlite3_open(db.toUtf8().constData(), &h), SQLITE_OK);
        const QByteArray sql =
            QStringLiteral("UPDATE runs SET status = 'interrupted', ended_at = NULL WHERE id = %1;"
                           "DELETE FROM checkpoints WHERE run = %1 AND step > "
                           "(SELECT min(step) FROM checkpoints WHERE run = %1);")
                .arg(run)
                .toUtf8();
        QCOMPARE(sqlite3_exec(h, sql.constData(), nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(h);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        writeBytes(path(QStringLiteral("tiny.json")), experiment());
    }

    // A 16-byte IDX file whose header declares 16 x 2^30 x 2^30 bytes: the product overflows 64
    // bits and wrapped to 0, so the empty body looked right.
    void idxInfoRefusesOverflowingDimensions() {
        writeBytes(path(QStringLiteral("overflow.idx")),
                   idx({16, quint32(1) << 30, quint32(1) << 30}, QByteArray()));
        QCOMPARE(QFile(path(QStringLiteral("overflow.idx"))).size(), qint64(16));
        const Result r = cli({QStringLiteral("idx-info"), path(QStringLiteral("overflow.idx"))});
        QCOMPARE(r.code, 3);
        QVERIFY2(r.err.contains("overflow.idx") && r.err.contains("overflow"), r.err.constData());
    }

    void idxInfoRefusesDirectory() {
        QDir().mkpath(path(QStringLiteral("a-folder")));
        const Result r = cli({QStringLiteral("idx-info"), path(QStringLiteral("a-folder"))});
        QCOMPARE(r.code, 3);
        QVERIFY2(r.err.contains("a-folder") && r.err.contains("not a regular file"),
                 r.err.constData());
    }

    // Opening a FIFO for reading waits for a writer: it must be refused, not hang.
    void idxInfoRefusesFifo() {
        const QString fifo = path(QStringLiteral("pipe-idx"));
        QCOMPARE(::mkfifo(fifo.toUtf8().constData(), 0600), 0);
        const Result r = cli({QStringLiteral("idx-info"), fifo}, 20000);
        QCOMPARE(r.code, 3);
        QVERIFY2(r.err.contains("pipe-idx") && r.err.contains("not a regular file"),
                 r.err.constData());
    }

    // A FIFO in place of an IDX file in a data folder is named as such, never "missing".
    void trainRefusesFifoInDataFolder() {
        const QString dir = path(QStringLiteral("fifo-data"));
        writeIdxFolder(dir, 64, 32);
        const QString labels = dir + QStringLiteral("/t10k-labels-idx1-ubyte");
        QVERIFY(QFile::remove(labels));
        QCOMPARE(::mkfifo(labels.toUtf8().constData(), 0600), 0);
        const Result r = cli({QStringLiteral("train"), path(QStringLiteral("tiny.json")),
                              QStringLiteral("--data-dir"), dir, QStringLiteral("--no-store"),
                              QStringLiteral("--quiet")},
                             20000);
        QCOMPARE(r.code, 3);
        QVERIFY2(r.err.contains("t10k-labels-idx1-ubyte") && r.err.contains("not a regular file"),
                 r.err.constData());
        QVERIFY2(!r.err.contains("missing"), r.err.constData());
    }

    // A label the model cannot output is a data error naming the labels file.
    void trainRefusesLabelBeyondClasses() {
        const QString dir = path(QStringLiteral("label-data"));
        writeIdxFolder(dir, 64, 32, 12);
        const Result r = cli({QStringLiteral("train"), path(QStringLiteral("tiny.json")),
                              QStringLiteral("--data-dir"), dir, QStringLiteral("--no-store"),
                              QStringLiteral("--quiet")});
        QCOMPARE(r.code, 3);
        QVERIFY2(r.err.contains("train-labels-idx1-ubyte") && r.err.contains("label 12"),
                 r.err.constData());
    }

    // The run keeps its data folder and file fingerprints: resume and replay need no --data-dir,
    // refuse changed or missing files by name, and accept a copy of the same data elsewhere.
    void resumeAndReplayUseTheRunsData() {
        const QString a = path(QStringLiteral("data-a")), b = path(QStringLiteral("data-b"));
        const QString db = path(QStringLiteral("runs.db"));
        writeIdxFolder(a, 64, 32);
        writeIdxFolder(b, 64, 32); // the same bytes in another folder
        const Result trained = cli({QStringLiteral("train"), path(QStringLiteral("tiny.json")),
                                    QStringLiteral("--data-dir"), a, QStringLiteral("--db"), db,
                                    QStringLiteral("--json"), QStringLiteral("--quiet")});
        QVERIFY2(trained.code == 0, trained.err.constData());
        QCOMPARE(hashes(trained.last()).size(), 3);

        // The identity is shown: the data's name, its folder and the fingerprint of each file.
        const Result show =
            cli({QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("1"),
                 QStringLiteral("--db"), db, QStringLiteral("--json")});
        QVERIFY2(show.code == 0, show.err.constData());
        const QJsonObject run = QJsonDocument::fromJson(show.out).object();
        QCOMPARE(run.value(QStringLiteral("dataset")).toString(), QStringLiteral("data-a"));
        QCOMPARE(run.value(QStringLiteral("dataset_kind")).toString(), QStringLiteral("idx"));
        QCOMPARE(QDir(run.value(QStringLiteral("data_dir")).toString()).canonicalPath(),
                 QDir(a).canonicalPath());
        const QJsonArray files = run.value(QStringLiteral("data_fingerprint")).toArray();
        QCOMPARE(files.size(), 4);
        QCOMPARE(files[0].toObject().value(QStringLiteral("file")).toString(),
                 QStringLiteral("train-images-idx3-ubyte"));
        QCOMPARE(files[0].toObject().value(QStringLiteral("size")).toInt(), 16 + 64 * 64);
        QCOMPARE(files[0].toObject().value(QStringLiteral("hash")).toString().size(), 16);
        const Result showText = cli({QStringLiteral("runs"), QStringLiteral("show"),
                                     QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(showText.out.contains("data-a (kind idx)") &&
                     showText.out.contains("4 files fingerprinted"),
                 showText.out.constData());

        // Resumed without --data-dir: from folder A, ending where the uninterrupted run ended.
        interrupt(db, 1);
        const Result resumed =
            cli({QStringLiteral("resume"), QStringLiteral("1"), QStringLiteral("--db"), db,
                 QStringLiteral("--json"), QStringLiteral("--quiet")});
        QVERIFY2(resumed.code == 0, resumed.err.constData());
        QCOMPARE(hashes(resumed.last()), hashes(trained.last()));
        const Result replayed =
            cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(replayed.code == 0, replayed.out.constData());

        // One changed byte in one file: both refuse, naming that file.
        {
            QFile f(a + QStringLiteral("/t10k-images-idx3-ubyte"));
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.seek(100));
            const char c = f.read(1)[0];
            QVERIFY(f.seek(100));
            f.write(QByteArray(1, char(c ^ 0x5A)));
        }
        interrupt(db, 1);
        const Result changed = cli({QStringLiteral("resume"), QStringLiteral("1"),
                                    QStringLiteral("--db"), db, QStringLiteral("--quiet")});
        QCOMPARE(changed.code, 3);
        QVERIFY2(changed.err.contains("t10k-images-idx3-ubyte") && changed.err.contains("differs"),
                 changed.err.constData());
        const Result replayChanged =
            cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QCOMPARE(replayChanged.code, 3);
        QVERIFY2(replayChanged.err.contains("t10k-images-idx3-ubyte") &&
                     replayChanged.err.contains("differs"),
                 replayChanged.err.constData());
        QVERIFY2(!replayChanged.out.contains("MATCH"), replayChanged.out.constData());

        // The same data in folder B is accepted.
        const Result fromB = cli({QStringLiteral("resume"), QStringLiteral("1"),
                                  QStringLiteral("--db"), db, QStringLiteral("--data-dir"), b,
                                  QStringLiteral("--json"), QStringLiteral("--quiet")});
        QVERIFY2(fromB.code == 0, fromB.err.constData());
        QCOMPARE(hashes(fromB.last()), hashes(trained.last()));
        const Result replayB = cli({QStringLiteral("replay"), QStringLiteral("1"),
                                    QStringLiteral("--db"), db, QStringLiteral("--data-dir"), b});
        QVERIFY2(replayB.code == 0, replayB.out.constData());

        // A missing file is named as missing.
        QVERIFY(QFile::remove(b + QStringLiteral("/train-labels-idx1-ubyte")));
        const Result missing = cli({QStringLiteral("replay"), QStringLiteral("1"),
                                    QStringLiteral("--db"), db, QStringLiteral("--data-dir"), b});
        QCOMPARE(missing.code, 3);
        QVERIFY2(missing.err.contains("train-labels-idx1-ubyte") && missing.err.contains("missing"),
                 missing.err.constData());
    }

    // A sweep trial's run keeps its data too: resume, replay and the sweep run again read that
    // folder and refuse it once a file changed.
    void sweepRunsKeepTheirData() {
        const QString a = path(QStringLiteral("sweep-data")), db = path(QStringLiteral("sweep.db"));
        writeIdxFolder(a, 64, 32);
        writeBytes(path(QStringLiteral("data-sweep.json")),
                   R"({"name": "data-sweep", "base": "tiny.json", "patterns": ["2888"]})");
        const QStringList sweep{QStringLiteral("sweep"), path(QStringLiteral("data-sweep.json")),
                                QStringLiteral("--db"), db};
        const Result trained = cli(sweep + QStringList{QStringLiteral("--data-dir"), a});
        QVERIFY2(trained.code == 0, trained.err.constData());

        const Result show =
            cli({QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("1"),
                 QStringLiteral("--db"), db, QStringLiteral("--json")});
        QVERIFY2(show.code == 0, show.err.constData());
        const QJsonObject run = QJsonDocument::fromJson(show.out).object();
        QCOMPARE(run.value(QStringLiteral("dataset")).toString(), QStringLiteral("sweep-data"));
        QCOMPARE(QDir(run.value(QStringLiteral("data_dir")).toString()).canonicalPath(),
                 QDir(a).canonicalPath());
        QCOMPARE(run.value(QStringLiteral("data_fingerprint")).toArray().size(), 4);

        // Without --data-dir, replay reads the run's folder.
        const Result replayed =
            cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(replayed.code == 0, (replayed.out + replayed.err).constData());
        QVERIFY2(replayed.out.contains("MATCH: 3 epochs"), replayed.out.constData());

        // One changed byte: resume, replay and the sweep's own resume of the trial all refuse.
        {
            QFile f(a + QStringLiteral("/train-images-idx3-ubyte"));
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.seek(200));
            const char c = f.read(1)[0];
            QVERIFY(f.seek(200));
            f.write(QByteArray(1, char(c ^ 0x21)));
        }
        interrupt(db, 1);
        for (const QStringList& args :
             {QStringList{QStringLiteral("resume"), QStringLiteral("1"), QStringLiteral("--db"), db},
              QStringList{QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db},
              sweep, sweep + QStringList{QStringLiteral("--data-dir"), a}}) {
            const Result r = cli(args);
            QVERIFY2(r.code == 3, (args.join(QLatin1Char(' ')) + QStringLiteral(": ") +
                                   QString::fromUtf8(r.out + r.err))
                                      .toUtf8()
                                      .constData());
            QVERIFY2(r.err.contains("train-images-idx3-ubyte") && r.err.contains("differs"),
                     r.err.constData());
        }
    }

    // Runs stored before data fingerprints (the schema 1 fixture) resume and replay as before,
    // with one note that their data is not checked.
    void runsWithoutFingerprintStillResumeAndReplay() {
        const QString db = path(QStringLiteral("v1.db"));
        QVERIFY(
            QFile::copy(QStringLiteral(BITBENCH_SOURCE_DIR "/tests/golden/store-v1/runs.db"), db));
        QFile::setPermissions(db, QFile::ReadOwner | QFile::WriteOwner);
        QCOMPARE(
            cli({QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("--db"), db}).code,
            0); // upgrades it
        const Result replayed =
            cli({QStringLiteral("replay"), QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(replayed.code == 0, replayed.err.constData());
        QVERIFY2(replayed.out.contains("MATCH: 3 epochs"), replayed.out.constData());
        QCOMPARE(replayed.err.count("without a data fingerprint"), 1);
        interrupt(db, 1);
        const Result resumed = cli({QStringLiteral("resume"), QStringLiteral("1"),
                                    QStringLiteral("--db"), db, QStringLiteral("--quiet")});
        QVERIFY2(resumed.code == 0, resumed.err.constData());
        QCOMPARE(resumed.err.count("without a data fingerprint"), 1);
        const Result show = cli({QStringLiteral("runs"), QStringLiteral("show"),
                                 QStringLiteral("1"), QStringLiteral("--db"), db});
        QVERIFY2(show.out.contains("without a data fingerprint"), show.out.constData());
    }
};

QTEST_GUILESS_MAIN(TestCliData)
#include "test_cli_data.moc"
