// Method presets of WAGE's comparison table: each recipe's keys, the first/last-layer aliases of
// layer_quant, the optimizer options that keep earlier configuration hashes, the "trials" sweep
// and experiments/sweep-wage-table.json, and the paper's figures.
#include "bitbench/analysis.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/quant.h"

#include <nlohmann/json.hpp>

#include <QTest>

using namespace bitbench;
using nlohmann::json;

namespace {

Experiment methodOn(const std::string& method, const std::string& model, json extra = json::object()) {
    json j = {{"method", method}, {"model", model}, {"dataset", "synthetic"}};
    for (const auto& [k, v] : extra.items()) j[k] = v;
    return experiment_from_json(j);
}

QString textOf(const Experiment& e, const std::string& op, QuantClass c) {
    return QString::fromStdString(e.quantConfig().forOp(op, c).text());
}

template <class F> QString errorOf(F f) {
    try {
        f();
    } catch (const InputError& e) {
        return QString::fromUtf8(e.what());
    }
    return QStringLiteral("(accepted)");
}

} // namespace

class TestMethods : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void names() {
        QCOMPARE(experiment_method_names(),
                 (std::vector<std::string>{"wage", "float-sgd", "banner8-sim", "banner8", "bc", "bnn", "twn", "ttq", "dorefa", "terngrad"}));
        QVERIFY(errorOf([] { experiment_method_json("xnor"); }).contains("known methods are wage, float-sgd, banner8-sim, banner8, bc, bnn"));
    }

    void binaryConnect() {
        const Experiment e = methodOn("bc", "lenet5-bn");
        QVERIFY(e.optimizer.kind == SolverKind::Adam);
        QCOMPARE(e.optimizer.latentClip, 1.0);
        QVERIFY(e.optimizer.lrGlorot);
        QVERIFY(e.loss == LossKind::SquaredHinge);
        QCOMPARE(e.batch, 100);
        QCOMPARE(e.lrAt(0), 0.003);
        QCOMPARE(e.lrAt(15), 0.00224);
        for (const char* op : {"conv1", "conv2", "fc1", "fc2"}) QCOMPARE(textOf(e, op, QuantClass::W), QStringLiteral("sign"));
        QCOMPARE(textOf(e, "conv1.quant", QuantClass::A), QStringLiteral("float"));
        QCOMPARE(QString::fromStdString(e.bits.base.dashed()), QStringLiteral("1-f-f-f"));
    }

    void binaryNet() {
        const Experiment e = methodOn("bnn", "lenet5-bnn");
        QCOMPARE(textOf(e, "input.quant", QuantClass::A), QStringLiteral("float")); // the image is not binarized
        for (const char* op : {"conv1.quant", "conv2.quant", "fc1.quant"})
            QCOMPARE(textOf(e, op, QuantClass::A), QStringLiteral("sign"));
        QCOMPARE(textOf(e, "fc2", QuantClass::W), QStringLiteral("sign"));
        QVERIFY(e.loss == LossKind::SquaredHinge);
        // lenet5-bnn: BinaryNet's block order, no relu.
        for (const OpDesc& op : e.graph.ops) QVERIFY(op.kind != OpKind::Relu);
        QCOMPARE(e.graph.ops.back().name, std::string("fc2.bn"));
    }

    void firstAndLastLayers() {
        // TTQ and DoReFa keep the first and last layers' weights in float, on any model.
        const Experiment ttq = methodOn("ttq", "lenet5-bn");
        QCOMPARE(textOf(ttq, "conv1", QuantClass::W), QStringLiteral("float"));
        QCOMPARE(textOf(ttq, "conv2", QuantClass::W), QStringLiteral("ttq"));
        QCOMPARE(textOf(ttq, "fc1", QuantClass::W), QStringLiteral("ttq"));
        QCOMPARE(textOf(ttq, "fc2", QuantClass::W), QStringLiteral("float"));
        const Experiment res = methodOn("ttq", "resnet8");
        QCOMPARE(textOf(res, "stem", QuantClass::W), QStringLiteral("float"));
        QCOMPARE(textOf(res, "s1.conv1", QuantClass::W), QStringLiteral("ttq"));
        QCOMPARE(textOf(res, "fc", QuantClass::W), QStringLiteral("float"));
        const Experiment dorefa = methodOn("dorefa", "lenet5-bn");
        QCOMPARE(textOf(dorefa, "input.quant", QuantClass::A), QStringLiteral("float"));
        QCOMPARE(textOf(dorefa, "conv1.quant", QuantClass::A), QStringLiteral("dorefa8"));
        QCOMPARE(textOf(dorefa, "conv1", QuantClass::W), QStringLiteral("float"));
        QCOMPARE(textOf(dorefa, "fc1", QuantClass::W), QStringLiteral("dorefa8"));
        const Quantizer e = dorefa.quantConfig().forOp("fc1", QuantClass::E);
        QVERIFY(e.family == QuantFamily::Dorefa);
        QVERIFY(e.rounding == Rounding::Stochastic);
        QVERIFY(e.granularity == Granularity::Sample);
        // TernGrad leaves the logits layer's gradient alone.
        const Experiment tg = methodOn("terngrad", "lenet5");
        QCOMPARE(textOf(tg, "fc2", QuantClass::G), QStringLiteral("float"));
        QVERIFY(tg.quantConfig().forOp("fc1", QuantClass::G).family == QuantFamily::Terngrad);
        QCOMPARE(tg.quantConfig().forOp("fc1", QuantClass::G).param, 2.5);
        // The experiment's own layer_quant replaces the preset's (here: every layer ternary).
        const Experiment all = methodOn("ttq", "lenet5-bn", {{"layer_quant", json::object()}});
        QCOMPARE(textOf(all, "conv1", QuantClass::W), QStringLiteral("ttq"));
    }

    void aliases() {
        // An entry under the op's own name wins over the alias for the classes both give; the
        // alias fills in the others. The resolved configuration names the ops.
        const json q = {{"W", "ternary"}, {"A", "float"}, {"G", "float"}, {"E", "float"}};
        const Experiment e = experiment_from_json(
            {{"model", "lenet5-bn"},
             {"dataset", "synthetic"},
             {"optimizer", "sgd"},
             {"quant", q},
             {"layer_quant", {{"@first", {{"W", "float"}, {"E", "wage8"}}}, {"conv1", {{"W", "sign"}}}}}});
        QCOMPARE(textOf(e, "conv1", QuantClass::W), QStringLiteral("sign"));
        QCOMPARE(textOf(e, "conv1", QuantClass::E), QStringLiteral("wage8"));
        const json resolved = e.resolved();
        QVERIFY(resolved["layer_quant"].contains("conv1"));
        QVERIFY(!resolved["layer_quant"].contains("@first"));
        // The same experiment written with op names has the same configuration hash.
        const Experiment named = experiment_from_json(
            {{"model", "lenet5-bn"},
             {"dataset", "synthetic"},
             {"optimizer", "sgd"},
             {"quant", q},
             {"layer_quant", {{"conv1", {{"W", "sign"}, {"E", "wage8"}}}}}});
        QCOMPARE(named.configHash(), e.configHash());
        QCOMPARE(errorOf([&] {
                     experiment_from_json({{"model", "lenet5-bn"},
                                           {"dataset", "synthetic"},
                                           {"optimizer", "sgd"},
                                           {"quant", q},
                                           {"layer_quant", {{"@last", "float"}}}});
                 }),
                 QStringLiteral(R"(experiment.layer_quant.@last: expected an object of classes, e.g. {"W": "float"})"));
        // Only @first and @last are aliases.
        QVERIFY(errorOf([&] {
                    experiment_from_json({{"model", "lenet5-bn"},
                                          {"dataset", "synthetic"},
                                          {"optimizer", "sgd"},
                                          {"quant", q},
                                          {"layer_quant", {{"@middle", {{"W", "float"}}}}}});
                }).contains("@middle"));
    }

    void presetsEqualTheirKeysWrittenOut() {
        // A preset is a shorthand: the same keys written out give the same configuration hash.
        const json keys = experiment_method_json("bc");
        json written = keys;
        written["model"] = "lenet5-bn";
        written["dataset"] = "synthetic";
        QCOMPARE(experiment_from_json(written).configHash(), methodOn("bc", "lenet5-bn").configHash());
    }

    void optimizerOptionsKeepEarlierHashes() {
        // Without latent_clip and lr_scale the canonical optimizer is what it was before them.
        const Experiment e = experiment_from_json(
            {{"model", "lenet5-bn"}, {"method", "float-sgd"}, {"dataset", "synthetic"}});
        QCOMPARE(e.resolved()["optimizer"].dump(),
                 std::string(R"({"kind":"sgd","momentum":0.9,"nesterov":false,"warmup_epochs":0,"weight_decay":0.0001})"));
        const OptimizerConfig bc = optimizer_parse(json::parse(R"({"kind": "adam", "latent_clip": 1, "lr_scale": "glorot"})"), "o");
        QCOMPARE(bc.latentClip, 1.0);
        QVERIFY(bc.lrGlorot);
        QVERIFY(optimizer_to_json(bc)["latent_clip"] == json(1.0));
        QVERIFY(optimizer_to_json(bc)["lr_scale"] == json("glorot"));
        QVERIFY(optimizer_parse(optimizer_to_json(bc), "o") == bc);
        QCOMPARE(errorOf([] { optimizer_parse(json::parse(R"({"kind": "sgd", "lr_scale": "he"})"), "o"); }),
                 QStringLiteral(R"(o.lr_scale: expected "none" or "glorot", got "he")"));
        QCOMPARE(errorOf([] { optimizer_parse(json::parse(R"({"kind": "adam", "latent_clip": -1})"), "o"); }),
                 QStringLiteral("o.latent_clip: expected a number >= 0, got -1.0"));
        QVERIFY(errorOf([] { optimizer_parse(json::parse(R"({"kind": "wage", "latent_clip": 1})"), "o"); })
                    .contains("applies to kind \"sgd\""));
    }

    void tableSweep() {
        // experiments/sweep-wage-table.json: seven methods on MNIST and on Fashion-MNIST. The
        // second half is read here with generated data in place of Fashion-MNIST.
        const json sweep = json_file_read(std::string(BITBENCH_SOURCE_DIR) + "/experiments/sweep-wage-table.json",
                                          "sweep file");
        json local = sweep;
        for (auto& t : local["trials"])
            if (t["set"]["dataset"] == "fashion-mnist") t["set"]["dataset"] = "synthetic";
        std::string name;
        const std::vector<SweepTrialPlan> trials = sweep_expand(local, {}, &name);
        QCOMPARE(name, std::string("wage-table"));
        QCOMPARE(trials.size(), size_t(14));
        const std::vector<std::string> methods{"wage", "bc", "bnn", "twn", "ttq", "dorefa", "terngrad"};
        for (size_t i = 0; i < trials.size(); ++i) {
            const Experiment& e = trials[i].experiment;
            QCOMPARE(e.method, methods[i % 7]);
            QCOMPARE(e.datasetKind, std::string(i < 7 ? "mnist" : "synthetic"));
            QCOMPARE(trials[i].label, methods[i % 7] + (i < 7 ? " mnist" : " fashion-mnist"));
            QCOMPARE(e.name, "wage-table@" + trials[i].label);
            QCOMPARE(e.epochs, 50);
        }
        QCOMPARE(trials[0].experiment.model.name, std::string("lenet5"));
        QCOMPARE(trials[2].experiment.model.name, std::string("lenet5-bnn"));
        QCOMPARE(trials[0].experiment.bits.base.dashed(), std::string("2-8-8-8"));
    }

    void trialsErrors() {
        const json base = {{"model", "mlp"}, {"dataset", "synthetic"}};
        auto message = [&](const json& trials) {
            return errorOf([&] { sweep_expand({{"base", base}, {"trials", trials}}, {}); });
        };
        QCOMPARE(message(json::array()),
                 QStringLiteral(R"(sweep.trials: expected a non-empty list of {"label": ..., "set": {...}})"));
        QCOMPARE(message({{{"label", "a"}}}), QStringLiteral("sweep.trials[0].set: expected an object of experiment keys"));
        QCOMPARE(message({{{"label", "a"}, {"set", json::object()}, {"bits", "2888"}}}),
                 QStringLiteral(R"(sweep.trials[0]: unknown key "bits" (expected label, set))"));
        QCOMPARE(message({{{"label", "a"}, {"set", {{"method", "bc"}}}}, {{"label", "a"}, {"set", {{"method", "twn"}}}}}),
                 QStringLiteral(R"(sweep.trials[1].label: "a" is used twice)"));
        QCOMPARE(message({{{"label", "a"}, {"set", {{"method", "twn"}}}}, {{"label", "b"}, {"set", {{"method", "twn"}}}}}),
                 QStringLiteral(R"(sweep.trials[1] (b): trains the same experiment as "a")"));
        QVERIFY(message({{{"label", "x"}, {"set", {{"method", "xnor"}}}}})
                    .startsWith(QStringLiteral(R"(sweep.trials[0] (x): experiment.method: unknown method "xnor")")));
        QVERIFY(errorOf([&] { sweep_expand({{"base", base}, {"trials", {{{"label", "a"}, {"set", json::object()}}}}, {"patterns", {"2888"}}}, {}); })
                    .contains("exactly one of"));
    }

    void paperFigures() {
        QCOMPARE(method_paper_test_error("bc", "mnist").value_or(-1), 1.29);
        QCOMPARE(method_paper_test_error("bnn", "mnist").value_or(-1), 0.96);
        QCOMPARE(method_paper_test_error("twn", "mnist").value_or(-1), 0.65);
        QCOMPARE(method_paper_test_error("wage", "mnist").value_or(-1), 0.40);
        QCOMPARE(method_paper_test_error("ttq", "cifar10").value_or(-1), 6.44);
        QVERIFY(!method_paper_test_error("ttq", "mnist"));
        QVERIFY(!method_paper_test_error("wage", "fashion-mnist"));
        QVERIFY(!method_paper_test_error("", "mnist"));
    }
};

QTEST_APPLESS_MAIN(TestMethods)
#include "test_methods.moc"
