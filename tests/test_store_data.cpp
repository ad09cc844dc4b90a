// Data file fingerprints: hashed once, then taken from the file_fingerprints cache while the
// file's path, size and modification time are unchanged.
#include "bitbench/error.h"
#include "bitbench/store.h"

#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>
#include <sys/stat.h>

#include <fcntl.h>

#include <fstream>

using namespace bitbench;

namespace {

void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Sets the modification time `secondsAgo` seconds in the past.
void age(const std::string& path, int secondsAgo) {
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= secondsAgo;
    t[1] = t[0];
    QCOMPARE(utimensat(AT_FDCWD, path.c_str(), t, 0), 0);
}

int64_t rawInt(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr);
    const int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

void rawExec(const std::string& db, const std::string& sql) {
    sqlite3* h = nullptr;
    sqlite3_open(db.c_str(), &h);
    QCOMPARE(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(h);
}

} // namespace

class TestStoreData : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void fingerprintIsCachedByPathSizeAndMtime() {
        QTemporaryDir dir;
        const std::string db = dir.filePath("runs.db").toStdString();
        const std::string file = dir.filePath("train-images-idx3-ubyte").toStdString();
        writeFile(file, std::string(5000, 'a'));
        age(file, 3600);

        std::vector<DataFileFingerprint> first;
        {
            RunStore s = RunStore::open(db);
            first = s.filesFingerprint({file});
            QCOMPARE(s.filesHashed(), int64_t(1));
            QCOMPARE(first.size(), size_t(1));
            QCOMPARE(first[0].file, std::string("train-images-idx3-ubyte"));
            QCOMPARE(first[0].size, uint64_t(5000));
            QCOMPARE(first[0].hash.size(), size_t(16));
            QCOMPARE(s.filesFingerprint({file}), first);
            QCOMPARE(s.filesHashed(), int64_t(1)); // second time from the cache
        }
        QCOMPARE(rawInt(db, "SELECT count(*) FROM file_fingerprints WHERE size = 5000"),
                 int64_t(1));

        // Another connection (another process) finds it too; the cached row is what it returns.
        rawExec(db, "UPDATE file_fingerprints SET hash = '0123456789abcdef'");
        {
            RunStore s = RunStore::open(db);
            QCOMPARE(s.filesFingerprint({file})[0].hash, std::string("0123456789abcdef"));
            QCOMPARE(s.filesHashed(), int64_t(0));
        }

        // Same size, new contents and modification time: hashed again.
        writeFile(file, std::string(5000, 'b'));
        age(file, 1800);
        {
            RunStore s = RunStore::open(db);
            const auto now = s.filesFingerprint({file});
            QCOMPARE(s.filesHashed(), int64_t(1));
            QVERIFY(now[0].hash != first[0].hash);
            QVERIFY(now[0].hash != std::string("0123456789abcdef"));
        }

        // A file modified just now may change again within the same timestamp: never cached.
        const std::string fresh = dir.filePath("fresh").toStdString();
        writeFile(fresh, "new");
        {
            RunStore s = RunStore::open(db);
            s.filesFingerprint({fresh});
            s.filesFingerprint({fresh});
            QCOMPARE(s.filesHashed(), int64_t(2));
        }
        QCOMPARE(rawInt(db, "SELECT count(*) FROM file_fingerprints WHERE size = 3"), int64_t(0));
    }

    void fingerprintRefusesMissingAndNonRegularFiles() {
        QTemporaryDir dir;
        RunStore s = RunStore::open(dir.filePath("runs.db").toStdString());
        const std::string missing = dir.filePath("gone").toStdString();
        QVERIFY_THROWS_EXCEPTION(DataError, s.filesFingerprint({missing}));
        const std::string fifo = dir.filePath("fifo").toStdString();
        QCOMPARE(mkfifo(fifo.c_str(), 0600), 0);
        try {
            s.filesFingerprint({fifo});
            QFAIL("no exception");
        } catch (const DataError& e) {
            QVERIFY2(std::string(e.what()).find("not a regular file") != std::string::npos,
                     e.what());
        }
    }

    void fingerprintJsonRoundTrips() {
        const std::vector<DataFileFingerprint> f = {{"a", 1, "0000000000000001"},
                                                    {"b.gz", 1ull << 40, "ffffffffffffffff"}};
        QCOMPARE(data_fingerprint_from_json(data_fingerprint_to_json(f)), f);
        QCOMPARE(data_fingerprint_from_json("[]").size(), size_t(0));
        QVERIFY_THROWS_EXCEPTION(StoreError, data_fingerprint_from_json("{}"));
        QVERIFY_THROWS_EXCEPTION(StoreError, data_fingerprint_from_json(R"([{"file": "a"}])"));
    }
};

QTEST_APPLESS_MAIN(TestStoreData)
#include "test_store_data.moc"
