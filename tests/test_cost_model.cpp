// Cost model: MAC counts and energy/area of tiny models, checked against numbers worked out by hand.
#include "bitbench/cost_model.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"

#include <nlohmann/json.hpp>

#include <QTest>

using namespace bitbench;
using nlohmann::json;

namespace {

// 4 inputs -> fc1 (3) -> fc2 (2): small enough to price on paper.
ModelDesc tinyFc() {
    return model_from_json(json::parse(R"({"name": "tinyfc", "input": {"height": 1, "width": 1, "channels": 4},
      "layers": [{"name": "fc1", "type": "fc", "out": 3, "relu": true},
                 {"name": "fc2", "type": "fc", "out": 2}]})"));
}

QuantSpec spec(const char* pattern) {
    QuantSpec s;
    s.base = quant_spec_parse(pattern);
    return s;
}

bool near(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); }

} // namespace

class TestCostModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void macPricing() {
        const CostTable t;
        // 8x8 bits over 1 term: the table's figures for the multiplier; adder 16 bits = 2 x ADD8.
        MacCost c = cost_mac(t, 8, 8, 1);
        QVERIFY(near(c.energyPj, 0.2 + 0.06));
        QVERIFY(near(c.areaUm2, 282 + 72));
        QCOMPARE(c.adderBits, 16);
        // 2x8 bits over 4 terms: MUL 0.2 * 16/64 = 0.05; adder 2+8+2 = 12 bits: 0.03 * 1.5 = 0.045.
        c = cost_mac(t, 2, 8, 4);
        QVERIFY(near(c.energyPj, 0.095));
        QVERIFY(near(c.areaUm2, 70.5 + 54));
        // The accumulator never exceeds int32.
        QCOMPARE(cost_mac(t, 16, 16, 1 << 20).adderBits, 32);
        // Any float operand: fp32 MUL + ADD.
        c = cost_mac(t, 0, 8, 10);
        QVERIFY(c.floatingPoint);
        QVERIFY(near(c.energyPj, 4.6));
        QVERIFY(near(c.areaUm2, 7700 + 4184));
        QVERIFY_THROWS_EXCEPTION(InputError, cost_mac(t, 17, 8, 1));
    }

    void tinyModelByHand() {
        const CostEstimate e = cost_estimate(tinyFc(), spec("2-8-8-8"), 2);
        QCOMPARE(int(e.layers.size()), 2);
        // fc1: 12 MACs forward and gradient; no error product for the first layer.
        QCOMPARE(e.layers[0].macs[0], int64_t(12));
        QCOMPARE(e.layers[0].macs[1], int64_t(0));
        QCOMPARE(e.layers[0].macs[2], int64_t(12));
        QCOMPARE(e.layers[1].macs[1], int64_t(6));
        // fc1 forward 12 x 0.095; gradient E8 x A8 over 2 terms (adder 17 bits): 12 x 0.26375.
        QVERIFY(near(e.layers[0].energyPj[0], 1.14));
        QVERIFY(near(e.layers[0].energyPj[2], 3.165));
        // fc2: forward 6 x 0.095 (k = 3 -> 12-bit adder); error W2 x E8 over 2 terms: 6 x 0.09125.
        QVERIFY(near(e.layers[1].energyPj[0], 0.57));
        QVERIFY(near(e.layers[1].energyPj[1], 0.5475));
        QVERIFY(near(e.layers[1].energyPj[2], 1.5825));
        // Updates: 18 weights x one 8-bit add (0.03 pJ).
        QVERIFY(near(e.layers[0].updateEnergyPj + e.layers[1].updateEnergyPj, 0.54));
        // Step: 2 images x 7.005 pJ + 0.54 pJ; inference: 1.14 + 0.57 pJ.
        QVERIFY(near(e.trainStepEnergyPj, 14.55));
        QVERIFY(near(e.inferenceEnergyPj, 1.71));
        QCOMPARE(e.trainMacsPerStep, int64_t(84));
        QCOMPARE(e.inferenceMacs, int64_t(18));
        // Area: forward unit 124.5; error unit 70.5 + 49.5; gradient unit 282 + 76.5; update adder 36.
        QVERIFY(near(e.inferenceAreaUm2, 124.5));
        QVERIFY(near(e.trainAreaUm2, 124.5 + 120 + 358.5 + 36));
    }

    void floatClassesUseFp32() {
        // E float: the error and gradient products are fp32 MACs (4.6 pJ each).
        CostEstimate e = cost_estimate(tinyFc(), spec("2-8-8-f"), 2);
        QVERIFY(near(e.layers[1].energyPj[1], 6 * 4.6));
        QVERIFY(near(e.layers[0].energyPj[2], 12 * 4.6));
        QVERIFY(near(e.inferenceEnergyPj, 1.71)); // forward untouched
        // G float: the update is an fp32 add per weight.
        e = cost_estimate(tinyFc(), spec("2-8-f-8"), 1);
        QVERIFY(near(e.layers[0].updateEnergyPj + e.layers[1].updateEnergyPj, 18 * 0.9));
    }

    void perLayerOverrideAndFewerBitsCostLess() {
        QuantSpec s = spec("2-8-8-8");
        s.overrides["fc2"] = quant_spec_parse("4-8-8-8");
        const CostEstimate e = cost_estimate(tinyFc(), s, 2);
        // fc2 forward W4 x A8: MUL 0.2 * 0.5 = 0.1; adder 4+8+2 = 14 bits: 0.0525. 6 MACs.
        QVERIFY(near(e.layers[1].energyPj[0], 6 * 0.1525));
        QVERIFY(near(e.layers[0].energyPj[0], 1.14));
        const double e8 = cost_estimate(tinyFc(), spec("8-8-8-8"), 2).trainStepEnergyPj;
        const double e2 = cost_estimate(tinyFc(), spec("2-8-8-8"), 2).trainStepEnergyPj;
        const double e4 = cost_estimate(tinyFc(), spec("2-4-8-4"), 2).trainStepEnergyPj;
        QVERIFY(e2 < e8);
        QVERIFY(e4 < e2);
    }

    void convPositionsAndPreviousActivation() {
        // 4x4 input, conv 3x3 VALID -> 2x2 positions x 2 channels x 9 taps = 72 MACs; fc over 8.
        const ModelDesc m = model_from_json(json::parse(R"({"name": "c", "input": {"height": 4, "width": 4, "channels": 1},
          "layers": [{"name": "conv1", "type": "conv", "out": 2, "kernel": 3, "relu": true},
                     {"name": "fc1", "type": "fc", "out": 2}]})"));
        QuantSpec s = spec("2-8-8-8");
        s.overrides["conv1"] = quant_spec_parse("2-4-8-8");
        const CostEstimate e = cost_estimate(m, s, 1);
        QCOMPARE(e.layers[0].macs[0], int64_t(72));
        QCOMPARE(e.layers[1].macs[0], int64_t(16));
        // fc1 reads conv1's 4-bit activations: W2 x A4.
        QCOMPARE(e.layers[1].operandBits[0][1], 4);
        QCOMPARE(e.layers[0].operandBits[0][1], 4);
        // conv1's error product would run over out x kernel^2 terms, but the first layer has none.
        QCOMPARE(e.layers[0].energyPj[1], 0.0);
    }

    void editedTableAndErrors() {
        CostTable t;
        t.int8MulPj = 0.4; // twice the multiplier energy
        const CostEstimate a = cost_estimate(tinyFc(), spec("8-8-8-8"), 1);
        const CostEstimate b = cost_estimate(tinyFc(), spec("8-8-8-8"), 1, t);
        QVERIFY(b.trainStepEnergyPj > a.trainStepEnergyPj);
        QCOMPARE(b.trainAreaUm2, a.trainAreaUm2);
        QVERIFY_THROWS_EXCEPTION(InputError, cost_estimate(tinyFc(), spec("2888"), 0));
        QCOMPARE(QString::fromStdString(cost_format_energy(12.34)), QStringLiteral("12.3 pJ"));
        QCOMPARE(QString::fromStdString(cost_format_energy(2.5e9)), QStringLiteral("2.50 mJ"));
        QCOMPARE(QString::fromStdString(cost_format_area(639)), QStringLiteral("639 um^2"));
        QCOMPARE(QString::fromStdString(cost_format_area(420000)), QStringLiteral("0.42 mm^2"));
    }

    // The experiment form prices a WAGE layer list exactly as the layer form.
    void experimentFormEqualsLayerForm_data() {
        QTest::addColumn<QString>("experiment");
        QTest::newRow("lenet5 2888") << R"({"model": "lenet5", "bits": "2-8-8-8"})";
        QTest::newRow("lenet5 28f8") << R"({"model": "lenet5", "bits": "2-8-f-8"})";
        QTest::newRow("lenet5 288C") << R"({"model": "lenet5", "bits": "2-8-8-12"})";
        QTest::newRow("lenet5 ffff") << R"({"model": "lenet5", "bits": "f-f-f-f"})";
        QTest::newRow("vgg7 2888, conv3 4-bit E")
            << R"({"model": "vgg7", "dataset": "cifar10", "bits": "2-8-8-8", "layer_bits": {"conv3": "2-8-8-4"}})";
    }
    void experimentFormEqualsLayerForm() {
        QFETCH(QString, experiment);
        json j = json::parse(experiment.toStdString());
        j["name"] = "t";
        if (!j.contains("dataset")) j["dataset"] = "mnist";
        const Experiment e = experiment_from_json(j);
        const CostEstimate a = cost_estimate(e.model, e.bits, e.batch), b = cost_estimate(e);
        QCOMPARE(b.layers.size(), a.layers.size());
        QCOMPARE(b.trainStepEnergyPj, a.trainStepEnergyPj);
        QCOMPARE(b.inferenceEnergyPj, a.inferenceEnergyPj);
        QCOMPARE(b.trainAreaUm2, a.trainAreaUm2);
        QCOMPARE(b.trainMacsPerStep, a.trainMacsPerStep);
        for (size_t l = 0; l < a.layers.size(); ++l)
            for (int p = 0; p < 3; ++p) QCOMPARE(b.layers[l].energyPj[p], a.layers[l].energyPj[p]);
    }

    // Families: a ternary operand is an adder only; affine requantizes each output with a
    // multiply; float master weights update in fp32. tinyfc by hand, batch 2, sgd (no momentum).
    void familiesByHand() {
        json j = {{"name", "t"}, {"dataset", "mnist"}, {"batch", 2}, {"optimizer", {{"kind", "sgd"}}}};
        j["model"] = json::parse(R"({"name": "tinyfc", "input": {"height": 1, "width": 1, "channels": 4},
          "layers": [{"name": "fc1", "type": "fc", "out": 3, "relu": true}, {"name": "fc2", "type": "fc", "out": 2}]})");
        j["quant"] = json::parse(R"({"W": "ternary", "A": "wage8", "E": "wage8"})");
        const CostEstimate t = cost_estimate(experiment_from_json(j));
        const CostTable c;
        // fc1 forward: 12 MACs of ternary x 8 bits over 4 terms: adder 8 + 1 + 2 = 11 bits.
        QCOMPARE(t.layers[0].pricedAs[0], std::string("add/subtract"));
        QVERIFY(near(t.layers[0].energyPj[0], 12 * c.int8AddPj * 11 / 8.0));
        // Ternary's scale alpha: 3 outputs rescaled by a 32 x 16 multiply (8 x MUL8).
        QVERIFY(near(t.layers[0].requantEnergyPj, 3 * c.int8MulPj * 8));
        // Gradient E x A: both wage: a multiplier, 8 x 8 over 1 x 2 terms (batch 2): adder 17 bits.
        QCOMPARE(t.layers[0].pricedAs[2], std::string("multiply"));
        QVERIFY(near(t.layers[0].energyPj[2], 12 * (c.int8MulPj + c.int8AddPj * 17 / 8.0)));
        // Update: sgd on float32 master weights, one MUL + ADD per weight (12 + 6 weights).
        QVERIFY(near(t.layers[0].updateEnergyPj, 12 * (c.fp32MulPj + c.fp32AddPj)));
        j["quant"] = json::parse(R"({"W": "wage2", "A": "wage8", "E": "wage8"})");
        const CostEstimate w = cost_estimate(experiment_from_json(j));
        QCOMPARE(w.layers[0].pricedAs[0], std::string("multiply"));
        QCOMPARE(w.layers[0].requantEnergyPj, 0.0); // powers of two: shifts
        QVERIFY(t.inferenceEnergyPj != w.inferenceEnergyPj);
        // An op-form model with batch norm prices its conv/fc ops; BN input is float.
        json bn = {{"name", "t"}, {"dataset", "mnist"}, {"method", "float-sgd"}, {"model", "lenet5-bn"}};
        const CostEstimate f = cost_estimate(experiment_from_json(bn));
        QCOMPARE(f.layers.size(), size_t(4));
        QCOMPARE(f.layers[1].pricedAs[0], std::string("float"));
    }

    // banner8's quantizers on tinyfc, batch 2, sgd: u8 A and E with integer zero points, s8 W
    // and 16-bit E_grad (symmetric). The zero-point corrections by hand (cost_model.h): a
    // multiply-add = MUL8 * 8 * 32 / 64 + ADD8 * 4 = 0.92 pJ; an add of width w = ADD8 * w / 8.
    void affineZeroPointsByHand() {
        json j = {
            {"name", "t"}, {"dataset", "mnist"}, {"batch", 2}, {"optimizer", {{"kind", "sgd"}}}};
        j["model"] =
            json::parse(R"({"name": "tinyfc", "input": {"height": 1, "width": 1, "channels": 4},
          "layers": [{"name": "fc1", "type": "fc", "out": 3, "relu": true}, {"name": "fc2", "type": "fc", "out": 2}]})");
        j["quant"] =
            json::parse(R"({"W": {"family": "affine", "bits": 8, "zero_point": "symmetric"},
          "A": {"family": "affine", "bits": 8, "zero_point": "integer"}, "G": "float",
          "E": {"family": "affine", "bits": 8, "rounding": "stochastic", "zero_point": "integer"},
          "E_grad": {"family": "affine", "bits": 16, "zero_point": "symmetric"}})");
        const CostEstimate t = cost_estimate(experiment_from_json(j));
        const CostTable c;
        QVERIFY(near(c.int8MulPj * 4 + c.int8AddPj * 4, 0.92));
        auto add = [&](int width) { return c.int8AddPj * width / 8.0; };
        // fc1 forward: sum w over 4 terms for 3 outputs (12 adds, 8 + 2 bits), za sum w for the
        // 2 x 3 outputs of the batch.
        QVERIFY(near(t.layers[0].zeroPointEnergyPj[0], 12 * add(10) + 6 * 0.92)); // 5.97
        QCOMPARE(t.layers[0].zeroPointEnergyPj[1], 0.0); // first layer: no error
        // fc1 gradient: E_grad (16 bits) summed over the batch (3 x 2 adds, 16 + 1 bits), then
        // za sum e for each of the 12 weights.
        QVERIFY(near(t.layers[0].zeroPointEnergyPj[2], 6 * add(17) + 12 * 0.92)); // 11.4225
        // fc2 (3 -> 2): forward 6 adds of 8 + 2 bits + 4 multiply-adds; error: w summed over the
        // 2 outputs (6 adds, 8 + 1 bits) + ze sum w for 2 x 3 input gradients; gradient 4 adds
        // of 17 bits + 6 multiply-adds.
        QVERIFY(near(t.layers[1].zeroPointEnergyPj[0], 6 * add(10) + 4 * 0.92)); // 3.905
        QVERIFY(near(t.layers[1].zeroPointEnergyPj[1], 6 * add(9) + 6 * 0.92));  // 5.7225
        QVERIFY(near(t.layers[1].zeroPointEnergyPj[2], 4 * add(17) + 6 * 0.92)); // 5.775
        // The products at their bits: forward 8 x 8 (adder 16 + log2 fan-in), gradient E_grad
        // 16 x A 8 over the batch of 2 (adder 25 bits), error W 8 x E 8 over 2 outputs.
        QCOMPARE(t.layers[0].operandBits[2][0], 16);
        QVERIFY(near(t.layers[0].energyPj[0], 12 * (0.2 + add(18))));     // 3.21
        QVERIFY(near(t.layers[0].energyPj[2], 12 * (0.2 * 2 + add(25)))); // 5.925
        QVERIFY(near(t.layers[1].energyPj[0], 6 * (0.2 + add(18))));      // 1.605
        QVERIFY(near(t.layers[1].energyPj[1], 6 * (0.2 + add(17))));      // 1.5825
        QVERIFY(near(t.layers[1].energyPj[2], 6 * (0.2 * 2 + add(25))));  // 2.9625
        // Per step: 2 images x (products 15.285 + requantization 5 x 1.6) + sgd's update of 18
        // weights (18 x 4.6) + the corrections (32.795).
        QVERIFY(near(t.trainStepEnergyPj, 2 * (15.285 + 8.0) + 82.8 + 32.795)); // 162.165 pJ
        // An inference: one image's forward (4.815 + 8) and its 3 + 2 multiply-adds (the weights'
        // sums are made once).
        QVERIFY(near(t.inferenceEnergyPj, 4.815 + 8.0 + 5 * 0.92)); // 17.415 pJ
        // Banner's float zero point (min) on W too: the weights' zero point adds A's row sums.
        j["quant"]["W"] = "affine8";
        const CostEstimate m = cost_estimate(experiment_from_json(j));
        QVERIFY(near(m.layers[0].zeroPointEnergyPj[0],
                     12 * add(10) + 6 * 0.92 + 2 * 4 * add(10) + 6 * 0.92));
    }
};

QTEST_APPLESS_MAIN(TestCostModel)
#include "test_cost_model.moc"
