// The graph executor: WAGE as data equals the integer engine bit for bit; op-form models with
// batch norm and residual adds train with SGD momentum and Adam; solver state and running
// statistics survive a checkpoint (stop + resume equals uninterrupted).
#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/experiment.h"
#include "bitbench/gemm.h"
#include "engine/graph/graph_engine.h"
#include "engine/wage_common.h"

#include <QtTest>

#include <tbb/global_control.h>

#include <cmath>
#include <cstring>

using namespace bitbench;
using nlohmann::json;

namespace {

// A small WAGE net covering conv with and without pooling, SAME padding, relu and the logits'
// quantizer.
json wageModel() {
    return json::parse(R"({"name": "small", "input": {"height": 12, "width": 12, "channels": 1},
        "layers": [{"name": "conv1", "type": "conv", "out": 8, "kernel": 3, "padding": "same", "relu": true},
                   {"name": "conv2", "type": "conv", "out": 8, "kernel": 5, "pool": true, "relu": true},
                   {"name": "fc1", "type": "fc", "out": 16, "relu": true},
                   {"name": "fc2", "type": "fc", "out": 10}]})");
}

// A first layer the integer engine runs with its direct conv kernels (one input channel, 5 x 5
// VALID, pooled, 16 outputs, product width a multiple of 4).
json directModel() {
    return json::parse(R"({"name": "direct", "input": {"height": 12, "width": 12, "channels": 1},
        "layers": [{"name": "conv1", "type": "conv", "out": 16, "kernel": 5, "pool": true, "relu": true},
                   {"name": "fc1", "type": "fc", "out": 10}]})");
}

Experiment experimentOf(json j) {
    j["dataset"] = "synthetic";
    if (!j.contains("name")) j["name"] = "graph-test";
    return experiment_from_json(j);
}

struct Batches {
    Dataset data;
    int32_t batch;
    const uint8_t* images(int64_t step) const {
        return data.trainImages.data() + (step % 4) * batch * data.imageSize();
    }
    const uint8_t* labels(int64_t step) const { return data.trainLabels.data() + (step % 4) * batch; }
};

Batches batchesFor(const Experiment& e) {
    const Graph& g = e.graph;
    return {dataset_generate_synthetic(g.input.h, g.input.w, g.input.c, g.classes(), 4 * e.batch, e.batch, e.seed),
            e.batch};
}

// Latent weights of the integer engine's blob, as values: codes times 2^(1 - kL), kL = 8 here.
std::vector<std::vector<double>> integerLatent(const std::vector<uint8_t>& blob) {
    size_t pos = 0;
    blob_get_u64(blob, pos);
    const uint64_t layers = blob_get_u64(blob, pos);
    std::vector<std::vector<double>> out;
    for (uint64_t l = 0; l < layers; ++l) {
        const uint64_t n = blob_get_u64(blob, pos);
        std::vector<double> v(n);
        for (uint64_t i = 0; i < n; ++i) {
            int32_t c;
            std::memcpy(&c, blob.data() + pos + i * 4, 4);
            v[i] = std::ldexp(double(c), -7);
        }
        pos += n * 4;
        out.push_back(std::move(v));
    }
    return out;
}

// Three steps, a checkpoint, three more on a fresh engine: equal to six uninterrupted steps.
void checkResumesBitForBit(const Experiment& e) {
    const double lr = e.lr.front().lr;
    const Batches b = batchesFor(e);
    auto straight = engine_create(e, EngineKind::Graph);
    auto first = engine_create(e, EngineKind::Graph);
    BatchResult r;
    for (int64_t step = 0; step < 6; ++step) straight->trainStep(b.images(step), b.labels(step), 16, step, lr, r);
    for (int64_t step = 0; step < 3; ++step) first->trainStep(b.images(step), b.labels(step), 16, step, lr, r);
    const std::vector<uint8_t> blob = first->weightsSave();
    auto resumed = engine_create(e, EngineKind::Graph);
    resumed->weightsLoad(blob);
    QCOMPARE(resumed->weightsHash(), first->weightsHash());
    for (int64_t step = 3; step < 6; ++step) resumed->trainStep(b.images(step), b.labels(step), 16, step, lr, r);
    QCOMPARE(resumed->weightsHash(), straight->weightsHash());
    // A blob cut short is refused, not half loaded.
    std::vector<uint8_t> cut(blob.begin(), blob.end() - 5);
    QVERIFY_THROWS_EXCEPTION(DataError, resumed->weightsLoad(cut));
}

} // namespace

class TestGraphEngine : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // WAGE's init rounds the double draw (the integer engine's definition): at seed 249 LeNet-5's
    // fc1 weight 200966 draws w = -0.2500000109, whose float is the tie -0.25: code -1 from the
    // double, 0 from the float. The graph executor follows the integer engine; graph-float keeps
    // the float rounding its stored runs used.
    void wageInitRoundsTheDoubleDraw() {
        const Experiment e =
            experimentOf({{"model", "lenet5"}, {"bits", "2-8-8-8"}, {"batch", 8}, {"lr", 8}, {"seed", 249}});
        auto integer = engine_create(e, EngineKind::Integer);
        auto graph = engine_create(e, EngineKind::Graph);
        auto graphFloat = engine_create(e, EngineKind::GraphFloat);
        const auto latent = integerLatent(integer->weightsSave());
        const auto& g = dynamic_cast<const graph_exec::GraphEngine&>(*graph).params();
        const auto& gf = dynamic_cast<const graph_exec::GraphEngine&>(*graphFloat).params();
        QCOMPARE(latent[2][200966], -0.5); // code -1 at kW = 2
        QCOMPARE(double(g[2]->value[200966]), -0.5);
        QCOMPARE(double(gf[2]->value[200966]), 0.0);
        for (size_t l = 0; l < latent.size(); ++l)
            for (size_t j = 0; j < latent[l].size(); ++j)
                if (double(g[l]->value[j]) != latent[l][j]) QFAIL(qPrintable(QString("layer %1 weight %2").arg(l).arg(j)));
    }

    void wageRunsBitIdenticalToTheIntegerEngine_data() {
        QTest::addColumn<int>("kind");
        QTest::newRow("reference ops") << int(EngineKind::Reference);
        QTest::newRow("fast float kernels") << int(EngineKind::Graph);
    }
    void wageRunsBitIdenticalToTheIntegerEngine() {
        QFETCH(int, kind);
        const Experiment e = experimentOf({{"model", wageModel()}, {"bits", "2-8-8-8"}, {"batch", 16}, {"lr", 8}});
        QVERIFY(!e.needsGraphExecutor());
        const Batches b = batchesFor(e);
        auto integer = engine_create(e, EngineKind::Integer);
        auto graph = engine_create(e, EngineKind(kind));
        QCOMPARE(QString(graph->kind()), QString(kind == int(EngineKind::Graph) ? "graph" : "reference"));
        for (int64_t step = 0; step < 6; ++step) {
            BatchResult ri, rg;
            integer->trainStep(b.images(step), b.labels(step), 16, step, 8, ri);
            graph->trainStep(b.images(step), b.labels(step), 16, step, 8, rg);
            QCOMPARE(rg.errors, ri.errors);
            QCOMPARE(rg.loss, ri.loss);
        }
        const auto latent = integerLatent(integer->weightsSave());
        const auto& params = static_cast<graph_exec::GraphEngine&>(*graph).params();
        QCOMPARE(params.size(), latent.size());
        for (size_t l = 0; l < latent.size(); ++l)
            for (size_t i = 0; i < latent[l].size(); ++i)
                if (double(params[l]->value[i]) != latent[l][i])
                    QFAIL(qPrintable(QStringLiteral("%1[%2]: graph %3, integer %4")
                                         .arg(QString::fromStdString(params[l]->name))
                                         .arg(i)
                                         .arg(double(params[l]->value[i]))
                                         .arg(latent[l][i])));
        BatchResult ei, eg;
        integer->evaluate(b.images(1), b.labels(1), 16, ei);
        graph->evaluate(b.images(1), b.labels(1), 16, eg);
        QCOMPARE(eg.errors, ei.errors);
        QCOMPARE(eg.loss, ei.loss);
    }

    // E of 9 to 16 bits runs on the integer engine's int16 path (int16 error codes, int64 weight
    // gradients): equal to the reference executor bit for bit, per ISA and thread count.
    void wideErrorsRunBitIdenticalToTheReference_data() {
        QTest::addColumn<QString>("bits");
        QTest::addColumn<int>("isa");
        QTest::addColumn<int>("threads");
        QTest::addColumn<bool>("direct");
        for (bool direct : {false, true})
            for (const char* bits : {"2-8-8-9", "2-8-8-12", "2-8-8-16"})
                for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni})
                    for (int threads : {1, 2})
                        QTest::addRow("%s %s %s %d thread(s)", direct ? "direct" : "small", bits, gemm_isa_name(isa),
                                      threads)
                            << bits << int(isa) << threads << direct;
    }
    void wideErrorsRunBitIdenticalToTheReference() {
        QFETCH(QString, bits);
        QFETCH(int, isa);
        QFETCH(int, threads);
        QFETCH(bool, direct);
        if (isa > int(gemm_isa_detected())) QSKIP("this CPU lacks the ISA");
        struct IsaScope {
            explicit IsaScope(GemmIsa i) { gemm_isa_force(i); }
            ~IsaScope() { gemm_isa_force(gemm_isa_detected()); }
        } scope{GemmIsa(isa)};
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
        const Experiment e = experimentOf(
            {{"model", direct ? directModel() : wageModel()}, {"bits", bits.toStdString()}, {"batch", 16}, {"lr", 8}});
        std::string why;
        QVERIFY2(engine_integer_supported(e, &why), why.c_str());
        auto integer = engine_create(e);
        QCOMPARE(QString(integer->kind()), QStringLiteral("integer"));
        for (const LayerReport& r : integer->layers()) QVERIFY(r.plan[3].why.find("int16") != std::string::npos);
        auto reference = engine_create(e, EngineKind::Reference);
        const Batches b = batchesFor(e);
        for (int64_t step = 0; step < 6; ++step) {
            BatchResult ri, rr;
            integer->trainStep(b.images(step), b.labels(step), 16, step, 8, ri);
            reference->trainStep(b.images(step), b.labels(step), 16, step, 8, rr);
            QCOMPARE(ri.errors, rr.errors);
            QCOMPARE(ri.loss, rr.loss);
        }
        const auto latent = integerLatent(integer->weightsSave());
        const auto& params = static_cast<graph_exec::GraphEngine&>(*reference).params();
        QCOMPARE(params.size(), latent.size());
        int64_t moved = 0;
        for (size_t l = 0; l < latent.size(); ++l)
            for (size_t i = 0; i < latent[l].size(); ++i) {
                if (double(params[l]->value[i]) != latent[l][i])
                    QFAIL(qPrintable(QStringLiteral("%1[%2]: reference %3, integer %4")
                                         .arg(QString::fromStdString(params[l]->name))
                                         .arg(i)
                                         .arg(double(params[l]->value[i]))
                                         .arg(latent[l][i])));
                // Training moved the weights off the ternary init grid (multiples of 0.5).
                if (std::fmod(latent[l][i], 0.5) != 0) ++moved;
            }
        QVERIFY(moved > 50);
        BatchResult ei, er;
        integer->evaluate(b.images(1), b.labels(1), 16, ei);
        reference->evaluate(b.images(1), b.labels(1), 16, er);
        QCOMPARE(ei.errors, er.errors);
        QCOMPARE(ei.loss, er.loss);
    }

    void wideErrorsNeedInt32ErrorProducts() {
        // 288C LeNet-5 is integer; with 8-bit weights and 16-bit errors conv2's error product
        // could reach 25 * 64 * 32767 * 127 > 2^31, so that experiment stays on the float engine.
        std::string why;
        QVERIFY(engine_integer_supported(experimentOf({{"model", "lenet5"}, {"bits", "288C"}}), &why));
        const Experiment wide = experimentOf({{"model", "lenet5"}, {"bits", "8-8-8-16"}, {"lr", 1}});
        QVERIFY(!engine_integer_supported(wide, &why));
        QCOMPARE(QString::fromStdString(why),
                 QStringLiteral("layer 'conv2': its error product with 16-bit errors could reach 6658254400 (int32 sums)"));
        QVERIFY(!engine_integer_supported(experimentOf({{"model", "lenet5"}, {"bits", "2-9-8-8"}}), &why));
    }

    // New runs of layer-list patterns the integer engine cannot run (a float class, W/A/E wider
    // than 8 bits) train on the graph executor; runs stored before trained on the float engine.
    // Both must compute the same algorithm (core/doc/wage.md, "Float engine").
    void layerListPatternsEqualTheFloatEngine_data() {
        QTest::addColumn<QString>("bits");
        QTest::addColumn<bool>("exact");
        QTest::newRow("2-8-f-f") << "2-8-f-f" << true;
        QTest::newRow("2-8-f-8") << "2-8-f-8" << true;
        QTest::newRow("2-8-8-12") << "2-8-8-12" << true;
        QTest::newRow("2-8-12-12") << "2-8-12-12" << true;
        QTest::newRow("f-f-f-f") << "f-f-f-f" << false;
        QTest::newRow("f-8-f-f") << "f-8-f-f" << false;
        QTest::newRow("2-12-f-f") << "2-12-f-f" << false;
    }
    void layerListPatternsEqualTheFloatEngine() {
        // Q_E at 8 or 12 bits or float errors; Q_G onto the latent grid or, for a float G, plain
        // SGD at lr_float on the latent weights, as the float engine. The graph executor's
        // products are one fused chain per element (kernels/sgemm.h), the float engine's are
        // Eigen's (unfused, its own order). With 2-bit weights and 8-bit activations every
        // forward product and sum is a short dyadic number, and so are the errors of this small
        // net (8 or 12 bits, or float): every sum is exact in any order, so the runs agree bit
        // for bit. With float weights or 12-bit activations sums round differently; see the
        // tolerance below (only with a float G: a last-bit difference of a gradient may flip a
        // stochastic rounding of Q_G, a whole step of the latent grid).
        QFETCH(QString, bits);
        QFETCH(bool, exact);
        const Experiment e = experimentOf(
            {{"model", wageModel()}, {"bits", bits.toStdString()}, {"batch", 8}, {"lr", 1}, {"lr_float", 0.01}});
        const Batches b = batchesFor(e);
        auto legacy = engine_create(e, EngineKind::Float);
        auto graph = engine_create(e, EngineKind::Graph);
        for (int64_t step = 0; step < 4; ++step) {
            BatchResult rl, rg;
            legacy->trainStep(b.images(step), b.labels(step), 8, step, 1, rl);
            graph->trainStep(b.images(step), b.labels(step), 8, step, 1, rg);
            if (exact) {
                QCOMPARE(rg.errors, rl.errors);
                QCOMPARE(rg.loss, rl.loss);
            } else {
                QVERIFY2(std::abs(rg.loss - rl.loss) <= 1e-5 * rl.loss,
                         qPrintable(QStringLiteral("loss %1 vs %2").arg(rg.loss, 0, 'g', 17).arg(rl.loss, 0, 'g', 17)));
            }
        }
        const auto& params = static_cast<graph_exec::GraphEngine&>(*graph).params();
        std::vector<uint8_t> blob = legacy->weightsSave();
        size_t pos = 16;
        for (const auto& p : params) {
            QCOMPARE(blob_get_u64(blob, pos), uint64_t(p->value.size()));
            if (exact) {
                QVERIFY(std::memcmp(blob.data() + pos, p->value.data(), p->value.size() * 4) == 0);
            } else {
                // Gradients that differ in their last bits (two orders of a sum of n terms differ
                // by at most 2 n 2^-24 sum |terms|, n <= 1,152 here) move a weight, once lr_float
                // scales them and the update is rounded, by about one unit in its last place per
                // step: 4 steps, a few ulps. 1e-6 of the layer's largest weight is 8 to 16 ulps
                // of it (measured: at most 1 ulp); a wrong product is off by whole updates
                // (lr_float x gradient, ~1e-3).
                float scale = 0, worst = 0;
                for (size_t i = 0; i < p->value.size(); ++i) {
                    float l;
                    std::memcpy(&l, blob.data() + pos + i * 4, 4);
                    scale = std::max(scale, std::abs(l));
                    worst = std::max(worst, std::abs(l - p->value[i]));
                }
                QVERIFY2(worst <= 1e-6f * scale, qPrintable(QStringLiteral("%1: %2 of %3")
                                                                 .arg(QString::fromStdString(p->name))
                                                                 .arg(double(worst))
                                                                 .arg(double(scale))));
            }
            pos += p->value.size() * 4;
        }
    }

    void opFormModelsNeedTheGraphExecutor() {
        const Experiment e = experimentOf({{"model", "lenet5-bn"}, {"method", "float-sgd"}, {"batch", 8}});
        QVERIFY(e.needsGraphExecutor());
        QVERIFY(!engine_integer_supported(e));
        QVERIFY_THROWS_EXCEPTION(InputError, engine_create(e, EngineKind::Integer));
        QCOMPARE(QString(engine_create(e)->kind()), QStringLiteral("graph"));
    }

    void batchNormNetsLearn_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("optimizer");
        QTest::newRow("lenet5-bn sgd") << "lenet5-bn" << R"({"kind": "sgd", "momentum": 0.9, "weight_decay": 0.0001})";
        QTest::newRow("resnet8 adam") << "resnet8" << R"({"kind": "adam"})";
    }
    void batchNormNetsLearn() {
        QFETCH(QString, model);
        QFETCH(QString, optimizer);
        const Experiment e = experimentOf({{"model", model.toStdString()},
                                           {"method", "float-sgd"},
                                           {"optimizer", json::parse(optimizer.toStdString())},
                                           {"lr", 0.01},
                                           {"batch", 16}});
        const Batches b = batchesFor(e);
        auto engine = engine_create(e);
        double first = 0, last = 0;
        for (int64_t step = 0; step < 12; ++step) {
            BatchResult r;
            engine->trainStep(b.images(step), b.labels(step), 16, step, 0.01, r);
            QVERIFY(std::isfinite(r.loss));
            if (step < 4) first += r.loss;
            if (step >= 8) last += r.loss;
        }
        // The same four batches again and again: the loss must fall.
        QVERIFY2(last < 0.8 * first, qPrintable(QStringLiteral("loss %1 -> %2").arg(first).arg(last)));
        QVERIFY(engine->weightsNonFinite().empty());
    }

    void checkpointResumesBitForBit_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("optimizer");
        QTest::newRow("sgd momentum, batch norm") << "lenet5-bn" << R"({"kind": "sgd", "momentum": 0.9})";
        QTest::newRow("adam, residual") << "resnet8" << R"({"kind": "adam", "weight_decay": 0.001})";
        QTest::newRow("wage") << "" << "";
    }
    void checkpointResumesBitForBit() {
        QFETCH(QString, model);
        QFETCH(QString, optimizer);
        json j = model.isEmpty() ? json{{"model", wageModel()}, {"bits", "2-8-8-8"}, {"lr", 8}}
                                 : json{{"model", model.toStdString()},
                                        {"method", "float-sgd"},
                                        {"optimizer", json::parse(optimizer.toStdString())}};
        j["batch"] = 16;
        checkResumesBitForBit(experimentOf(j));
    }

    // Each method preset of WAGE's table on its net: stop + resume equals uninterrupted (BC with
    // Adam, its latent clip and Glorot scale; TTQ's learned scales and their solver state; DoReFa's
    // and TernGrad's draws), and the loss falls on four batches seen three times.
    void methodPresets_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("model");
        QTest::newRow("bc") << "bc" << "lenet5-bn";
        QTest::newRow("bnn") << "bnn" << "lenet5-bnn";
        QTest::newRow("twn") << "twn" << "lenet5-bn";
        QTest::newRow("ttq") << "ttq" << "lenet5-bn";
        QTest::newRow("dorefa") << "dorefa" << "lenet5-bn";
        QTest::newRow("terngrad") << "terngrad" << "lenet5";
    }
    void methodPresets() {
        QFETCH(QString, method);
        QFETCH(QString, model);
        const Experiment e =
            experimentOf({{"model", model.toStdString()}, {"method", method.toStdString()}, {"batch", 16}});
        checkResumesBitForBit(e);
        const Batches b = batchesFor(e);
        auto engine = engine_create(e);
        QCOMPARE(QString(engine->kind()), QStringLiteral("graph"));
        double first = 0, last = 0;
        for (int64_t step = 0; step < 12; ++step) {
            BatchResult r;
            engine->trainStep(b.images(step), b.labels(step), 16, step, e.lr.front().lr, r);
            QVERIFY(std::isfinite(r.loss));
            if (step < 4) first += r.loss;
            if (step >= 8) last += r.loss;
        }
        QVERIFY2(last < first, qPrintable(QStringLiteral("loss %1 -> %2").arg(first).arg(last)));
    }

    // BinaryConnect's solver options: latent weights of binarized layers stay in [-H, H]; the
    // Glorot scale multiplies the step of those layers only (Adam's first step is lr * g / (|g| +
    // eps): about lr per weight, times 1/sqrt(1.5 / (fan_in + fan_out))).
    void latentClipAndGlorotScale() {
        auto run = [&](const json& opt, double lr) {
            const Experiment e = experimentOf({{"model", "lenet5-bn"},
                                               {"method", "bc"},
                                               {"optimizer", opt},
                                               {"batch", 16}});
            const Batches b = batchesFor(e);
            auto engine = engine_create(e);
            std::vector<uint8_t> before = engine->weightsSave();
            BatchResult r;
            engine->trainStep(b.images(0), b.labels(0), 16, 0, lr, r);
            return std::make_pair(before, engine->weightsSave());
        };
        // conv1's 800 weights are the blob's first parameter: u64 magic, u64 count, u64 size, floats.
        auto conv1 = [](const std::vector<uint8_t>& blob) {
            std::vector<float> w(800);
            std::memcpy(w.data(), blob.data() + 24, 800 * sizeof(float));
            return w;
        };
        const auto [b0, clipped] = run({{"kind", "adam"}, {"latent_clip", 0.25}}, 1.0);
        const auto [b1, free] = run({{"kind", "adam"}}, 1.0);
        float maxClipped = 0, maxFree = 0;
        for (float v : conv1(clipped)) maxClipped = std::max(maxClipped, std::fabs(v));
        for (float v : conv1(free)) maxFree = std::max(maxFree, std::fabs(v));
        QCOMPARE(maxClipped, 0.25f);
        QVERIFY(maxFree > 0.9f);
        const auto [b2, plain] = run({{"kind", "adam"}}, 1e-4);
        const auto [b3, scaled] = run({{"kind", "adam"}, {"lr_scale", "glorot"}}, 1e-4);
        const double expect = 1.0 / std::sqrt(1.5 / (25 + 32 * 25)); // fan_in 25, fan_out 32 x 5 x 5
        const std::vector<float> w0 = conv1(b2), wp = conv1(plain), ws = conv1(scaled);
        int moved = 0;
        for (size_t i = 0; i < w0.size(); ++i) {
            const double dp = double(wp[i]) - w0[i], ds = double(ws[i]) - w0[i];
            if (std::fabs(dp) < 5e-5) continue; // a tiny gradient: eps matters
            ++moved;
            QVERIFY2(std::fabs(ds / dp / expect - 1) < 1e-3, qPrintable(QString::number(ds / dp)));
        }
        QVERIFY(moved > 400);
    }

    // A stochastic W quantizer draws anew for each step: with the rate 0 the latent weights stay,
    // but the binarized ones (and so the evaluation) change after a step. No batch norm, so
    // nothing else moves.
    void stochasticWeightsDrawEachStep() {
        const Experiment e = experimentOf({{"model", "mlp"},
                                           {"quant", {{"W", "signs"}, {"A", "float"}, {"G", "float"}, {"E", "float"}}},
                                           {"optimizer", "adam"},
                                           {"loss", "softmax_ce"},
                                           {"lr", 0.001},
                                           {"batch", 16}});
        const Batches b = batchesFor(e);
        auto engine = engine_create(e);
        BatchResult before, after, r;
        engine->evaluate(b.images(0), b.labels(0), 16, before);
        const uint64_t hash = engine->weightsHash();
        engine->trainStep(b.images(0), b.labels(0), 16, 0, 0.0, r);
        QCOMPARE(engine->weightsHash(), hash);
        engine->evaluate(b.images(0), b.labels(0), 16, after);
        QVERIFY(after.loss != before.loss);
    }

    // BinaryNet on lenet5-bnn: sign W x sign A products run on int8 codes (conv1 reads the float
    // image); E is float, so the backward products stay float32. The plan says so per layer.
    void binaryNetForwardRunsOnCodes() {
        const Experiment e = experimentOf({{"model", "lenet5-bnn"}, {"method", "bnn"}, {"batch", 16}});
        auto engine = engine_create(e);
        QStringList plan;
        for (const LayerReport& l : engine->layers())
            plan << l.name.c_str() + QStringLiteral(":") + (l.plan[0].integer ? "int" : "float") + "/" +
                        (l.plan[3].integer ? "int" : "float");
        QCOMPARE(plan.join(' '), QStringLiteral("conv1:float/float conv2:int/float fc1:int/float fc2:int/float"));
        QVERIFY2(engine->layers()[1].plan[0].why.find("int8") != std::string::npos, engine->layers()[1].plan[0].why.c_str());
    }

    // sign(relu(x)) is +1 everywhere: sign activations after a relu are refused, naming the ops.
    void signActivationsAfterReluAreRefused() {
        const Experiment e = experimentOf({{"model", "lenet5-bn"}, {"method", "bnn"}, {"batch", 16}});
        try {
            engine_create(e);
            QFAIL("sign activations after relu were accepted");
        } catch (const InputError& err) {
            QCOMPARE(QString(err.what()), QStringLiteral("op 'conv1.quant': sign activations read relu 'conv1.relu', "
                                                         "so every one is +1; use a model without relu before them "
                                                         "(lenet5-bnn)"));
        }
    }

    void evaluationUsesRunningStatistics() {
        // Two evaluations of one batch agree, and differ from what batch statistics would give
        // after a single training step (running means start at 0 and move by 10 %).
        const Experiment e = experimentOf({{"model", "lenet5-bn"}, {"method", "float-sgd"}, {"batch", 16}});
        const Batches b = batchesFor(e);
        auto engine = engine_create(e);
        BatchResult r, a, c;
        engine->trainStep(b.images(0), b.labels(0), 16, 0, 0.01, r);
        engine->evaluate(b.images(0), b.labels(0), 16, a);
        engine->evaluate(b.images(0), b.labels(0), 16, c);
        QCOMPARE(a.loss, c.loss);
        QVERIFY(a.loss != r.loss);
    }
};

QTEST_GUILESS_MAIN(TestGraphEngine)
#include "test_graph_engine.moc"
