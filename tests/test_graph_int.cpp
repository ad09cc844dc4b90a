// The graph executor's integer products: codes read back from quantized values equal each
// family's own codes; the int16 kernel equals its definition; and training with integer products
// on the fast kernels (every ISA, one and two threads) equals the reference loops bit for bit,
// with the engine plan saying which products ran on codes.
#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/gemm.h"
#include "engine/graph/graph_engine.h"
#include "engine/graph/graph_int.h"
#include "kernels/gemm_i16.h"

#include <tbb/task_arena.h>

#include <QtTest>

#include <cstring>
#include <optional>
#include <random>

using namespace bitbench;
using namespace bitbench::graph_exec;
using nlohmann::json;

namespace {

// conv stride 2 SAME, conv VALID + max-pool, flatten, fc with a bias (sgd and adam only): every
// path an integer product takes, with relu, pooling and flatten between a quantizer and its use.
json model(bool bias) {
    json m = json::parse(R"({"name": "int-paths", "input": {"height": 12, "width": 12, "channels": 1},
        "ops": [{"name": "input.quant", "op": "quantize"},
                {"name": "c1", "op": "conv", "out": 8, "kernel": 3, "stride": 2, "padding": "same"},
                {"name": "c1.relu", "op": "relu"},
                {"name": "c1.quant", "op": "quantize"},
                {"name": "c2", "op": "conv", "out": 6, "kernel": 3, "padding": "valid"},
                {"name": "c2.pool", "op": "maxpool"},
                {"name": "c2.relu", "op": "relu"},
                {"name": "c2.quant", "op": "quantize"},
                {"name": "flat", "op": "flatten"},
                {"name": "f1", "op": "fc", "out": 10},
                {"name": "f1.quant", "op": "quantize"}]})");
    m["ops"][9]["bias"] = bias;
    return m;
}

Experiment experimentOf(const json& quant, const json& optimizer, double lr) {
    const bool wage = optimizer.at("kind") == "wage";
    json j = {{"name", "int-test"}, {"dataset", "synthetic"}, {"model", model(!wage)}, {"quant", quant},
              {"optimizer", optimizer}, {"batch", 8}, {"lr", lr}, {"seed", 3}};
    if (!wage) j["loss"] = "softmax_ce";
    return experiment_from_json(j);
}

struct Run {
    std::vector<std::vector<float>> params;
    std::vector<double> losses;
    std::vector<LayerReport> layers;
};

Run train(const Experiment& e, EngineKind kind, int32_t threads) {
    const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 4 * e.batch, e.batch, e.seed);
    Run r;
    tbb::task_arena arena(threads);
    arena.execute([&] {
        auto engine = engine_create(e, kind);
        for (int64_t step = 0; step < 5; ++step) {
            BatchResult out;
            const int64_t at = step % 4;
            engine->trainStep(d.trainImages.data() + at * e.batch * d.imageSize(),
                              d.trainLabels.data() + at * e.batch, e.batch, step, e.lrAt(0), out);
            r.losses.push_back(out.loss);
        }
        BatchResult ev;
        engine->evaluate(d.testImages.data(), d.testLabels.data(), e.batch, ev);
        r.losses.push_back(ev.loss);
        r.losses.push_back(double(ev.errors));
        const auto* g = dynamic_cast<const GraphEngine*>(engine.get());
        for (const auto& p : g->params()) r.params.push_back(p->value);
        r.layers = engine->layers();
    });
    return r;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// "fwd dx dw" flags of a layer's plan as the test rows spell them, from the engine's report.
QString planOf(const LayerReport& l) {
    QString s;
    s += l.plan[0].integer ? "W" : "-";
    s += l.plan[1].integer ? "A" : "-";
    s += l.plan[3].integer ? "E" : "-";
    return s;
}

} // namespace

class TestGraphInt : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // Codes read back from a family's float output equal its own integer codes (centred on the
    // zero point), and stay within code_bound.
    void codesFromValuesEqualFamilyCodes_data() {
        QTest::addColumn<QString>("quant");
        QTest::addColumn<int>("cls");
        QTest::addColumn<int>("granularity");
        const int W = int(QuantClass::W), A = int(QuantClass::A), E = int(QuantClass::E);
        const int T = int(Granularity::Tensor), S = int(Granularity::Sample), C = int(Granularity::Channel);
        QTest::newRow("wage2 W") << "\"wage2\"" << W << T;
        QTest::newRow("wage8 A") << "\"wage8\"" << A << T;
        QTest::newRow("wage8 E") << "\"wage8\"" << E << T;
        QTest::newRow("wage12 E per sample") << "\"wage12\"" << E << S;
        QTest::newRow("wage16 A") << "\"wage16\"" << A << T;
        QTest::newRow("pow2 8 A") << "\"pow8\"" << A << T;
        QTest::newRow("pow2 6 W per channel") << "\"pow6\"" << W << C;
        QTest::newRow("affine8 integer zero A") << R"({"family": "affine", "bits": 8, "zero_point": "integer"})" << A << T;
        QTest::newRow("affine8 integer zero A per sample")
            << R"({"family": "affine", "bits": 8, "zero_point": "integer"})" << A << S;
        QTest::newRow("affine12 integer zero E")
            << R"({"family": "affine", "bits": 12, "zero_point": "integer"})" << E << T;
        QTest::newRow("sign W") << "\"sign\"" << W << T;
        QTest::newRow("ternary W per channel") << "\"ternary\"" << W << C;
        QTest::newRow("dorefa1 W") << "\"dorefa1\"" << W << T;
        QTest::newRow("dorefa4 W") << "\"dorefa4\"" << W << T;
        QTest::newRow("dorefa4 A") << "\"dorefa4\"" << A << T;
        QTest::newRow("dorefa8 E") << "\"dorefa8\"" << E << T;
    }
    void codesFromValuesEqualFamilyCodes() {
        QFETCH(QString, quant);
        QFETCH(int, cls);
        QFETCH(int, granularity);
        Quantizer q = quantizer_parse(json::parse(quant.toStdString()), "test");
        q.granularity = Granularity(granularity);
        const QuantClass c = QuantClass(cls);
        const int64_t rows = 6, cols = 50;
        std::mt19937 gen(11);
        std::normal_distribution<float> nd(0.0f, c == QuantClass::E ? 1e-3f : 0.7f);
        std::vector<float> x(size_t(rows * cols));
        for (float& v : x) v = nd(gen);
        x[3] = 0.0f;
        const TensorView view{x.data(), rows, cols, q.granularity == Granularity::Tensor ? GroupAxis::None : GroupAxis::Rows};
        QuantPlan plan;
        QuantRunning running;
        QuantObserveArgs args;
        args.running = &running;
        quant_observe(q, c, view, args, plan);
        Random rng(5);
        std::vector<float> values(x.size());
        std::vector<int32_t> codes(x.size());
        quant_apply(q, view, plan, {&rng, 2, 9}, values.data());
        quant_apply_codes(q, view, plan, {&rng, 2, 9}, codes.data());
        Codes out;
        out.bound = code_bound(q, c);
        QVERIFY(out.bound > 0);
        codes_from_values(values.data(), rows, cols, plan, view.axis == GroupAxis::None ? 0 : 1, 1.0, out);
        int32_t largest = 0;
        for (int64_t i = 0; i < rows * cols; ++i) {
            const QuantGroup& G = plan.groups[plan.groups.size() == 1 ? 0 : size_t(i / cols)];
            const int32_t want = codes[size_t(i)] - G.zero;
            const int32_t got = out.narrow() ? out.c8[size_t(i)] : out.c16[size_t(i)];
            if (got != want) QFAIL(qPrintable(QString("element %1: code %2, read back %3").arg(i).arg(want).arg(got)));
            largest = std::max(largest, std::abs(want));
        }
        QVERIFY(largest <= out.bound);
        QVERIFY(largest > 0);
    }

    // E_grad feeds the weight gradient only: the last layer's weight gradient is the one E_grad
    // alone would give (the loss gradient through E_grad), while the errors passed down follow E.
    void errorGradCopyFeedsWeightGradients() {
        const json sgd = json::parse(R"({"kind": "sgd"})");
        auto firstStep = [&](const json& quant) {
            const Experiment e = experimentOf(quant, sgd, 0.05);
            const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 4 * e.batch, e.batch, e.seed);
            auto g = std::make_unique<GraphEngine>(e, false);
            BatchResult r;
            g->trainStep(d.trainImages.data(), d.trainLabels.data(), e.batch, 0, e.lrAt(0), r);
            std::vector<std::vector<float>> grads;
            for (const auto& p : g->params()) grads.push_back(p->grad);
            return grads; // c1.w, c2.w, f1.w, f1.b
        };
        const auto split = firstStep(json::parse(R"({"W": "wage8", "A": "wage8", "E": "float", "E_grad": "wage8"})"));
        const auto wage = firstStep(json::parse(R"({"W": "wage8", "A": "wage8", "E": "wage8"})"));
        const auto floats = firstStep(json::parse(R"({"W": "wage8", "A": "wage8", "E": "float"})"));
        QCOMPARE(split.size(), size_t(4));
        QVERIFY(sameBits(split[2], wage[2])); // f1: the loss gradient through wage8, as with E = wage8
        QVERIFY(sameBits(split[3], wage[3]));
        QVERIFY(!sameBits(split[2], floats[2]));
        QVERIFY(!sameBits(split[0], wage[0])); // c1: its errors came down unquantized (E float)
        QVERIFY(!sameBits(split[0], floats[0])); // and its weight gradient used their wage8 copy
    }

    // WAGE's Q_E drops its 2^p (the WAGE solver's Q_G normalizes); with sgd the executor multiplies
    // it back, so a wage8 error has the float error's magnitude: the last layer's first weight
    // gradient within 8-bit rounding of the one with float errors (not 2^-p times it).
    void wageErrorsKeepTheirMagnitudeWithSgd() {
        const json sgd = json::parse(R"({"kind": "sgd"})");
        auto lastLayerGradient = [&](const char* e) {
            const Experiment x = experimentOf(json{{"W", "wage8"}, {"A", "wage8"}, {"E", e}}, sgd, 0.05);
            const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 4 * x.batch, x.batch, x.seed);
            GraphEngine g(x, false);
            BatchResult r;
            g.trainStep(d.trainImages.data(), d.trainLabels.data(), x.batch, 0, x.lrAt(0), r);
            return g.params()[2]->grad; // f1.w
        };
        const std::vector<float> q = lastLayerGradient("wage8"), f = lastLayerGradient("float");
        double diff = 0, norm = 0;
        for (size_t i = 0; i < f.size(); ++i) {
            diff += std::abs(double(q[i]) - f[i]);
            norm += std::abs(double(f[i]));
        }
        QVERIFY(norm > 0);
        QVERIFY2(diff <= 0.05 * norm, qPrintable(QString("gradients differ by %1 of %2").arg(diff).arg(norm)));
    }

    // The E_grad copy is routed through relu, max-pool and flatten only; batch norm or a branch
    // point between the product and the quantize op is refused, naming the op.
    void errorGradCopyNeedsAPlainPath() {
        json m = model(true);
        m["ops"].insert(m["ops"].begin() + 2, json{{"name", "c1.bn"}, {"op", "batchnorm"}});
        const json j = {{"name", "t"}, {"dataset", "synthetic"}, {"model", m}, {"batch", 8}, {"lr", 0.1},
                        {"loss", "softmax_ce"}, {"optimizer", {{"kind", "sgd"}}},
                        {"quant", {{"A", "wage8"}, {"E", "wage8"}, {"E_grad", "wage16"}}}};
        const Experiment e = experiment_from_json(j);
        try {
            engine_create(e);
            QFAIL("accepted");
        } catch (const InputError& err) {
            const QString msg = err.what();
            QVERIFY2(msg.contains("c1.quant") && msg.contains("batchnorm 'c1.bn'"), qPrintable(msg));
        }
    }

    // TTQ's Wp and Wn are trained parameters: after the first step (both 1, so the latent gradient
    // is the forward weights' one) Wp moved by lr times the sum of the gradient where W > Delta,
    // Wn by lr times minus the sum where W < -Delta; and they survive a checkpoint.
    void ttqScalesAreTrained() {
        const Experiment e = experimentOf(json::parse(R"({"W": "ttq", "A": "wage8", "E": "wage8"})"),
                                          json::parse(R"({"kind": "sgd"})"), 0.01);
        const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 4 * e.batch, e.batch, e.seed);
        GraphEngine g(e, false);
        const auto& params = g.params();
        QStringList names;
        for (const auto& p : params) names << QString::fromStdString(p->name);
        QCOMPARE(names.join(' '), QString("c1.w c1.wp c1.wn c2.w c2.wp c2.wn f1.w f1.b f1.wp f1.wn"));
        const std::vector<float> w0 = params[3]->value; // c2.w
        BatchResult r;
        g.trainStep(d.trainImages.data(), d.trainLabels.data(), e.batch, 0, 0.01, r);
        double mx = 0;
        for (float w : w0) mx = std::max(mx, double(std::abs(w)));
        const double delta = 0.05 * mx;
        double pos = 0, neg = 0;
        for (size_t i = 0; i < w0.size(); ++i) {
            if (w0[i] > delta) pos += params[3]->grad[i];
            if (w0[i] < -delta) neg -= params[3]->grad[i];
        }
        QVERIFY(pos != 0 && neg != 0);
        QVERIFY(std::abs(params[4]->value[0] - (1.0 - 0.01 * pos)) < 1e-5);
        QVERIFY(std::abs(params[5]->value[0] - (1.0 - 0.01 * neg)) < 1e-5);

        // Stop after 2 steps, resume in a new engine: equal to 4 uninterrupted steps.
        auto steps = [&](GraphEngine& eng, int64_t from, int64_t to) {
            for (int64_t s = from; s < to; ++s)
                eng.trainStep(d.trainImages.data() + (s % 4) * e.batch * d.imageSize(),
                              d.trainLabels.data() + (s % 4) * e.batch, e.batch, s, 0.01, r);
        };
        GraphEngine whole(e, false), first(e, false), second(e, false);
        steps(whole, 0, 4);
        steps(first, 0, 2);
        second.weightsLoad(first.weightsSave());
        steps(second, 2, 4);
        QCOMPARE(second.weightsHash(), whole.weightsHash());
        QVERIFY(whole.params()[4]->value != first.params()[4]->value);
    }

    // Quantizers whose values are not one scale times a code have no bound, so never run on codes.
    void codeBoundRefusesNonLinearCodes() {
        QCOMPARE(code_bound(quantizer_parse("float", "t"), QuantClass::A), 0);
        QCOMPARE(code_bound(quantizer_parse("ttq", "t"), QuantClass::W), 0);
        QCOMPARE(code_bound(quantizer_parse("affine8", "t"), QuantClass::A), 0); // Banner's float zero point
        QCOMPARE(code_bound(quantizer_parse("affine16", "t"), QuantClass::A), 0);
        QCOMPARE(code_bound(quantizer_parse(json::parse(R"({"family": "affine", "bits": 16, "zero_point": "integer"})"),
                                            "t"),
                            QuantClass::A),
                 0); // 65535 does not fit int16
        QCOMPARE(code_bound(quantizer_parse("wage8", "t"), QuantClass::E), 127);
        QCOMPARE(code_bound(quantizer_parse("wage12", "t"), QuantClass::E), 2047);
        QCOMPARE(code_bound(quantizer_parse("pow8", "t"), QuantClass::A), 128);
        QCOMPARE(code_bound(quantizer_parse("dorefa4", "t"), QuantClass::W), 15);
    }

    // gemm_i16_nt equals its definition at the extremes of int16 (chunks of one term) and across
    // chunk boundaries, with one and two threads.
    void gemmI16EqualsReference_data() {
        QTest::addColumn<int>("M");
        QTest::addColumn<int>("N");
        QTest::addColumn<int>("K");
        QTest::addColumn<int>("bound");
        QTest::newRow("full range") << 5 << 7 << 33 << 32767;
        QTest::newRow("12 bit x 8 bit, long k") << 3 << 9 << 70000 << 2047;
        QTest::newRow("one row") << 1 << 4 << 100 << 255;
        QTest::newRow("columns not a multiple of four") << 17 << 6 << 129 << 127;
    }
    void gemmI16EqualsReference() {
        QFETCH(int, M);
        QFETCH(int, N);
        QFETCH(int, K);
        QFETCH(int, bound);
        std::mt19937 gen(uint32_t(M * 31 + K));
        std::uniform_int_distribution<int> ud(-bound, bound);
        std::vector<int16_t> a(size_t(M) * K), b(size_t(N) * K);
        for (auto& v : a) v = int16_t(ud(gen));
        for (auto& v : b) v = int16_t(ud(gen));
        // Extremes so that int32 partial sums would overflow without the chunks.
        for (int k = 0; k < std::min(K, 64); ++k) a[size_t(k)] = b[size_t(k)] = int16_t(bound);
        std::vector<int64_t> want(size_t(M) * N), got(want.size());
        gemm_i16_nt_ref(M, N, K, a.data(), K, b.data(), K, want.data(), N);
        for (int threads : {1, 2}) {
            std::fill(got.begin(), got.end(), -1);
            tbb::task_arena(threads).execute(
                [&] { gemm_i16_nt(M, N, K, a.data(), K, b.data(), K, got.data(), N, bound, bound); });
            QVERIFY(got == want);
        }
        QVERIFY(gemm_i16_chunk(bound, bound) * int64_t(bound) * bound < (int64_t(1) << 31));
    }

    // Training steps and an evaluation on the fast kernels equal the reference loops bit for bit,
    // for every ISA this machine has and with one and two threads, when every product runs on
    // codes; the plan names the products that did. With float products left (their float32 sums
    // round in another order than the reference's double ones) the fast kernels still give the
    // same bits on every ISA and thread count.
    void integerProductsEqualReference_data() {
        QTest::addColumn<QString>("quant");
        QTest::addColumn<QString>("optimizer");
        QTest::addColumn<double>("lr");
        QTest::addColumn<QString>("plan"); // per conv/fc: W A E integer, '-' float
        QTest::addColumn<QString>("width"); // of c2's forward product
        const QString wage = R"({"kind": "wage"})", sgd = R"({"kind": "sgd", "momentum": 0.9})",
                      adam = R"({"kind": "adam"})";
        QTest::newRow("wage 2-8-8-8: int8")
            << R"({"W": "wage2", "A": "wage8", "G": "wage8", "E": "wage8"})" << wage << 8.0 << "WAE WAE WAE" << "int8";
        QTest::newRow("wage 2-8-8-12: int16 errors")
            << R"({"W": "wage2", "A": "wage8", "G": "wage8", "E": "wage12"})" << wage << 8.0 << "WAE WAE WAE"
            << "int8";
        QTest::newRow("wage 12-12-8-16: int16 everywhere")
            << R"({"W": "wage12", "A": "wage12", "G": "wage8", "E": "wage16"})" << wage << 1.0 << "WAE WAE WAE"
            << "int16";
        QTest::newRow("ternary W, affine A with integer zero point, wage E, sgd")
            << R"({"W": "ternary", "A": {"family": "affine", "bits": 8, "zero_point": "integer"}, "E": "wage8"})"
            << sgd << 0.05 << "WAE WAE WAE" << "int16";
        QTest::newRow("affine A per sample: weight gradient in float")
            << R"({"W": "wage4", "A": {"family": "affine", "bits": 8, "zero_point": "integer", "granularity": "sample"},
                   "E": "wage8"})"
            << sgd << 0.05 << "WA- WA- WA-" << "int16";
        QTest::newRow("pow2 W per channel: input gradient in float")
            << R"({"W": {"family": "pow2", "bits": 6, "granularity": "channel"}, "A": "pow8", "E": "wage8"})" << adam
            << 0.001 << "WA- WA- WA-" << "int16"; // pow8 codes reach -128
        QTest::newRow("dorefa W A E, adam")
            << R"({"W": "dorefa4", "A": "dorefa4", "E": "dorefa8"})" << adam << 0.001 << "WAE WAE WAE" << "int8";
        QTest::newRow("ternary W (TWN) against int8 activations and errors: int8 adds and subtracts")
            << R"({"W": "ternary", "A": "wage8", "E": "wage8"})" << sgd << 0.05 << "WAE WAE WAE" << "int8";
        QTest::newRow("sign W (BinaryConnect) against int8 activations and errors, adam")
            << R"({"W": "sign", "A": "wage8", "E": "wage8"})" << adam << 0.001 << "WAE WAE WAE" << "int8";
        QTest::newRow("sign W, float E: forward only")
            << R"({"W": "sign", "A": "wage8"})" << sgd << 0.05 << "WA- WA- WA-" << "int8";
        QTest::newRow("E_grad wage16 apart from E wage8: int8 dx, int16 dW")
            << R"({"W": "wage2", "A": "wage8", "G": "wage8", "E": "wage8", "E_grad": "wage16"})" << wage << 8.0
            << "WAE WAE WAE" << "int8";
        QTest::newRow("E_grad float apart from E: weight gradients in float")
            << R"({"W": "wage2", "A": "wage8", "E_grad": "float",
                   "E": {"family": "affine", "bits": 8, "rounding": "stochastic", "zero_point": "integer"}})" << sgd << 0.05 << "WA- WA- WA-"
            << "int8";
        QTest::newRow("affine with Banner's zero point: all float")
            << R"({"W": "affine8", "A": "affine8", "E": "affine8"})" << sgd << 0.05 << "--- --- ---" << "";
    }
    void integerProductsEqualReference() {
        QFETCH(QString, quant);
        QFETCH(QString, optimizer);
        QFETCH(double, lr);
        QFETCH(QString, plan);
        QFETCH(QString, width);
        checkAgainstReference(experimentOf(json::parse(quant.toStdString()), json::parse(optimizer.toStdString()), lr),
                              plan, width);
    }

    // Banner et al.'s integer form on a net with range BN and one-way quantize points: u8
    // activations and errors with integer zero points, s8 weights and the 16-bit E_grad copy on
    // int16 products; the float simulation on float products.
    void bannerEqualsReference_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("plan");
        QTest::newRow("banner8") << "banner8" << "WAE WAE WAE";
        QTest::newRow("banner8-sim") << "banner8-sim" << "--- --- ---";
    }
    void bannerEqualsReference() {
        QFETCH(QString, method);
        QFETCH(QString, plan);
        json m = model(true);
        // A batch norm after each conv (range BN once the preset rewrites it).
        m["ops"].insert(m["ops"].begin() + 5, json{{"name", "c2.bn"}, {"op", "batchnorm"}});
        m["ops"].insert(m["ops"].begin() + 2, json{{"name", "c1.bn"}, {"op", "batchnorm"}});
        const Experiment e = experiment_from_json({{"name", "banner-int"}, {"dataset", "synthetic"}, {"model", m},
                                                   {"method", method.toStdString()}, {"batch", 16}, {"seed", 3}});
        checkAgainstReference(e, plan, plan.contains('W') ? "int16" : "");
    }

private:
    void checkAgainstReference(const Experiment& e, const QString& plan, const QString& width) {
        const Run want = train(e, EngineKind::Reference, 1);
        QStringList plans;
        for (const LayerReport& l : want.layers) plans << planOf(l);
        QCOMPARE(plans.join(' '), plan);
        if (!width.isEmpty())
            QVERIFY2(want.layers[1].plan[0].why.find(width.toStdString()) != std::string::npos,
                     want.layers[1].plan[0].why.c_str());
        // The integer definition against float products on the same values: the forward and
        // loss of the first batch agree to float rounding (a wrong scale or offset would not).
        {
            const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 4 * e.batch, e.batch, e.seed);
            GraphEngine integer(e, true, true), floats(e, true, false);
            BatchResult ri, rf;
            integer.evaluate(d.testImages.data(), d.testLabels.data(), e.batch, ri);
            floats.evaluate(d.testImages.data(), d.testLabels.data(), e.batch, rf);
            QVERIFY2(std::abs(ri.loss - rf.loss) <= 1e-4 * std::abs(rf.loss),
                     qPrintable(QString("loss %1 with integer products, %2 with float").arg(ri.loss).arg(rf.loss)));
            integer.trainStep(d.trainImages.data(), d.trainLabels.data(), e.batch, 0, e.lrAt(0), ri);
            floats.trainStep(d.trainImages.data(), d.trainLabels.data(), e.batch, 0, e.lrAt(0), rf);
            double diff = 0, norm = 0;
            for (size_t p = 0; p < integer.params().size(); ++p)
                for (size_t i = 0; i < integer.params()[p]->grad.size(); ++i) {
                    diff += std::abs(double(integer.params()[p]->grad[i]) - floats.params()[p]->grad[i]);
                    norm += std::abs(double(floats.params()[p]->grad[i]));
                }
            QVERIFY2(diff <= 1e-3 * norm, qPrintable(QString("gradients differ by %1 of %2").arg(diff).arg(norm)));
        }
        bool learned = false;
        for (size_t i = 0; i + 2 < want.losses.size(); ++i) learned |= want.losses[i] != want.losses[0];
        QVERIFY(learned);
        const bool exact = !plan.contains('-');
        std::optional<Run> first;
        const GemmIsa active = gemm_isa_active();
        for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
            if (int(isa) > int(gemm_isa_detected())) continue;
            gemm_isa_force(isa);
            for (int32_t threads : {1, 2}) {
                const Run got = train(e, EngineKind::Graph, threads);
                if (!first) first = got;
                const Run& ref = exact ? want : *first;
                const QString where = QString("%1, %2 threads").arg(gemm_isa_name(isa)).arg(threads);
                QVERIFY2(got.losses == ref.losses, qPrintable(where));
                QCOMPARE(got.params.size(), ref.params.size());
                for (size_t p = 0; p < got.params.size(); ++p)
                    QVERIFY2(sameBits(got.params[p], ref.params[p]), qPrintable(where + ", parameter " + QString::number(p)));
            }
        }
        gemm_isa_force(active);
    }
};

QTEST_APPLESS_MAIN(TestGraphInt)
#include "test_graph_int.moc"
