// Dataset loaders (IDX folders, CIFAR-10 batches), the synthetic generator and CIFAR augmentation.
#include "bitbench/dataset.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/paths.h"
#include "data/dataset_cifar_impl.h"

#include <QTemporaryDir>
#include <QTest>

#include <zlib.h>

#include <array>
#include <filesystem>
#include <fstream>

using namespace bitbench;
namespace fs = std::filesystem;

namespace {

constexpr const char* kTrainImages = "train-images-idx3-ubyte";
constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";
constexpr const char* kTestImages = "t10k-images-idx3-ubyte";
constexpr const char* kTestLabels = "t10k-labels-idx1-ubyte";

// Pixel i of an IDX body holds (i * 3 + salt) & 255; label i holds i % 10.
std::vector<uint8_t> makeIdx(const QList<quint32>& dims, int salt, bool labels = false) {
    std::vector<uint8_t> b = {0, 0, 0x08, uint8_t(dims.size())};
    size_t n = 1;
    for (quint32 d : dims) {
        for (int s = 24; s >= 0; s -= 8)
            b.push_back(uint8_t(d >> s));
        n *= d;
    }
    for (size_t i = 0; i < n; ++i)
        b.push_back(labels ? uint8_t(i % 10) : uint8_t(i * 3 + salt));
    return b;
}

void writeFile(const fs::path& path, const std::vector<uint8_t>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    QVERIFY2(out.good(), path.c_str());
}

void writeGz(const fs::path& path, const std::vector<uint8_t>& b) {
    gzFile f = gzopen(path.c_str(), "wb");
    QVERIFY(f);
    QCOMPARE(gzwrite(f, b.data(), unsigned(b.size())), int(b.size()));
    QCOMPARE(gzclose(f), Z_OK);
}

// An MNIST-style folder; an empty dims list leaves that file out.
void writeIdxFolder(const fs::path& dir, const QList<quint32>& trainImages,
                    const QList<quint32>& trainLabels, const QList<quint32>& testImages,
                    const QList<quint32>& testLabels, bool gz = false) {
    const std::array<std::pair<const char*, const QList<quint32>*>, 4> files = {{
        {kTrainImages, &trainImages},
        {kTrainLabels, &trainLabels},
        {kTestImages, &testImages},
        {kTestLabels, &testLabels},
    }};
    for (const auto& [name, dims] : files) {
        if (dims->isEmpty()) continue;
        const bool labels = std::string(name).find("labels") != std::string::npos;
        const auto bytes = makeIdx(*dims, name == kTestImages ? 1 : 0, labels);
        if (gz)
            writeGz(dir / (std::string(name) + ".gz"), bytes);
        else
            writeFile(dir / name, bytes);
    }
}

// CIFAR-10 record r of batch b (test batch: b = 0): label and plane c, position p.
uint8_t cifarLabel(int b, int r) {
    return uint8_t((r * 7 + b) % 10);
}
uint8_t cifarPixel(int b, int r, int c, int p) {
    return uint8_t(p + 31 * c + 7 * r + 13 * b);
}
constexpr int64_t kCifarRecord = 3073;
constexpr int64_t kCifarRecords = 10000;

std::vector<uint8_t> makeCifarBatch(int b) {
    std::vector<uint8_t> v(size_t(kCifarRecord * kCifarRecords));
    for (int r = 0; r < kCifarRecords; ++r) {
        uint8_t* rec = v.data() + r * kCifarRecord;
        rec[0] = cifarLabel(b, r);
        for (int c = 0; c < 3; ++c)
            for (int p = 0; p < 1024; ++p)
                rec[1 + c * 1024 + p] = cifarPixel(b, r, c, p);
    }
    return v;
}

std::string cifarName(int b) {
    return b == 0 ? std::string("test_batch.bin") : "data_batch_" + std::to_string(b) + ".bin";
}

// Runs `f`, which must throw E; returns its message (empty, with a test failure, if it did not).
template <class E, class F> QString messageOf(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

} // namespace

class TestDataset : public QObject {
    Q_OBJECT

    QTemporaryDir m_cifarRoot; // holds cifar-10-batches-bin with all six valid batches
    fs::path m_cifar;

    // A folder of symlinks to the valid batches, except those in `skip`.
    fs::path cifarCopy(const QTemporaryDir& dir, std::initializer_list<int> skip) {
        const fs::path to(dir.path().toStdString());
        for (int b = 0; b <= 5; ++b)
            if (std::find(skip.begin(), skip.end(), b) == skip.end())
                fs::create_symlink(m_cifar / cifarName(b), to / cifarName(b));
        return to;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_cifarRoot.isValid());
        m_cifar = fs::path(m_cifarRoot.path().toStdString()) / "cifar-10-batches-bin";
        fs::create_directory(m_cifar);
        for (int b = 0; b <= 5; ++b)
            writeFile(m_cifar / cifarName(b), makeCifarBatch(b));
    }

    // --- IDX ------------------------------------------------------------------------------

    // A CIFAR record count whose byte count overflows 64 bits is refused, not wrapped: 1758833717408688130
    // records of 3073 bytes are 2 bytes modulo 2^64, so an unchecked product would take a 2-byte
    // buffer for them and decode far past its end.
    void cifarRecordCountOverflow() {
        const std::vector<uint8_t> raw(2, 0);
        std::vector<uint8_t> images, labels;
        for (const int64_t records : {int64_t(1758833717408688130), int64_t(-1), INT64_MAX}) {
            try {
                cifar_batch_decode(raw, records, "batch.bin", images, labels);
                QFAIL("an impossible record count was accepted");
            } catch (const DataError& e) {
                QVERIFY2(std::string(e.what()).find("batch.bin") != std::string::npos, e.what());
            }
        }
        QVERIFY(images.empty());
    }

    void loadsIdxFolder() {
        QTemporaryDir tmp;
        const fs::path dir = fs::path(tmp.path().toStdString()) / "fashion";
        fs::create_directory(dir);
        writeIdxFolder(dir, {12, 5, 4}, {12}, {6, 5, 4}, {6});
        const Dataset d = dataset_load_idx(dir.string());
        QCOMPARE(d.name, std::string("fashion"));
        QCOMPARE(d.height, 5);
        QCOMPARE(d.width, 4);
        QCOMPARE(d.channels, 1);
        QCOMPARE(d.classes, 10); // labels 0..9
        QCOMPARE(d.trainCount(), int64_t(12));
        QCOMPARE(d.testCount(), int64_t(6));
        QCOMPARE(d.imageSize(), int64_t(20));
        QCOMPARE(d.trainImages.size(), size_t(240));
        QCOMPARE(d.testImages.size(), size_t(120));
        QCOMPARE(int(d.trainImages[100]), 300 & 255);
        QCOMPARE(int(d.testImages[100]), 301 & 255);
        QCOMPARE(int(d.trainLabels[11]), 1);
        QCOMPARE(int(d.testLabels[5]), 5);
    }

    void classesAtLeastTen() {
        QTemporaryDir tmp;
        const fs::path dir(tmp.path().toStdString());
        writeIdxFolder(dir, {4, 2, 2}, {4}, {3, 2, 2}, {3}); // labels 0..3 only
        QCOMPARE(dataset_load_idx(dir.string()).classes, 10);
        auto labels = makeIdx({3}, 0, true);
        labels.back() = 41; // one test label beyond the MNIST range widens the class count
        writeFile(dir / kTestLabels, labels);
        QCOMPARE(dataset_load_idx(dir.string()).classes, 42);
    }

    void loadsGzipFolder() {
        QTemporaryDir plainDir, gzDir;
        writeIdxFolder(plainDir.path().toStdString(), {7, 3, 3}, {7}, {2, 3, 3}, {2});
        writeIdxFolder(gzDir.path().toStdString(), {7, 3, 3}, {7}, {2, 3, 3}, {2}, true);
        QVERIFY(!fs::exists(fs::path(gzDir.path().toStdString()) / kTrainImages));
        const Dataset a = dataset_load_idx(plainDir.path().toStdString());
        const Dataset b = dataset_load_idx(gzDir.path().toStdString());
        QCOMPARE(b.trainCount(), int64_t(7));
        QVERIFY(a.trainImages == b.trainImages);
        QVERIFY(a.testImages == b.testImages);
        QVERIFY(a.trainLabels == b.trainLabels);
        QVERIFY(a.testLabels == b.testLabels);
    }

    void rejectsInconsistentIdx_data() {
        QTest::addColumn<QList<quint32>>("trainImages");
        QTest::addColumn<QList<quint32>>("trainLabels");
        QTest::addColumn<QList<quint32>>("testImages");
        QTest::addColumn<QList<quint32>>("testLabels");
        QTest::addColumn<QString>("file");   // the file the message must name
        QTest::addColumn<QString>("expect"); // and what it must say
        using L = QList<quint32>;
        QTest::newRow("train label count") << L{5, 3, 3} << L{4} << L{2, 3, 3} << L{2}
                                           << kTrainLabels << "holds 4 labels, expected 5";
        QTest::newRow("test label count") << L{5, 3, 3} << L{5} << L{2, 3, 3} << L{3} << kTestLabels
                                          << "holds 3 labels, expected 2";
        QTest::newRow("2-D images")
            << L{5, 9} << L{5} << L{2, 3, 3} << L{2} << kTrainImages << "expected 3-D image data";
        QTest::newRow("4-D test images") << L{5, 3, 3} << L{5} << L{2, 1, 3, 3} << L{2}
                                         << kTestImages << "found 4-D (2 x 1 x 3 x 3)";
        QTest::newRow("2-D labels") << L{5, 3, 3} << L{5, 1} << L{2, 3, 3} << L{2} << kTrainLabels
                                    << "expected 1-D label data";
        QTest::newRow("shape mismatch") << L{5, 3, 3} << L{5} << L{2, 3, 4} << L{2} << kTestImages
                                        << "images are 3 x 4, expected 3 x 3";
        QTest::newRow("no images")
            << L{0, 3, 3} << L{0} << L{2, 3, 3} << L{2} << kTrainImages << "holds no images";
        QTest::newRow("missing labels")
            << L{5, 3, 3} << L{5} << L{2, 3, 3} << L{} << kTestLabels << "missing IDX file(s)";
    }

    void rejectsInconsistentIdx() {
        QFETCH(QList<quint32>, trainImages);
        QFETCH(QList<quint32>, trainLabels);
        QFETCH(QList<quint32>, testImages);
        QFETCH(QList<quint32>, testLabels);
        QFETCH(QString, file);
        QFETCH(QString, expect);
        QTemporaryDir tmp;
        writeIdxFolder(tmp.path().toStdString(), trainImages, trainLabels, testImages, testLabels);
        const QString msg =
            messageOf<DataError>([&] { dataset_load_idx(tmp.path().toStdString()); });
        QVERIFY2(msg.contains(file), qPrintable(msg));
        QVERIFY2(msg.contains(expect), qPrintable(msg));
    }

    void rejectsMissingFolder() {
        const QString msg = messageOf<DataError>([] { dataset_load_idx("/nonexistent/mnist"); });
        QVERIFY2(msg.contains(QStringLiteral("/nonexistent/mnist")), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("not a folder")), qPrintable(msg));
    }

    // --- CIFAR-10 -------------------------------------------------------------------------

    void loadsCifar10() {
        // Both the unpacked subfolder and its parent are accepted.
        for (const fs::path& dir : {m_cifar, m_cifar.parent_path()}) {
            const Dataset d = dataset_load_cifar10(dir.string());
            QCOMPARE(d.name, std::string("cifar10"));
            QCOMPARE(d.height, 32);
            QCOMPARE(d.width, 32);
            QCOMPARE(d.channels, 3);
            QCOMPARE(d.classes, 10);
            QCOMPARE(d.trainCount(), int64_t(50000));
            QCOMPARE(d.testCount(), int64_t(10000));
            QCOMPARE(d.trainImages.size(), size_t(50000) * 3072);
            QCOMPARE(d.testImages.size(), size_t(10000) * 3072);
            // Batches in order 1..5; planes R, G, B turned into interleaved RGB pixels.
            struct Probe {
                int batch, record, y, x;
            };
            for (const Probe& p :
                 {Probe{1, 0, 0, 0}, Probe{1, 9999, 31, 31}, Probe{3, 1234, 7, 19},
                  Probe{5, 9999, 31, 0}, Probe{0, 0, 0, 1}, Probe{0, 4321, 16, 30}}) {
                const bool test = p.batch == 0;
                const int64_t index = test ? p.record : (p.batch - 1) * kCifarRecords + p.record;
                const auto& labels = test ? d.testLabels : d.trainLabels;
                const auto& images = test ? d.testImages : d.trainImages;
                QCOMPARE(labels[size_t(index)], cifarLabel(p.batch, p.record));
                for (int c = 0; c < 3; ++c)
                    QCOMPARE(images[size_t((index * 1024 + p.y * 32 + p.x) * 3 + c)],
                             cifarPixel(p.batch, p.record, c, p.y * 32 + p.x));
            }
        }
    }

    void rejectsTruncatedCifarBatch() {
        QTemporaryDir tmp;
        const fs::path dir = cifarCopy(tmp, {3});
        auto bytes = makeCifarBatch(3);
        bytes.erase(bytes.end() - 100, bytes.end());
        writeFile(dir / cifarName(3), bytes);
        const QString msg = messageOf<DataError>([&] { dataset_load_cifar10(dir.string()); });
        QVERIFY2(msg.contains(QStringLiteral("data_batch_3.bin")), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("truncated: 30729900 bytes, expected 30730000")),
                 qPrintable(msg));
    }

    void rejectsMissingCifarBatches() {
        QTemporaryDir tmp;
        const fs::path dir = cifarCopy(tmp, {3, 5});
        const QString msg = messageOf<DataError>([&] { dataset_load_cifar10(dir.string()); });
        QVERIFY2(msg.contains(QStringLiteral("data_batch_3.bin, data_batch_5.bin")),
                 qPrintable(msg));
        QVERIFY2(!msg.contains(QStringLiteral("data_batch_1.bin")), qPrintable(msg));
        QVERIFY2(!msg.contains(QStringLiteral("test_batch.bin")), qPrintable(msg));

        QTemporaryDir noTest;
        const QString msg2 =
            messageOf<DataError>([&] { dataset_load_cifar10(cifarCopy(noTest, {0}).string()); });
        QVERIFY2(msg2.contains(QStringLiteral("missing CIFAR-10 batch file(s) test_batch.bin")),
                 qPrintable(msg2));
    }

    void rejectsCifarLabelOutOfRange() {
        QTemporaryDir tmp;
        const fs::path dir = cifarCopy(tmp, {0});
        auto bytes = makeCifarBatch(0);
        bytes[size_t(17 * kCifarRecord)] = 10;
        writeFile(dir / cifarName(0), bytes);
        const QString msg = messageOf<DataError>([&] { dataset_load_cifar10(dir.string()); });
        QVERIFY2(msg.contains(QStringLiteral("test_batch.bin")), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("record 17 has label 10")), qPrintable(msg));
    }

    void rejectsFolderWithoutCifar() {
        QTemporaryDir tmp;
        const QString msg =
            messageOf<DataError>([&] { dataset_load_cifar10(tmp.path().toStdString()); });
        QVERIFY2(msg.contains(tmp.path()), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("holds no CIFAR-10 binary batches")), qPrintable(msg));
    }

    // --- by kind --------------------------------------------------------------------------

    void loadsByKind() {
        QTemporaryDir tmp;
        writeIdxFolder(tmp.path().toStdString(), {3, 2, 2}, {3}, {1, 2, 2}, {1});
        QCOMPARE(dataset_load("idx", tmp.path().toStdString()).trainCount(), int64_t(3));
        QCOMPARE(dataset_load("mnist", tmp.path().toStdString()).testCount(), int64_t(1));
        QCOMPARE(dataset_load("cifar10", m_cifar.string()).channels, 3);
        const QString msg =
            messageOf<InputError>([&] { dataset_load("svhn", tmp.path().toStdString()); });
        QVERIFY2(msg.contains(QStringLiteral("'svhn'")), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("mnist, idx")) &&
                     msg.contains(QStringLiteral("cifar10")),
                 qPrintable(msg));
    }

    // Fashion-MNIST is an IDX folder under its own name in the data directory; the .gz files
    // as Debian ships them load as they are, and an experiment may name the kind.
    void loadsFashionMnistByKind() {
        QTemporaryDir tmp;
        const fs::path dir = fs::path(tmp.path().toStdString()) / "datasets" / "fashion-mnist";
        fs::create_directories(dir);
        writeIdxFolder(dir, {5, 3, 3}, {5}, {2, 3, 3}, {2}, true);
        const QByteArray saved = qgetenv("BITBENCH_DATA_DIR");
        qputenv("BITBENCH_DATA_DIR", tmp.path().toUtf8());
        QCOMPARE(QString::fromStdString(paths_dataset_dir("fashion-mnist")), QString::fromStdString(dir.string()));
        const Dataset d = dataset_load("fashion-mnist", "");
        const Experiment e = experiment_from_json(
            nlohmann::json::parse(R"({"model": "mlp", "dataset": "fashion-mnist", "bits": "2-8-8-8"})"));
        const Dataset viaExperiment = dataset_for_experiment(e, "");
        const QString wrongKind = messageOf<InputError>(
            [] { experiment_from_json(nlohmann::json::parse(R"({"model": "mlp", "dataset": "fashion"})")); });
        saved.isNull() ? qunsetenv("BITBENCH_DATA_DIR") : qputenv("BITBENCH_DATA_DIR", saved);
        QCOMPARE(d.name, std::string("fashion-mnist"));
        QCOMPARE(d.trainCount(), int64_t(5));
        QCOMPARE(d.testCount(), int64_t(2));
        QCOMPARE(e.datasetKind, std::string("fashion-mnist"));
        QCOMPARE(viaExperiment.trainImages, d.trainImages);
        QVERIFY2(wrongKind.contains(QStringLiteral("\"fashion\"")) &&
                     wrongKind.contains(QStringLiteral("fashion-mnist")),
                 qPrintable(wrongKind));
    }

    // A bare experiment name is looked up in the shipped experiments (the source tree's here);
    // a path, or a name found nowhere, is left for the reader to open or name.
    void findsShippedExperimentsByName() {
        const std::vector<std::string> dirs = paths_experiment_dirs();
        QVERIFY(!dirs.empty());
        QVERIFY(fs::equivalent(dirs.back(), BITBENCH_SOURCE_DIR "/experiments"));
        const std::string found = paths_find_experiment("wage-lenet5-fashion-mnist-2888");
        QVERIFY2(fs::equivalent(found, BITBENCH_SOURCE_DIR "/experiments/wage-lenet5-fashion-mnist-2888.json"),
                 found.c_str());
        QVERIFY(fs::equivalent(paths_find_experiment("sweep-wage-patterns.json"),
                               BITBENCH_SOURCE_DIR "/experiments/sweep-wage-patterns.json"));
        QCOMPARE(paths_find_experiment("no-such-experiment"), std::string("no-such-experiment"));
        QCOMPARE(paths_find_experiment("./wage-lenet5-mnist-2888.json"), std::string("./wage-lenet5-mnist-2888.json"));
        QCOMPARE(paths_find_experiment(""), std::string());
    }

    // --- synthetic ------------------------------------------------------------------------

    void syntheticIsDeterministic() {
        const Dataset a = dataset_generate_synthetic(8, 8, 3, 10, 500, 100, 42);
        const Dataset b = dataset_generate_synthetic(8, 8, 3, 10, 500, 100, 42);
        const Dataset c = dataset_generate_synthetic(8, 8, 3, 10, 500, 100, 43);
        QCOMPARE(a.name, std::string("synthetic"));
        QCOMPARE(a.imageSize(), int64_t(192));
        QCOMPARE(a.trainImages.size(), size_t(500 * 192));
        QCOMPARE(a.testImages.size(), size_t(100 * 192));
        QVERIFY(a.trainImages == b.trainImages && a.trainLabels == b.trainLabels);
        QVERIFY(a.testImages == b.testImages && a.testLabels == b.testLabels);
        QVERIFY(a.trainImages != c.trainImages);
        QVERIFY(a.trainLabels != c.trainLabels);
        // Test samples are drawn apart from training samples.
        QVERIFY(!std::equal(a.testImages.begin(), a.testImages.end(), a.trainImages.begin()));
    }

    void syntheticIsBalanced() {
        const Dataset d = dataset_generate_synthetic(6, 5, 1, 7, 1003, 70, 1);
        std::vector<int> train(7), test(7);
        for (uint8_t l : d.trainLabels)
            ++train.at(l);
        for (uint8_t l : d.testLabels)
            ++test.at(l);
        for (int k = 0; k < 7; ++k) {
            QVERIFY2(train[k] == 143 || train[k] == 144, qPrintable(QString::number(train[k])));
            QCOMPARE(test[k], 10);
        }
        // Shuffled, not in class order.
        int inOrder = 0;
        for (size_t i = 0; i < d.trainLabels.size(); ++i)
            inOrder += d.trainLabels[i] == i % 7;
        QVERIFY(inOrder < 400);
    }

    // Learnable: a nearest-class-mean classifier fitted on train beats chance by far on test.
    // Not trivial: it stays short of perfect, and samples of one class differ.
    void syntheticIsLearnableNotTrivial() {
        const int32_t classes = 10;
        const Dataset d = dataset_generate_synthetic(12, 12, 1, classes, 2000, 1000, 7);
        const int64_t n = d.imageSize();
        std::vector<double> mean(size_t(classes * n));
        std::vector<int> count(classes);
        uint8_t lo = 255, hi = 0;
        for (int64_t i = 0; i < d.trainCount(); ++i) {
            const int k = d.trainLabels[size_t(i)];
            ++count[k];
            for (int64_t p = 0; p < n; ++p) {
                const uint8_t v = d.trainImages[size_t(i * n + p)];
                mean[size_t(k * n + p)] += v;
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
        QCOMPARE(int(lo), 0);
        QCOMPARE(int(hi), 255);
        for (int k = 0; k < classes; ++k)
            for (int64_t p = 0; p < n; ++p)
                mean[size_t(k * n + p)] /= count[k];
        int correct = 0;
        for (int64_t i = 0; i < d.testCount(); ++i) {
            int best = -1;
            double bestDist = 0;
            for (int k = 0; k < classes; ++k) {
                double dist = 0;
                for (int64_t p = 0; p < n; ++p) {
                    const double e = d.testImages[size_t(i * n + p)] - mean[size_t(k * n + p)];
                    dist += e * e;
                }
                if (best < 0 || dist < bestDist) best = k, bestDist = dist;
            }
            correct += best == d.testLabels[size_t(i)];
        }
        const double accuracy = correct / double(d.testCount());
        qInfo("nearest class mean test accuracy: %.3f", accuracy);
        QVERIFY2(accuracy > 0.5, qPrintable(QString::number(accuracy)));
        QVERIFY2(accuracy < 0.95, qPrintable(QString::number(accuracy)));
    }

    void syntheticRejectsBadArguments() {
        QVERIFY_THROWS_EXCEPTION(InputError, dataset_generate_synthetic(0, 8, 1, 10, 10, 10, 1));
        QVERIFY_THROWS_EXCEPTION(InputError, dataset_generate_synthetic(8, 8, 1, 1, 10, 10, 1));
        QVERIFY_THROWS_EXCEPTION(InputError, dataset_generate_synthetic(8, 8, 1, 257, 10, 10, 1));
        QVERIFY_THROWS_EXCEPTION(InputError, dataset_generate_synthetic(8, 8, 1, 10, -1, 10, 1));
    }

    // --- augmentation ---------------------------------------------------------------------

    void augmentCifar_data() {
        QTest::addColumn<int>("dy");
        QTest::addColumn<int>("dx");
        QTest::addColumn<bool>("flip");
        QTest::addColumn<QList<int>>("expected");
        // Source (4 x 4, one channel), padded by 1 to 6 x 6:
        //   1  2  3  4
        //   5  6  7  8
        //   9 10 11 12
        //  13 14 15 16
        QTest::newRow("centre is the image")
            << 1 << 1 << false << QList<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        QTest::newRow("top left") << 0 << 0 << false
                                  << QList<int>{0, 0, 0, 0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11};
        QTest::newRow("bottom right")
            << 2 << 2 << false << QList<int>{6, 7, 8, 0, 10, 11, 12, 0, 14, 15, 16, 0, 0, 0, 0, 0};
        QTest::newRow("top right")
            << 0 << 2 << false << QList<int>{0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0, 10, 11, 12, 0};
        QTest::newRow("bottom left")
            << 2 << 0 << false << QList<int>{0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 0, 0, 0};
        QTest::newRow("centre flipped")
            << 1 << 1 << true << QList<int>{4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13};
        QTest::newRow("top right flipped")
            << 0 << 2 << true << QList<int>{0, 0, 0, 0, 0, 4, 3, 2, 0, 8, 7, 6, 0, 12, 11, 10};
        QTest::newRow("bottom left flipped")
            << 2 << 0 << true << QList<int>{7, 6, 5, 0, 11, 10, 9, 0, 15, 14, 13, 0, 0, 0, 0, 0};
    }

    void augmentCifar() {
        QFETCH(int, dy);
        QFETCH(int, dx);
        QFETCH(bool, flip);
        QFETCH(QList<int>, expected);
        std::vector<uint8_t> src(16), dst(16, 99);
        for (int i = 0; i < 16; ++i)
            src[size_t(i)] = uint8_t(i + 1);
        dataset_augment_cifar(src.data(), dst.data(), 4, 4, 1, 1, dy, dx, flip);
        QCOMPARE(QList<int>(dst.begin(), dst.end()), expected);
    }

    // Channels of one pixel move together; a flip mirrors pixels, not bytes.
    void augmentCifarKeepsChannelsTogether() {
        // 4 x 4 x 3: pixel (y, x) holds (10y + x, 100 + 10y + x, 200 + x).
        std::vector<uint8_t> src(48), dst(48, 99);
        for (int y = 0; y < 4; ++y)
            for (int x = 0; x < 4; ++x) {
                uint8_t* p = src.data() + (y * 4 + x) * 3;
                p[0] = uint8_t(10 * y + x), p[1] = uint8_t(100 + 10 * y + x),
                p[2] = uint8_t(200 + x);
            }
        // pad 2, crop at the bottom-left extreme (dy = 4, dx = 0), then mirror.
        dataset_augment_cifar(src.data(), dst.data(), 4, 4, 3, 2, 4, 0, true);
        auto px = [&](int y, int x) {
            return QList<int>(dst.begin() + (y * 4 + x) * 3, dst.begin() + (y * 4 + x) * 3 + 3);
        };
        // Crop rows are source rows 2, 3, pad, pad; crop columns pad, pad, 0, 1; mirrored: 1, 0,
        // pad, pad.
        QCOMPARE(px(0, 0), (QList<int>{21, 121, 201}));
        QCOMPARE(px(0, 1), (QList<int>{20, 120, 200}));
        QCOMPARE(px(1, 0), (QList<int>{31, 131, 201}));
        QCOMPARE(px(1, 1), (QList<int>{30, 130, 200}));
        QCOMPARE(px(0, 2), (QList<int>{0, 0, 0}));
        QCOMPARE(px(1, 3), (QList<int>{0, 0, 0}));
        for (int x = 0; x < 4; ++x) {
            QCOMPARE(px(2, x), (QList<int>{0, 0, 0}));
            QCOMPARE(px(3, x), (QList<int>{0, 0, 0}));
        }
    }

    void augmentCifarRejectsBadOffsets() {
        std::vector<uint8_t> src(16), dst(16);
        QVERIFY_THROWS_EXCEPTION(
            InputError, dataset_augment_cifar(src.data(), dst.data(), 4, 4, 1, 1, 3, 0, false));
        QVERIFY_THROWS_EXCEPTION(
            InputError, dataset_augment_cifar(src.data(), dst.data(), 4, 4, 1, 1, 0, -1, false));
        QVERIFY_THROWS_EXCEPTION(
            InputError, dataset_augment_cifar(src.data(), dst.data(), 4, 4, 1, -1, 0, 0, false));
    }

    // --- the real data --------------------------------------------------------------------

    void loadsRealFashionMnist() {
        const fs::path dir = paths_dataset_dir("fashion-mnist");
        if (!fs::exists(dir / (std::string(kTrainImages) + ".gz")))
            QSKIP(qPrintable(QStringLiteral("Fashion-MNIST not found in %1 (run scripts/setup to link it)")
                                 .arg(QString::fromStdString(dir.string()))));
        const Dataset d = dataset_load("fashion-mnist", "");
        QCOMPARE(d.name, std::string("fashion-mnist"));
        QCOMPARE(d.trainCount(), int64_t(60000));
        QCOMPARE(d.testCount(), int64_t(10000));
        QCOMPARE(d.height, 28);
        QCOMPARE(d.classes, 10);
        QCOMPARE(QList<int>(d.trainLabels.begin(), d.trainLabels.begin() + 5), (QList<int>{9, 0, 0, 3, 0}));
        QCOMPARE(QList<int>(d.testLabels.begin(), d.testLabels.begin() + 5), (QList<int>{9, 2, 1, 1, 6}));
    }

    void loadsRealMnist() {
        const fs::path dir = paths_mnist_dir();
        if (!fs::exists(dir / kTrainImages) &&
            !fs::exists(dir / (std::string(kTrainImages) + ".gz")))
            QSKIP(qPrintable(QStringLiteral("MNIST not found in %1 (run scripts/setup to fetch it)")
                                 .arg(QString::fromStdString(dir.string()))));
        const Dataset d = dataset_load_idx(dir.string());
        QCOMPARE(d.trainCount(), int64_t(60000));
        QCOMPARE(d.testCount(), int64_t(10000));
        QCOMPARE(d.height, 28);
        QCOMPARE(d.width, 28);
        QCOMPARE(d.channels, 1);
        QCOMPARE(d.classes, 10);
        QCOMPARE(QList<int>(d.trainLabels.begin(), d.trainLabels.begin() + 5),
                 (QList<int>{5, 0, 4, 1, 9}));
        QCOMPARE(QList<int>(d.testLabels.begin(), d.testLabels.begin() + 5),
                 (QList<int>{7, 2, 1, 0, 4}));
    }
};

QTEST_APPLESS_MAIN(TestDataset)
#include "test_dataset.moc"
