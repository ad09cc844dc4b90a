// IDX reader: valid files, gzip, and every way a header or body can be wrong.
#include "bitbench/error.h"
#include "bitbench/idx.h"

#include <QTemporaryDir>
#include <QTest>

#include <zlib.h>

#include <fstream>

using namespace bitbench;

namespace {

std::vector<uint8_t> makeIdx(std::vector<uint32_t> dims, uint8_t type = 0x08) {
    std::vector<uint8_t> b = {0, 0, type, uint8_t(dims.size())};
    size_t n = 1;
    for (uint32_t d : dims) {
        b.push_back(uint8_t(d >> 24));
        b.push_back(uint8_t(d >> 16));
        b.push_back(uint8_t(d >> 8));
        b.push_back(uint8_t(d));
        n *= d;
    }
    for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(i * 7));
    return b;
}

void writeFile(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), long(b.size()));
}

void writeGz(const std::string& path, const std::vector<uint8_t>& b) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, b.data(), unsigned(b.size()));
    gzclose(f);
}

} // namespace

class TestIdx : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readsImagesAndLabels() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("imgs").toStdString();
        writeFile(p, makeIdx({3, 4, 5}));
        IdxArray a = idx_read(p);
        QCOMPARE(a.dims.size(), size_t(3));
        QCOMPARE(a.itemCount(), uint64_t(3));
        QCOMPARE(a.itemSize(), uint64_t(20));
        QCOMPARE(a.data.size(), size_t(60));
        QCOMPARE(int(a.data[11]), 77);
    }

    void readsGzip() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("labels.gz").toStdString();
        writeGz(p, makeIdx({10}));
        IdxArray a = idx_read(p);
        QCOMPARE(a.itemCount(), uint64_t(10));
        QCOMPARE(int(a.data[9]), 63);
    }

    void rejectsTruncatedGzip() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("t.gz").toStdString();
        writeGz(p, makeIdx({100, 28, 28}));
        std::ifstream in(p, std::ios::binary);
        std::vector<char> all((std::istreambuf_iterator<char>(in)), {});
        std::ofstream(p, std::ios::binary | std::ios::trunc).write(all.data(), long(all.size() / 2));
        QVERIFY_THROWS_EXCEPTION(DataError, idx_read(p));
    }

    void rejectsMissingFileByName() {
        try {
            idx_read("/nonexistent/train-images-idx3-ubyte");
            QFAIL("no exception");
        } catch (const DataError& e) {
            QVERIFY(std::string(e.what()).find("train-images-idx3-ubyte") != std::string::npos);
        }
    }

    void rejectsBadHeaders_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expect");
        auto good = makeIdx({2, 3, 3});
        auto qb = [](const std::vector<uint8_t>& v) {
            return QByteArray(reinterpret_cast<const char*>(v.data()), qsizetype(v.size()));
        };
        QTest::newRow("empty") << QByteArray() << "expected at least a 4-byte header";
        QTest::newRow("three bytes") << qb({0, 0, 8}) << "expected at least a 4-byte header";
        QTest::newRow("bad magic") << qb({1, 0, 8, 1, 0, 0, 0, 0}) << "magic number";
        QTest::newRow("float type") << qb(makeIdx({2}, 0x0D)) << "element type 0x0d";
        QTest::newRow("zero dims") << qb({0, 0, 8, 0}) << "expected 1 to 4";
        QTest::newRow("nine dims") << qb({0, 0, 8, 9}) << "expected 1 to 4";
        auto hdr = good;
        hdr.resize(10);
        QTest::newRow("truncated header") << qb(hdr) << "truncated IDX header";
        auto body = good;
        body.resize(body.size() - 1);
        QTest::newRow("truncated body") << qb(body) << "truncated";
        auto longer = good;
        longer.push_back(0);
        QTest::newRow("trailing bytes") << qb(longer) << "too long";
        auto zero = makeIdx({2, 0, 3});
        QTest::newRow("zero dimension") << qb(zero) << "is zero";
        auto huge = makeIdx({1});
        huge[4] = 0xFF;
        QTest::newRow("huge count") << qb(huge) << "truncated";
        // 16 x 2^30 x 2^30 wraps to 0 in 64 bits, which an empty body would match.
        QTest::newRow("size overflow")
            << qb({0, 0, 8, 3, 0, 0, 0, 16, 0x40, 0, 0, 0, 0x40, 0, 0, 0}) << "overflow";
        QTest::newRow("item size overflow, no items")
            << qb({0, 0, 8, 4, 0, 0, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0x40, 0, 0, 0})
            << "overflow";
    }

    void rejectsBadHeaders() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expect);
        std::vector<uint8_t> v(bytes.begin(), bytes.end());
        try {
            idx_parse(v, "sample.idx");
            QFAIL("no exception");
        } catch (const DataError& e) {
            const QString msg = QString::fromStdString(e.what());
            QVERIFY2(msg.contains(QStringLiteral("sample.idx")), qPrintable(msg));
            QVERIFY2(msg.contains(expect), qPrintable(msg));
        }
    }

    // Fuzz-style: every prefix and every single-byte corruption of a valid header must either
    // parse consistently or throw DataError, never crash or over-read.
    void fuzzPrefixesAndFlips() {
        const auto good = makeIdx({4, 5, 6});
        for (size_t n = 0; n < good.size(); ++n) {
            std::vector<uint8_t> v(good.begin(), good.begin() + long(n));
            QVERIFY_THROWS_EXCEPTION(DataError, idx_parse(v, "prefix"));
        }
        for (size_t i = 0; i < 16; ++i) {
            for (int bit = 0; bit < 8; ++bit) {
                auto v = good;
                v[i] ^= uint8_t(1u << bit);
                try {
                    IdxArray a = idx_parse(v, "flip");
                    uint64_t n = 1;
                    for (auto d : a.dims) n *= d;
                    QCOMPARE(uint64_t(a.data.size()), n);
                } catch (const DataError&) {
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestIdx)
#include "test_idx.moc"
