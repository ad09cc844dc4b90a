// Banner et al.'s method as data: the affine quantizer's symmetric zero point (banner8's s8 weights
// and 16-bit E_grad), the range-BN and quantize-point rewrites, the presets' stored graphs, the
// direction of one-way quantize ops, and stop + resume of a banner8 run equal to an uninterrupted one.
#include "bitbench/analysis.h"
#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/fixed_point.h"
#include "bitbench/graph.h"
#include "bitbench/quant.h"
#include "engine/graph/graph_engine.h"
#include "engine/reference/ref_ops.h"

#include <QtTest>

#include <cmath>
#include <cstring>
#include <numbers>

using namespace bitbench;
using nlohmann::json;

namespace {

// conv + BN + pool + relu, conv + BN + relu, fc with a bias: 12 x 12 inputs, batch 16 fills
// range BN's 16 chunks.
json bnModel() {
    return json::parse(R"({"name": "bn-net", "input": {"height": 12, "width": 12, "channels": 1},
        "ops": [{"name": "input.quant", "op": "quantize"},
                {"name": "c1", "op": "conv", "out": 8, "kernel": 3, "padding": "same"},
                {"name": "c1.bn", "op": "batchnorm"},
                {"name": "c1.pool", "op": "maxpool"},
                {"name": "c1.relu", "op": "relu"},
                {"name": "c1.quant", "op": "quantize"},
                {"name": "c2", "op": "conv", "out": 8, "kernel": 3},
                {"name": "c2.bn", "op": "batchnorm"},
                {"name": "c2.relu", "op": "relu"},
                {"name": "c2.quant", "op": "quantize"},
                {"name": "f1", "op": "fc", "out": 10, "bias": true}]})");
}

Experiment bannerExperiment(const char* method) {
    return experiment_from_json({{"name", "banner-test"}, {"dataset", "synthetic"}, {"model", bnModel()},
                                 {"method", method}, {"batch", 16}, {"seed", 7}});
}

std::vector<std::string> names(const Graph& g) {
    std::vector<std::string> r;
    for (const OpDesc& op : g.ops) r.push_back(op.name);
    return r;
}

std::string applyText(const OpDesc& op) {
    if (op.kind != OpKind::Quantize) return op_kind_name(op.kind);
    return op.apply == QuantizeApply::Forward ? "q>" : op.apply == QuantizeApply::Backward ? "q<" : "q<>";
}

} // namespace

class TestBanner : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // Symmetric zero point: m = max|x|, scale m / 127, zero 128, codes 1..255 (code - zero in
    // -127..127), clamp before round also with stochastic rounding.
    void affineSymmetric() {
        const Quantizer q = quantizer_parse(json::parse(R"({"family": "affine", "bits": 8, "zero_point": "symmetric"})"),
                                            "test");
        QCOMPARE(q.text(), std::string(R"({"bits":8,"family":"affine","granularity":"tensor","momentum":0.9,"range":"batch","rounding":"nearest","zero_point":"symmetric"})"));
        std::vector<float> x = {-2.0f, -1.0f, 0.0f, 0.5f, 2.0f, 1.0f / 127.0f * 1.5f};
        const TensorView v{x.data(), 1, int64_t(x.size()), GroupAxis::None};
        QuantPlan plan;
        quant_observe(q, QuantClass::W, v, {}, plan);
        QCOMPARE(plan.groups.size(), size_t(1));
        const QuantGroup& G = plan.groups[0];
        QCOMPARE(G.zero, 128);
        QCOMPARE(G.scale, 2.0f / 127.0f);
        QCOMPARE(G.offset, 0.0f);
        QCOMPARE(G.codeLo, 1);
        QCOMPARE(G.codeHi, 255);
        std::vector<int32_t> codes(x.size());
        Random rng(1);
        quant_apply_codes(q, v, plan, {&rng, 0, 0}, codes.data());
        // -1 / (2/127) = -63.5: the tie goes to the even code 64; 0.5 / (2/127) = 31.75 -> 160;
        // 1.5/127 / (2/127) = 0.75 -> 129.
        QCOMPARE(codes, (std::vector<int32_t>{1, 64, 128, 160, 255, 129}));
        std::vector<float> out(x.size());
        quant_apply(q, v, plan, {&rng, 0, 0}, out.data());
        for (size_t i = 0; i < x.size(); ++i) QCOMPARE(out[i], float(codes[i] - 128) * G.scale);
        // Stochastic: -m stays at code 1 (clamped to the plan's range before rounding), never 0.
        Quantizer s = q;
        s.rounding = Rounding::Stochastic;
        std::vector<float> lows(4096, -2.0f);
        lows[0] = 2.0f;
        const TensorView lv{lows.data(), 1, int64_t(lows.size()), GroupAxis::None};
        QuantPlan sp;
        quant_observe(s, QuantClass::E, lv, {}, sp);
        std::vector<int32_t> sc(lows.size());
        quant_apply_codes(s, lv, sp, {&rng, 3, 4}, sc.data());
        for (size_t i = 1; i < sc.size(); ++i) QVERIFY(sc[i] == 1 || sc[i] == 2);
        // 16 bits: code - zero within +-32767 (an int16).
        Quantizer w = q;
        w.bits = 16;
        QuantPlan wp;
        quant_observe(w, QuantClass::EGrad, v, {}, wp);
        QCOMPARE(wp.groups[0].zero, 32768);
        QCOMPARE(wp.groups[0].scale, 2.0f / 32767.0f);
        // One bit has no symmetric range.
        QVERIFY_THROWS_EXCEPTION(InputError, quantizer_parse(json::parse(
            R"({"family": "affine", "bits": 1, "zero_point": "symmetric"})"), "test"));
    }

    void rewritesPlaceBannersPoints() {
        const Graph g = graph_from_json(bnModel());
        const Graph r = graph_banner_points(graph_range_bn(g));
        QCOMPARE(names(r), (std::vector<std::string>{"input.quant", "c1", "c1.grad.quant", "c1.bn.in.quant", "c1.bn",
                                                     "c1.bn.grad.quant", "c1.pool", "c1.relu", "c1.quant", "c2",
                                                     "c2.grad.quant", "c2.bn.in.quant", "c2.bn", "c2.bn.grad.quant",
                                                     "c2.relu", "c2.quant", "f1", "f1.grad.quant"}));
        std::vector<std::string> kinds;
        for (const OpDesc& op : r.ops) kinds.push_back(applyText(op));
        QCOMPARE(kinds, (std::vector<std::string>{"q>", "conv", "q<", "q>", "rangebn", "q<", "maxpool", "relu", "q>",
                                                  "conv", "q<", "q>", "rangebn", "q<", "relu", "q>", "fc", "q<"}));
        QCOMPARE(r.ops[size_t(r.find("c1.bn"))].momentum, 0.9);
        QCOMPARE(r.ops[size_t(r.find("c1.bn"))].inputs, std::vector<std::string>{"c1.bn.in.quant"});
        QCOMPARE(r.ops[size_t(r.find("c1.pool"))].inputs, std::vector<std::string>{"c1.bn.grad.quant"});
        QCOMPARE(r.classes(), 10);
        // The JSON writes "apply" only when not "both" and reads it back to an equal graph.
        const json j = graph_to_json(r);
        QCOMPARE(j["ops"][0]["apply"], json("forward"));
        QCOMPARE(j["ops"][2]["apply"], json("backward"));
        QVERIFY(graph_from_json(j) == r);
        QVERIFY(!j["ops"][4].contains("param_bits"));
        const Graph r8 = graph_range_bn(g, 8);
        QCOMPARE(r8.ops[size_t(r8.find("c2.bn"))].paramBits, 8);
        const json j8 = graph_to_json(r8);
        QCOMPARE(j8["ops"][2]["param_bits"], json(8));
        QVERIFY(graph_from_json(j8) == r8);
        for (const std::string& name : graph_builtin_names())
            QVERIFY(graph_to_json(graph_from_json(model_builtin_json(name))).dump().find("apply") == std::string::npos);
        // A name the points need that the model already has.
        json taken = bnModel();
        taken["ops"][5]["name"] = "c2.in.quant";
        taken["ops"][6]["inputs"] = {"c2.in.quant"};
        taken["ops"][5]["op"] = "relu";
        try {
            experiment_from_json({{"model", taken}, {"dataset", "synthetic"}, {"method", "banner8-sim"}, {"batch", 16}});
            QFAIL("a taken name was accepted");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("experiment.quantize_points: model 'bn-net': the quantization points "
                                                "need an op named 'c2.in.quant'") != std::string::npos, e.what());
        }
        QVERIFY_THROWS_EXCEPTION(InputError, experiment_from_json({{"model", bnModel()}, {"batch_norm", "rnage"}}));
        QVERIFY_THROWS_EXCEPTION(InputError, experiment_from_json({{"model", bnModel()}, {"quantize_points", 1}}));
        QVERIFY_THROWS_EXCEPTION(InputError, graph_from_json(json::parse(
            R"({"name": "m", "input": {"height": 2, "width": 2, "channels": 1},
                "ops": [{"name": "q", "op": "quantize", "apply": "sideways"}, {"name": "f", "op": "fc", "out": 2}]})")));
    }

    // Banner's range BN with 8-bit parameters: scale, gamma and beta each quantized per tensor
    // (min/max, nearest); the running scale and d scale / d range use the unquantized scale.
    void rangeBnParamBits() {
        std::vector<double> v = {0.0, 0.3, 1.0};
        ref::quantize_min_max(v, 8);
        const float step = 1.0f / 255.0f;
        QCOMPARE(v, (std::vector<double>{0.0, double(76.0f * step), 1.0})); // 0.3 * 255 = 76.5 -> 76
        const int64_t rows = 64;
        const int32_t c = 3;
        std::vector<float> x(size_t(rows * c));
        for (int64_t r = 0; r < rows; ++r)
            for (int32_t ch = 0; ch < c; ++ch) x[size_t(r * c + ch)] = float(std::sin(double(r * 7 + ch * 3))) * float(ch + 1);
        const std::vector<float> gamma = {1.0f, 0.5f, 2.0f}, beta = {0.0f, 0.1f, -0.2f};
        std::vector<float> yf(x.size()), yq(x.size());
        ref::BatchNormCache cf, cq;
        std::vector<double> mf(c, 0), sf(c, 0), mq(c, 0), sq(c, 0);
        ref::rangebn_forward_train(rows, c, 16, x.data(), gamma.data(), beta.data(), 1e-5, 0.9, yf.data(), cf, mf, sf);
        ref::rangebn_forward_train(rows, c, 16, x.data(), gamma.data(), beta.data(), 1e-5, 0.9, yq.data(), cq, mq, sq, 8);
        QCOMPARE(cq.rawScale, cf.invStd);
        std::vector<double> want = cf.invStd;
        ref::quantize_min_max(want, 8);
        QCOMPARE(cq.invStd, want);
        QVERIFY(cq.invStd != cf.invStd);
        QCOMPARE(sq, sf); // running scale from the unquantized one
        for (int64_t r = 0; r < rows; ++r)
            for (int32_t ch = 0; ch < c; ++ch) {
                const size_t i = size_t(r * c + ch);
                QCOMPARE(yq[i], float((double(x[i]) - cq.mean[size_t(ch)]) * want[size_t(ch)] * gamma[size_t(ch)] +
                                      beta[size_t(ch)]));
            }
        // The presets' range BN carries 8-bit parameters; "range" alone stays float.
        const Experiment e = experiment_from_json({{"model", "lenet5-bn"}, {"method", "banner8"}});
        QCOMPARE(e.graph.ops[size_t(e.graph.find("conv1.bn"))].paramBits, 8);
        const Experiment f = experiment_from_json({{"model", "lenet5-bn"}, {"method", "float-sgd"}, {"batch_norm", "range"}});
        QCOMPARE(f.graph.ops[size_t(f.graph.find("conv1.bn"))].paramBits, 0);
    }

    // Fixed-point multipliers: a 31-bit mantissa and a shift, products rounded half to even and
    // saturated.
    void fixedPointMultiplier() {
        const FxMultiplier h = fx_multiplier(0.75);
        QCOMPARE(h.m, int32_t(3) << 29); // 0.75 2^31
        QCOMPARE(h.shift, 31);
        QCOMPARE(fx_multiplier(0.0).m, 0);
        const FxMultiplier n = fx_multiplier(-3.0); // -0.75 2^2
        QCOMPARE(n.m, -(int32_t(3) << 29));
        QCOMPARE(n.shift, 29);
        const FxMultiplier half = fx_multiplier(0.5);
        QCOMPARE(fx_multiply_rne(5, half, 0), 2);   // 2.5 -> 2
        QCOMPARE(fx_multiply_rne(7, half, 0), 4);   // 3.5 -> 4
        QCOMPARE(fx_multiply_rne(-5, half, 0), -2); // -2.5 -> -2
        QCOMPARE(fx_multiply_rne(3, h, 0), 2);      // 2.25
        QCOMPARE(fx_multiply_rne(3, h, 16), 3 * 3 * 16384); // 2.25 on the 2^-16 grid
        QCOMPARE(fx_multiply_rne(int64_t(1) << 40, n, 0), INT32_MIN);
        QCOMPARE(fx_multiply_rne(int64_t(1) << 40, h, 0), INT32_MAX);
        // A mantissa that rounds up to 2^31 moves to the next exponent.
        const FxMultiplier up = fx_multiplier(std::nextafter(1.0, 0.0));
        QCOMPARE(up.m, int32_t(1) << 30);
        QCOMPARE(up.shift, 30);
        // The int64 fast path equals the 128-bit definition.
        uint64_t st = 12345;
        auto next = [&] { st = st * 6364136223846793005ull + 1442695040888963407ull; return st >> 11; };
        for (int i = 0; i < 20000; ++i) {
            const int64_t x = int64_t(next() % (uint64_t(1) << 34)) - (int64_t(1) << 33);
            const double mult = std::ldexp(double(next() % 1000000) - 500000.0, -int32_t(next() % 40));
            const FxMultiplier f = fx_multiplier(mult);
            QCOMPARE(fx_multiply_rne(x, f, 16), fx_multiply_rne_wide(x, f, 16));
        }
        // 1/3: within half a unit of the 31st bit.
        const FxMultiplier third = fx_multiplier(1.0 / 3);
        QVERIFY(std::abs(std::ldexp(double(third.m), -third.shift) - 1.0 / 3) <= std::ldexp(1.0, -33));
    }

    // Range BN in fixed point: the statistics from the integer codes equal the float op's (the
    // values here are codes times a power of two, so the float sums are exact too), the output
    // lies on the 2^-16 grid within half a step (plus the multiplier's 2^-31 relative error) of the
    // float op's, in training and evaluation.
    void rangeBnFixedPoint() {
        const int64_t rows = 64;
        const int32_t c = 3;
        const double sx = 1.0 / 32;
        std::vector<float> x(size_t(rows * c));
        for (int64_t r = 0; r < rows; ++r)
            for (int32_t ch = 0; ch < c; ++ch)
                x[size_t(r * c + ch)] = float(sx * std::nearbyint(100 * std::sin(double(r * 7 + ch * 3)) * (ch + 1)));
        const std::vector<float> gamma = {1.0f, 0.5f, -2.0f}, beta = {0.0f, 0.1f, -0.2f};
        for (int32_t bits : {0, 8}) {
            std::vector<float> yf(x.size()), yx(x.size());
            ref::BatchNormCache cf, cx;
            std::vector<double> mf(c, 0), sf(c, 1), mx(c, 0), sxr(c, 1);
            ref::rangebn_forward_train(rows, c, 16, x.data(), gamma.data(), beta.data(), 1e-5, 0.9, yf.data(), cf, mf, sf,
                                       bits);
            ref::rangebn_forward_fixed_train(rows, c, 16, x.data(), sx, gamma.data(), beta.data(), 1e-5, 0.9, yx.data(),
                                             cx, mx, sxr, bits);
            QCOMPARE(cx.mean, cf.mean);
            QCOMPARE(cx.invStd, cf.invStd);
            QCOMPARE(cx.rawScale, cf.rawScale);
            QCOMPARE(cx.maxIndex, cf.maxIndex);
            QCOMPARE(cx.minIndex, cf.minIndex);
            QCOMPARE(cx.fix, cf.fix);
            QCOMPARE(mx, mf);
            QCOMPARE(sxr, sf);
            auto onGridAndClose = [&](const std::vector<float>& fixed, const std::vector<float>& flt) {
                for (size_t i = 0; i < fixed.size(); ++i) {
                    const double g = std::ldexp(double(fixed[i]), 16);
                    QCOMPARE(g, std::nearbyint(g));
                    QVERIFY2(std::abs(double(fixed[i]) - double(flt[i])) <= std::ldexp(1.0, -16) + 1e-6 * std::abs(flt[i]),
                             qPrintable(QStringLiteral("%1: %2 vs %3").arg(i).arg(fixed[i]).arg(flt[i])));
                }
            };
            onGridAndClose(yx, yf);
            QVERIFY(yx != yf);
            std::vector<float> ef(x.size()), ex(x.size());
            ref::rangebn_forward_eval(rows, c, x.data(), gamma.data(), beta.data(), mf, sf, ef.data(), bits);
            ref::rangebn_forward_fixed_eval(rows, c, x.data(), sx, gamma.data(), beta.data(), mf, sf, ex.data(), bits);
            onGridAndClose(ex, ef);
        }
        // Hand-checked: 4 rows in 2 chunks, one channel, codes 1, 3, -2, 6 at sx = 1/2. S = 8, chunk
        // max 3 and 6, min 1 and -2: range = (9 - (-1)) / 2 * 1/2 = 2.5; fix for n = 2.
        const std::vector<float> v = {0.5f, 1.5f, -1.0f, 3.0f};
        const float g1 = 1.0f, b1 = 0.25f;
        std::vector<float> y(4);
        ref::BatchNormCache cache;
        std::vector<double> rm(1, 0), rs(1, 1);
        ref::rangebn_forward_fixed_train(4, 1, 2, v.data(), 0.5, &g1, &b1, 1e-5, 0.9, y.data(), cache, rm, rs, 0);
        const double fix = 0.5 * 0.35 * (1 + std::sqrt(std::numbers::pi * std::log(4.0))) / std::sqrt(2 * std::log(2.0));
        const double scale = 1 / (2.5 * fix + 1e-5);
        QCOMPARE(cache.mean[0], 1.0);
        QCOMPARE(cache.invStd[0], scale);
        const FxMultiplier m = fx_multiplier(0.5 * scale / 4);
        const int32_t codes[] = {1, 3, -2, 6};
        for (int i = 0; i < 4; ++i) {
            const double want = std::ldexp(double(fx_multiply_rne(4 * codes[i] - 8, m, 16)) + 16384, -16);
            QCOMPARE(double(y[size_t(i)]), want);
            QVERIFY(std::abs(want - ((double(v[size_t(i)]) - 1.0) * scale + 0.25)) <= std::ldexp(1.0, -17) + 1e-9);
        }
    }

    // fixed_point is written only when set, reads back, and needs integer codes at its input.
    void rangeBnFixedPointNeedsCodes() {
        const Experiment e = experiment_from_json({{"model", "lenet5-bn"}, {"method", "banner8"}});
        const OpDesc& bn = e.graph.ops[size_t(e.graph.find("conv1.bn"))];
        QVERIFY(bn.fixedPoint);
        QVERIFY(graph_to_json(e.graph).dump().find("\"fixed_point\":true") != std::string::npos);
        const Experiment sim = experiment_from_json({{"model", "lenet5-bn"}, {"method", "banner8-sim"}});
        QVERIFY(!sim.graph.ops[size_t(sim.graph.find("conv1.bn"))].fixedPoint);
        QVERIFY(graph_to_json(sim.graph).dump().find("fixed_point") == std::string::npos);
        // banner8-sim's A has Banner's float zero point: no integer codes.
        json j = {{"name", "t"}, {"dataset", "synthetic"}, {"model", bnModel()}, {"method", "banner8-sim"},
                  {"batch", 16}, {"batch_norm", "range8-fixed"}};
        const Experiment bad = experiment_from_json(j);
        try {
            graph_exec::GraphEngine engine(bad, false);
            QFAIL("a fixed-point range BN without integer codes was accepted");
        } catch (const InputError& err) {
            QVERIFY2(std::string(err.what()).find("fixed_point") != std::string::npos, err.what());
            QVERIFY2(std::string(err.what()).find("c1.bn") != std::string::npos, err.what());
        }
    }

    // The shipped Banner experiments read: the four side by side as one sweep (16 trials, each
    // method on both models and both datasets), and the CIFAR-10 recipe on ResNet-20.
    void shippedExperimentsRead() {
        const std::string dir = BITBENCH_SOURCE_DIR "/experiments";
        std::string name;
        const auto trials = sweep_expand(json_file_read(dir + "/sweep-banner.json", "sweep file"), dir, &name);
        QCOMPARE(trials.size(), size_t(16));
        int range = 0, fixed = 0;
        for (const auto& t : trials) {
            QCOMPARE(t.experiment.epochs, 5);
            for (const OpDesc& op : t.experiment.graph.ops) {
                range += op.kind == OpKind::RangeBatchNorm;
                fixed += op.fixedPoint;
            }
        }
        QVERIFY(range > 0);
        QVERIFY(fixed > 0);
        const Experiment c = experiment_load(dir + "/banner8-resnet20-cifar10.json");
        int convs = 0, fcs = 0;
        for (const OpDesc& op : c.graph.ops) convs += op.kind == OpKind::Conv, fcs += op.kind == OpKind::Fc;
        QCOMPARE(convs, 19 + 2); // ResNet-20's 19 convs and two 1x1 shortcuts
        QCOMPARE(fcs, 1);
        QCOMPARE(c.batch, 256);
        QCOMPARE(c.graph.input.c, 3);
        QCOMPARE(c.graph.ops[size_t(c.graph.find("fc"))].inShape.size(), int64_t(64));
        for (const char* f : {"banner8-lenet5bn-mnist", "banner8-sim-lenet5bn-mnist", "banner8-resnet8-mnist",
                              "banner8-sim-resnet8-mnist", "banner-lenet5bn-mnist-float-bn",
                              "banner-lenet5bn-mnist-float-rangebn", "banner-resnet8-mnist-float-bn",
                              "banner-resnet8-mnist-float-rangebn"})
            QCOMPARE(experiment_load(dir + "/" + f + ".json").epochs, 5);
    }

    // One banner8-sim step on fc(4 -> 3) -> relu -> fc(3 -> 2), batch 2, checked against the
    // method written out by hand in double: input A (running range, batch mean of per-sample
    // min/max in training), W affine8 (zero point = min), E affine8 at fc2's output gradient (to
    // fc1), the weight gradients from the float copies (E_grad float: the bifurcation), softmax
    // cross-entropy averaged over the batch, SGD momentum 0.9 (first step: buf = d) with weight
    // decay 1e-4, lr 0.1. E is nearest here so the step has one value (the preset's is stochastic).
    void bannerSimStepByHand() {
        const json model = json::parse(R"({"name": "tiny", "input": {"height": 2, "width": 2, "channels": 1},
            "ops": [{"name": "input.quant", "op": "quantize"},
                    {"name": "fc1", "op": "fc", "out": 3},
                    {"name": "fc1.relu", "op": "relu"},
                    {"name": "fc1.quant", "op": "quantize"},
                    {"name": "fc2", "op": "fc", "out": 2}]})");
        const json quant = json::parse(R"({"W": "affine8", "A": {"family": "affine", "bits": 8, "range": "running"},
                                          "G": "float", "E": "affine8", "E_grad": "float"})");
        const Experiment e = experiment_from_json({{"name", "tiny"}, {"dataset", "synthetic"}, {"model", model},
                                                   {"method", "banner8-sim"}, {"quant", quant}, {"batch", 2},
                                                   {"seed", 3}, {"batch_norm", "model"}});
        graph_exec::GraphEngine engine(e, true);
        const auto& P = engine.params();
        QCOMPARE(P.size(), size_t(2));
        const std::vector<float> w1(P[0]->value), w2(P[1]->value); // [out][in]
        const uint8_t images[8] = {0, 64, 128, 255, 200, 10, 90, 30};
        const uint8_t labels[2] = {1, 0};

        using V = std::vector<double>;
        // Affine min/max, zero point = min, nearest, in float as the family (quant/affine.md).
        auto affine8 = [](const V& x) {
            float mn = float(x[0]), mx = float(x[0]);
            for (double v : x) mn = std::min(mn, float(v)), mx = std::max(mx, float(v));
            const float scale = std::max((mx - mn) / 255.0f, 1e-8f);
            V q(x.size());
            for (size_t i = 0; i < x.size(); ++i) {
                const float v = (float(x[i]) - mn) / scale;
                q[i] = double(float(std::nearbyint(std::clamp(double(v), 0.0, 255.0))) * scale + mn);
            }
            return q;
        };
        // Banner's activation range in training: the batch mean of each sample's min and max.
        auto affine8Running = [](const V& x, size_t n) {
            const size_t k = x.size() / n;
            double lo = 0, hi = 0;
            for (size_t s = 0; s < n; ++s) {
                float mn = float(x[s * k]), mx = float(x[s * k]);
                for (size_t j = 0; j < k; ++j) mn = std::min(mn, float(x[s * k + j])), mx = std::max(mx, float(x[s * k + j]));
                lo += mn, hi += mx;
            }
            const float flo = float(lo / double(n)), fhi = float(hi / double(n));
            const float scale = std::max((fhi - flo) / 255.0f, 1e-8f);
            V q(x.size());
            for (size_t i = 0; i < x.size(); ++i) {
                const float v = (float(x[i]) - flo) / scale;
                q[i] = double(float(std::nearbyint(std::clamp(double(v), 0.0, 255.0))) * scale + flo);
            }
            return q;
        };
        const V W1q = affine8(V(w1.begin(), w1.end())), W2q = affine8(V(w2.begin(), w2.end()));
        V x(8);
        for (int i = 0; i < 8; ++i) x[size_t(i)] = images[i] / 256.0; // the unit transform
        const V xq = affine8Running(x, 2);
        V y1(6), a1(6);
        for (int s = 0; s < 2; ++s)
            for (int o = 0; o < 3; ++o) {
                double t = 0;
                for (int k = 0; k < 4; ++k) t += xq[size_t(s * 4 + k)] * W1q[size_t(o * 4 + k)];
                y1[size_t(s * 3 + o)] = t;
                a1[size_t(s * 3 + o)] = std::max(t, 0.0);
            }
        const V a1q = affine8Running(a1, 2);
        V dl(4);
        for (int s = 0; s < 2; ++s) {
            double z[2], mx = -1e300, sum = 0;
            for (int o = 0; o < 2; ++o) {
                z[o] = 0;
                for (int k = 0; k < 3; ++k) z[o] += a1q[size_t(s * 3 + k)] * W2q[size_t(o * 3 + k)];
                mx = std::max(mx, z[o]);
            }
            for (double v : z) sum += std::exp(v - mx);
            for (int o = 0; o < 2; ++o)
                dl[size_t(s * 2 + o)] = (std::exp(z[o] - mx) / sum - (labels[s] == o ? 1.0 : 0.0)) / 2.0;
        }
        const V dlq = affine8(dl); // E at fc2's output gradient: what fc1 receives
        V dW2(6, 0.0), dW1(12, 0.0);
        for (int s = 0; s < 2; ++s)
            for (int o = 0; o < 2; ++o)
                for (int k = 0; k < 3; ++k) dW2[size_t(o * 3 + k)] += dl[size_t(s * 2 + o)] * a1q[size_t(s * 3 + k)];
        for (int s = 0; s < 2; ++s)
            for (int k = 0; k < 3; ++k) {
                double d = 0;
                for (int o = 0; o < 2; ++o) d += dlq[size_t(s * 2 + o)] * W2q[size_t(o * 3 + k)];
                if (y1[size_t(s * 3 + k)] <= 0) d = 0; // relu; A's backward is straight-through
                for (int j = 0; j < 4; ++j) dW1[size_t(k * 4 + j)] += d * xq[size_t(s * 4 + j)];
            }
        BatchResult out;
        engine.trainStep(images, labels, 2, 0, 0.1, out);
        auto check = [](const char* name, const std::vector<float>& w, const V& g, const std::vector<float>& now) {
            for (size_t i = 0; i < w.size(); ++i) {
                const double want = double(w[i]) - 0.1 * (g[i] + 1e-4 * double(w[i]));
                QVERIFY2(std::abs(double(now[i]) - want) <= 1e-6 + 1e-5 * std::abs(0.1 * g[i]),
                         qPrintable(QStringLiteral("%1[%2]: %3, by hand %4").arg(name).arg(i).arg(now[i]).arg(want)));
            }
        };
        check("fc1.w", w1, dW1, P[0]->value);
        check("fc2.w", w2, dW2, P[1]->value);
        double moved = 0;
        for (size_t i = 0; i < dW1.size(); ++i) moved += std::abs(dW1[i]);
        QVERIFY(moved > 1e-3); // fc1 learned something: the check above is not vacuous
    }

    // The stored experiment holds the rewritten graph and not the rewrite keys: it reads back to
    // the same configuration, and the preset on lenet5-bn equals its explicit form.
    void presetsStoreTheRewrittenGraph() {
        for (const char* method : {"banner8", "banner8-sim"}) {
            const Experiment e = experiment_from_json({{"model", "lenet5-bn"}, {"method", method}});
            QVERIFY(e.graphModel);
            const json stored = e.stored();
            QVERIFY(!stored.contains("batch_norm"));
            QVERIFY(!stored.contains("quantize_points"));
            const Experiment back = experiment_from_json(stored);
            QCOMPARE(back.configHash(), e.configHash());
            QVERIFY(back.graph == e.graph);
            QCOMPARE(e.graph.ops[size_t(e.graph.find("conv1.bn"))].kind, OpKind::RangeBatchNorm);
            QVERIFY(e.graph.find("fc2.grad.quant") == int32_t(e.graph.ops.size()) - 1);
        }
        // The presets do not touch experiments that do not name them.
        const Experiment plain = experiment_from_json({{"model", "lenet5-bn"}, {"method", "float-sgd"}});
        QCOMPARE(plain.graph.ops[size_t(plain.graph.find("conv1.bn"))].kind, OpKind::BatchNorm);
    }

    // A forward-only point quantizes values and passes the gradient through; a backward-only
    // point is the identity forward and quantizes the gradient. On banner8-sim's first step.
    void oneWayPointsActInOneDirection() {
        const Experiment e = bannerExperiment("banner8-sim");
        const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 32, 16, 7);
        graph_exec::GraphEngine engine(e, true);
        BatchResult out;
        engine.trainStep(d.trainImages.data(), d.trainLabels.data(), 16, 0, 0.1, out);
        const auto& plans = engine.quantPlans();
        QCOMPARE(plans.size(), size_t(3));
        for (size_t l = 0; l < plans.size(); ++l) {
            const auto& p = plans[l];
            QCOMPARE(p[0].groups.size(), size_t(1)); // W affine8 per tensor
            // A: the block's last forward point (the logits have none).
            QCOMPARE(p[1].groups.size(), size_t(l + 1 < plans.size() ? 1 : 0));
            QCOMPARE(p[3].groups.size(), size_t(1)); // E from the first backward point
            QCOMPARE(p[3].groups[0].codeHi, 255);
        }
        QVERIFY(std::isfinite(out.loss));
        const std::vector<LayerReport> layers = engine.layers();
        QCOMPARE(layers.size(), size_t(3));
        QCOMPARE(layers[0].plan[3].quantizer, std::string("affine8s"));
    }

    // Affine apply counts the codes it clamps (below the lowest, above the highest code) and gives
    // the same values as without counting.
    void affineCountsClamps() {
        const Quantizer q =
            quantizer_parse(json::parse(R"({"family": "affine", "bits": 8, "range": "running",
                                                            "zero_point": "integer"})"),
                            "q");
        const std::vector<float> x = {-2.0f, -1.5f, 0.0f, 0.5f, 3.0f};
        const TensorView v{x.data(), 1, int64_t(x.size()), GroupAxis::None};
        QuantRunning r{-1.0f, 1.0f};
        QuantObserveArgs args;
        args.training = false; // the running range as it is
        args.running = &r;
        QuantPlan plan;
        quant_observe(q, QuantClass::A, v, args, plan);
        QCOMPARE(plan.clamped, QuantClamps{});
        std::vector<float> counted(x.size()), plain(x.size());
        quant_apply(q, v, plan, {}, counted.data(), &plan.clamped);
        quant_apply(q, v, plan, {}, plain.data());
        QCOMPARE(counted, plain);
        // scale 2/255, zero 128: -2 and -1.5 fall below code 0, 3 above code 255.
        QCOMPARE(plan.clamped.lo, int64_t(2));
        QCOMPARE(plan.clamped.hi, int64_t(1));
        QCOMPARE(plan.clamped.total, int64_t(5));
        // Another family leaves the counts at zero.
        const Quantizer wage = quantizer_parse("wage8", "q");
        QuantPlan wagePlan;
        quant_observe(wage, QuantClass::A, v, {}, wagePlan);
        QuantClamps none{7, 7, 7};
        quant_apply(wage, v, wagePlan, {}, plain.data(), &none);
        QCOMPARE(none, QuantClamps{});
    }

    // The engine's plans: E_grad apart from E (banner8's 16-bit copy; none in banner8-sim, whose
    // E_grad is float) and the clamp counts of the step's applies.
    void plansHoldEGradAndClamps_data() {
        QTest::addColumn<QString>("method");
        QTest::newRow("banner8") << "banner8";
        QTest::newRow("banner8-sim") << "banner8-sim";
    }
    void plansHoldEGradAndClamps() {
        QFETCH(QString, method);
        const Experiment e = bannerExperiment(method.toStdString().c_str());
        const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 32, 16, 7);
        graph_exec::GraphEngine engine(e, true);
        BatchResult out;
        engine.trainStep(d.trainImages.data(), d.trainLabels.data(), 16, 0, 0.1, out);
        const auto plans = engine.quantPlans();
        QCOMPARE(plans.size(), size_t(3));
        const bool integer = method == QLatin1String("banner8");
        const std::vector<LayerReport> layers = engine.layers();
        for (size_t l = 0; l < plans.size(); ++l) {
            const auto& p = plans[l];
            const QuantPlan& eg = p[size_t(QuantClass::EGrad)];
            QCOMPARE(eg.groups.size(), size_t(integer ? 1 : 0));
            if (integer) {
                QCOMPARE(eg.groups[0].zero, 32768);
                QCOMPARE(eg.groups[0].codeHi, 65535);
                QCOMPARE(eg.clamped.total, p[3].clamped.total); // the same gradient, copied
            }
            QCOMPARE(p[0].clamped.total, layers[l].weights);
            QVERIFY(p[0].clamped.lo + p[0].clamped.hi <=
                    2); // min/max ranges clamp at most the ends
            QVERIFY(p[3].clamped.total > 0);
        }
        // The first step's running range is 0.9 of the batch's: the activations overflow it.
        const QuantClamps a = plans[0][1].clamped;
        QVERIFY(a.total > 0);
        QVERIFY(a.lo + a.hi > 0);
    }

    // Stop after 3 steps, save, load into a new engine, 3 more: the weights, the momentum, the
    // running BN statistics and the running activation ranges equal 6 uninterrupted steps.
    void resumeEqualsUninterrupted_data() {
        QTest::addColumn<QString>("method");
        QTest::newRow("banner8") << "banner8";
        QTest::newRow("banner8-sim") << "banner8-sim";
    }
    void resumeEqualsUninterrupted() {
        QFETCH(QString, method);
        const Experiment e = bannerExperiment(method.toStdString().c_str());
        const Dataset d = dataset_generate_synthetic(12, 12, 1, 10, 64, 16, 7);
        auto steps = [&](Engine& engine, int64_t from, int64_t to) {
            for (int64_t s = from; s < to; ++s) {
                BatchResult out;
                engine.trainStep(d.trainImages.data() + (s % 4) * 16 * d.imageSize(), d.trainLabels.data() + (s % 4) * 16,
                                 16, s, e.lrAt(0), out);
            }
        };
        auto whole = engine_create(e, EngineKind::Graph);
        steps(*whole, 0, 6);
        auto first = engine_create(e, EngineKind::Graph);
        steps(*first, 0, 3);
        const std::vector<uint8_t> blob = first->weightsSave();
        auto second = engine_create(e, EngineKind::Graph);
        second->weightsLoad(blob);
        steps(*second, 3, 6);
        QCOMPARE(second->weightsHash(), whole->weightsHash());
        QVERIFY(second->weightsSave() == whole->weightsSave());
        BatchResult a, b;
        whole->evaluate(d.testImages.data(), d.testLabels.data(), 16, a);
        second->evaluate(d.testImages.data(), d.testLabels.data(), 16, b);
        QCOMPARE(a.loss, b.loss);
    }
};

QTEST_APPLESS_MAIN(TestBanner)
#include "test_banner.moc"
