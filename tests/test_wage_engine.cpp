// WAGE engines: a hand-computed step, integer/float agreement, determinism, resume, gradients.
#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/philox.h"
#include "bitbench/trainer.h"

#include <nlohmann/json.hpp>

#include <QTest>

#include <cmath>
#include <cstring>

using namespace bitbench;
using nlohmann::json;

namespace {

// Weight blobs of both engines: magic, layer count, then per layer a count and raw values.
template <typename T> std::vector<std::vector<T>> blobLayers(const std::vector<uint8_t>& b) {
    auto u64 = [&](size_t at) {
        uint64_t v = 0;
        std::memcpy(&v, b.data() + at, 8);
        return v;
    };
    std::vector<std::vector<T>> out;
    size_t pos = 16;
    for (uint64_t l = 0; l < u64(8); ++l) {
        const uint64_t n = u64(pos);
        pos += 8;
        std::vector<T> v(n);
        std::memcpy(v.data(), b.data() + pos, n * sizeof(T));
        pos += n * sizeof(T);
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<uint8_t> intBlob(const std::vector<std::vector<int32_t>>& layers) {
    std::vector<uint8_t> b;
    auto put = [&](uint64_t v) {
        for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
    };
    put(0x31544E4957424242ull);
    put(layers.size());
    for (const auto& l : layers) {
        put(l.size());
        const auto* p = reinterpret_cast<const uint8_t*>(l.data());
        b.insert(b.end(), p, p + l.size() * 4);
    }
    return b;
}

json tinyConvModel() {
    return json::parse(R"({"name": "tiny", "input": {"height": 8, "width": 8, "channels": 1},
      "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 3, "pool": true, "relu": true},
                 {"name": "fc1", "type": "fc", "out": 12, "relu": true},
                 {"name": "fc2", "type": "fc", "out": 10}]})");
}

Experiment tinyExperiment(const std::string& bits, int32_t batch = 16) {
    json j = {{"model", tinyConvModel()}, {"dataset", "synthetic"}, {"bits", bits}, {"batch", batch},
              {"epochs", 2}, {"lr", 8}, {"seed", 7}, {"stats_interval", 5}};
    return experiment_from_json(j);
}

} // namespace

class TestWageEngine : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void paperAlphasAndSizes() {
        auto alphas = [](const char* model) {
            Experiment e = experiment_from_json({{"model", model}, {"batch", 2}});
            std::vector<int32_t> a;
            for (const auto& l : engine_create(e)->layers()) a.push_back(l.alpha);
            return a;
        };
        QCOMPARE(alphas("lenet5"), (std::vector<int32_t>{2, 16, 16, 8}));
        QCOMPARE(alphas("vgg7"), (std::vector<int32_t>{2, 16, 16, 16, 16, 32, 32, 16}));
        QCOMPARE(experiment_from_json({{"model", "lenet5"}}).model.parameterCount(), int64_t(581408));
        QCOMPARE(experiment_from_json({{"model", "vgg7"}}).model.parameterCount(), int64_t(12973440));
    }

    // One fc layer, 2 inputs, 2 outputs, batch 1, bits 2-8-8-8, lr 8, weights set by hand.
    //   latent W = [[64, -64], [0, 64]] (1/128 units) -> ternary codes [[1, -1], [0, 1]] (scale 1/2, alpha 1)
    //   X = [200, 100] -> Q_A codes round(X/2) = [100, 50] (scale 1/128)
    //   sums = [50, 50] at scale 1/256 -> Q_A codes round(50/2) = [25, 25] (25 is odd: no tie)
    //   label 0: e = [25 - 128, 25] = [-103, 25]; loss = (103^2 + 25^2) / 2 / 128^2
    //   Q_E: max 103, 103^2 = 10609 >= 2^13 so Shift = 2^7; codes e*2^7/2^7 = [-103, 25]
    //   G = e a^T = [[-10300, -5150], [2500, 1250]]; max 10300, 10300^2 < 2^27 so Shift = 2^13
    //   v = G * 8 * 2^15 / 2^13 = 32 G (units 2^-15): [-329600, -164800, 80000, 40000]
    //   n = sign(v) (floor|v| + [draw < frac]) with draw = Philox word >> 17 of (seed, SR, step 0, tensor 0)
    //   W <- clip(W, 64) - n
    void handComputedFirstStep() {
        json model = json::parse(R"({"name": "one", "input": {"height": 1, "width": 1, "channels": 2},
            "layers": [{"name": "fc", "type": "fc", "out": 2}]})");
        Experiment e = experiment_from_json({{"model", model}, {"bits", "2-8-8-8"}, {"batch", 1}, {"lr", 8}, {"seed", 99}});
        auto engine = engine_create(e, EngineKind::Integer);
        QCOMPARE(engine->layers()[0].alpha, 1);
        engine->weightsLoad(intBlob({{64, -64, 0, 64}}));
        const uint8_t image[2] = {200, 100};
        const uint8_t label[1] = {0};
        BatchResult r;
        engine->trainStep(image, label, 1, 0, 8.0, r);
        QCOMPARE(r.loss, (103.0 * 103.0 + 25.0 * 25.0) / 2.0 / 16384.0);
        QCOMPARE(r.errors, 0); // logits tie at 25, 25: argmax takes class 0

        const int64_t v[4] = {-329600, -164800, 80000, 40000};
        const PhiloxBlock draws = Random(99).block(RandomPurpose::StochasticRound, 0, 0, 0);
        const int32_t w0[4] = {64, -64, 0, 64};
        std::vector<int32_t> expected;
        for (int j = 0; j < 4; ++j) {
            const int64_t av = std::abs(v[j]);
            const int64_t n = (av >> 15) + ((draws[size_t(j)] >> 17) < uint32_t(av & 0x7FFF) ? 1 : 0);
            expected.push_back(int32_t(w0[j] - (v[j] < 0 ? -n : n)));
        }
        const auto w = blobLayers<int32_t>(engine->weightsSave());
        QCOMPARE(w[0], expected);
        // The magnitudes are 10 or 11, 5, 2 or 3, 1 or 2 steps of 1/128.
        QVERIFY(expected[0] == 74 || expected[0] == 75);
        QVERIFY(expected[1] == -59 || expected[1] == -58);
    }

    // Two independent implementations of the same arithmetic: the integer engine and the float
    // engine with exact power-of-two quantizers. With sums below 2^24 floats are exact, so the
    // latent weights must agree bit for bit after many steps.
    void integerAndFloatEnginesAgree_data() {
        QTest::addColumn<QString>("bits");
        QTest::newRow("2888") << "2-8-8-8";
        QTest::newRow("4-6-8-5") << "4-6-8-5";
        QTest::newRow("2-8-12-8") << "2-8-12-8";
    }
    void integerAndFloatEnginesAgree() {
        QFETCH(QString, bits);
        const Experiment e = tinyExperiment(bits.toStdString());
        const Dataset d = dataset_generate_synthetic(8, 8, 1, 10, 256, 64, 3);
        auto ie = engine_create(e, EngineKind::Integer);
        auto fe = engine_create(e, EngineKind::Float);
        const int32_t B = e.batch;
        for (int64_t step = 0; step < 16; ++step) {
            BatchResult ri, rf;
            const int64_t off = (step * B) % d.trainCount();
            ie->trainStep(d.trainImages.data() + off * d.imageSize(), d.trainLabels.data() + off, B, step, 8.0, ri);
            fe->trainStep(d.trainImages.data() + off * d.imageSize(), d.trainLabels.data() + off, B, step, 8.0, rf);
            QCOMPARE(ri.errors, rf.errors);
            QVERIFY(std::abs(ri.loss - rf.loss) <= 1e-6 * std::max(1.0, ri.loss));
        }
        const auto wi = blobLayers<int32_t>(ie->weightsSave());
        const auto wf = blobLayers<float>(fe->weightsSave());
        const int32_t kL = std::max(e.bits.base.w(), e.bits.base.g());
        int64_t changed = 0;
        for (size_t l = 0; l < wi.size(); ++l)
            for (size_t j = 0; j < wi[l].size(); ++j) {
                QCOMPARE(double(wf[l][j]), std::ldexp(double(wi[l][j]), 1 - kL));
                changed += wi[l][j] != 0;
            }
        QVERIFY(changed > 0);
    }

    void threadCountDoesNotChangeResults_data() {
        QTest::addColumn<QString>("bits");
        QTest::newRow("integer 2888") << "2-8-8-8";
        QTest::newRow("float 28ff") << "28ff";
    }
    void threadCountDoesNotChangeResults() {
        QFETCH(QString, bits);
        const Experiment e = tinyExperiment(bits.toStdString());
        const Dataset d = dataset_generate_synthetic(8, 8, 1, 10, 320, 100, 5);
        std::vector<uint64_t> hashes[2];
        for (int threads : {1, 2}) {
            Trainer t(e, d, threads);
            while (t.step()) {
            }
            for (const auto& h : t.history()) hashes[threads - 1].push_back(h.weightsHash);
        }
        QCOMPARE(hashes[0].size(), size_t(2));
        QCOMPARE(hashes[0], hashes[1]);
    }

    void lenetSameHashWithOneAndTwoThreads() {
        Experiment e = experiment_from_json({{"model", "lenet5"}, {"batch", 32}, {"lr", 8}, {"seed", 3}, {"train_limit", 96}});
        const Dataset d = dataset_generate_synthetic(28, 28, 1, 10, 96, 32, 1);
        uint64_t h[2];
        for (int threads : {1, 2}) {
            Trainer t(e, d, threads);
            while (t.step()) {
            }
            h[threads - 1] = t.history().back().weightsHash;
        }
        QCOMPARE(h[0], h[1]);
    }

    void learnsSyntheticData() {
        json model = json::parse(R"({"name": "small", "input": {"height": 12, "width": 12, "channels": 1},
          "layers": [{"name": "conv1", "type": "conv", "out": 16, "kernel": 3, "pool": true, "relu": true},
                     {"name": "fc1", "type": "fc", "out": 64, "relu": true},
                     {"name": "fc2", "type": "fc", "out": 10}]})");
        Experiment e = experiment_from_json({{"model", model}, {"bits", "2-8-8-8"}, {"batch", 32}, {"epochs", 8}, {"lr", 8}, {"seed", 1}});
        const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 2048, 512, 11);
        Trainer t(e, d, 0);
        const double before = t.evaluate().testError;
        while (t.step()) {
        }
        const double after = t.history().back().testError;
        // Chance is 90 %; a nearest-class-mean classifier gets about 30 % on this data.
        QVERIFY2(before > 0.8 && after < 0.55, qPrintable(QStringLiteral("%1 -> %2").arg(before).arg(after)));
    }

    void allZeroInputsGiveNoNan_data() {
        QTest::addColumn<QString>("bits");
        QTest::newRow("integer") << "2-8-8-8";
        QTest::newRow("float") << "28ff";
    }
    void allZeroInputsGiveNoNan() {
        QFETCH(QString, bits);
        const Experiment e = tinyExperiment(bits.toStdString(), 4);
        auto engine = engine_create(e);
        std::vector<uint8_t> images(size_t(4 * 64), 0), labels(4, 3);
        const uint64_t before = engine->weightsHash();
        BatchResult r;
        engine->trainStep(images.data(), labels.data(), 4, 0, 8.0, r);
        QVERIFY(std::isfinite(r.loss));
        std::vector<TensorStats> stats;
        engine->collectStats(0, 16, stats);
        for (const auto& s : stats) {
            QVERIFY(!std::isnan(s.maxAbs));
            QVERIFY(!std::isnan(s.saturation));
            QVERIFY(!std::isnan(s.underflow));
        }
        // Zero inputs give zero gradients in the first layer: its weights only get clipped.
        const auto w = engine->weightsSave();
        QVERIFY(engine->weightsHash() != 0);
        Q_UNUSED(before);
        Q_UNUSED(w);
    }

    void resumeEqualsUninterrupted() {
        Experiment e = tinyExperiment("2-8-8-8");
        e.epochs = 3;
        const Dataset d = dataset_generate_synthetic(8, 8, 1, 10, 320, 64, 9);
        Trainer full(e, d, 1);
        while (full.step()) {
        }
        // Stop in the middle of epoch 2, checkpoint, continue in a fresh trainer.
        Trainer first(e, d, 2);
        const int64_t stopAt = first.stepsPerEpoch() + 7;
        while (first.globalStep() < stopAt) first.step();
        const auto blob = first.checkpointSave();
        Trainer second(e, d, 1);
        second.checkpointLoad(blob);
        while (second.step()) {
        }
        QCOMPARE(second.history().size(), full.history().size());
        for (size_t i = 0; i < full.history().size(); ++i) {
            QCOMPARE(second.history()[i].weightsHash, full.history()[i].weightsHash);
            QCOMPARE(second.history()[i].testError, full.history()[i].testError);
            QCOMPARE(second.history()[i].trainLoss, full.history()[i].trainLoss);
        }
        std::vector<uint8_t> bad = blob;
        bad.resize(bad.size() / 2);
        QVERIFY_THROWS_EXCEPTION(DataError, second.checkpointLoad(bad));
    }

    // The float path's gradients against central finite differences of the loss.
    void floatGradientsMatchFiniteDifferences_data() {
        QTest::addColumn<QString>("loss");
        QTest::newRow("sse") << "sse";
        QTest::newRow("softmax_ce") << "softmax_ce";
    }
    void floatGradientsMatchFiniteDifferences() {
        QFETCH(QString, loss);
        json model = json::parse(R"({"name": "fd", "input": {"height": 6, "width": 6, "channels": 2},
            "layers": [{"name": "conv1", "type": "conv", "out": 3, "kernel": 3, "padding": "same", "pool": true, "relu": true},
                       {"name": "fc1", "type": "fc", "out": 5, "quantize_output": false}]})");
        const Experiment e = experiment_from_json(
            {{"model", model}, {"bits", "ffff"}, {"batch", 4}, {"loss", loss.toStdString()}, {"seed", 5}});
        const Dataset d = dataset_generate_synthetic(6, 6, 2, 5, 4, 4, 2);
        auto w = engine_float_initial_weights(e);
        double l0 = 0;
        const auto g = engine_float_gradients(e, w, d.trainImages.data(), d.trainLabels.data(), 4, &l0);
        int checked = 0;
        for (size_t l = 0; l < w.size(); ++l)
            for (size_t j = 0; j < w[l].size(); j += 3) {
                // Small enough that no relu or max-pool decision flips between the two probes.
                const float eps = 1e-4f;
                auto wp = w, wm = w;
                wp[l][j] += eps;
                wm[l][j] -= eps;
                double lp = 0, lm = 0;
                engine_float_gradients(e, wp, d.trainImages.data(), d.trainLabels.data(), 4, &lp);
                engine_float_gradients(e, wm, d.trainImages.data(), d.trainLabels.data(), 4, &lm);
                const double fd = (lp - lm) / (2 * eps);
                QVERIFY2(std::abs(fd - g[l][j]) <= 2e-2 * std::max(1.0, std::abs(fd)),
                         qPrintable(QStringLiteral("layer %1 weight %2: analytic %3, numeric %4").arg(l).arg(j).arg(g[l][j]).arg(fd)));
                ++checked;
            }
        QVERIFY(checked > 20);
    }

    void rejectsDatasetThatDoesNotFit() {
        const Experiment e = tinyExperiment("2888");
        const Dataset d = dataset_generate_synthetic(9, 9, 1, 10, 64, 16, 1);
        QVERIFY_THROWS_EXCEPTION(InputError, Trainer(e, d, 1));
    }
};

QTEST_APPLESS_MAIN(TestWageEngine)
#include "test_wage_engine.moc"
