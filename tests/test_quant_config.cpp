// Quantizer strings and objects, quant configurations with per-op overrides, and the bits shorthand.
#include "bitbench/error.h"
#include "bitbench/quant.h"
#include "bitbench/quant_spec.h"

#include <nlohmann/json.hpp>

#include <QTest>

using namespace bitbench;
using nlohmann::json;

namespace {

Quantizer wage(int32_t bits) { return Quantizer{QuantFamily::Wage, bits}; }

// The InputError of `f`, or a failure when there is none.
template <class F> QString errorOf(F f) {
    try {
        f();
    } catch (const InputError& e) {
        return QString::fromUtf8(e.what());
    }
    return QStringLiteral("(accepted)");
}

} // namespace

// JSON values compared with the value printed on failure.
#define COMPARE_JSON(a, b)                                                                                             \
    do {                                                                                                               \
        const json got_ = (a), want_ = (b);                                                                            \
        QVERIFY2(got_ == want_, qPrintable(QString::fromStdString(got_.dump() + " != " + want_.dump())));          \
    } while (0)

class TestQuantConfig : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // Labels: the short string when there is one, else the short base and what differs from it.
    void labels() {
        auto q = [](const char* j) { return quantizer_parse(nlohmann::json::parse(j), "t"); };
        QCOMPARE(q(R"("affine8s")").label(), std::string("affine8s"));
        QCOMPARE(q(R"({"family": "affine", "bits": 8, "zero_point": "symmetric"})").label(),
                 std::string("affine8 zero_point=symmetric"));
        QCOMPARE(q(R"({"family": "affine", "bits": 8, "range": "running", "zero_point": "integer"})").label(),
                 std::string("affine8 range=running zero_point=integer"));
        QCOMPARE(q(R"({"family": "affine", "bits": 16, "rounding": "stochastic", "granularity": "channel"})").label(),
                 std::string("affine16s granularity=channel"));
    }
    void shortStringsRoundTrip_data() {
        QTest::addColumn<QString>("text");
        for (const char* s : {"float", "wage1", "wage2", "wage8", "wage16", "pow2", "pow8", "pow16", "affine1", "affine8",
                              "affine8s", "affine16s", "sign", "signs", "ternary", "ttq", "dorefa1", "dorefa8", "dorefa16",
                              "terngrad"})
            QTest::newRow(s) << QString::fromLatin1(s);
    }
    void shortStringsRoundTrip() {
        QFETCH(QString, text);
        const Quantizer q = quantizer_parse(json(text.toStdString()), "q");
        QCOMPARE(QString::fromStdString(q.text()), text);
        QCOMPARE(quantizer_parse(quantizer_to_json(q), "q"), q);
        quantizer_check(q, "q");
    }

    void shortStringMeanings() {
        QCOMPARE(quantizer_parse(json("f"), "q"), Quantizer{});
        const Quantizer a = quantizer_parse(json("affine8s"), "q");
        QCOMPARE(a.family, QuantFamily::Affine);
        QCOMPARE(a.bits, 8);
        QCOMPARE(a.rounding, Rounding::Stochastic);
        QCOMPARE(a.param, 0.9);
        QVERIFY(!a.integerZero());
        QCOMPARE(quantizer_parse(json("ternary"), "q").param, 0.7);
        QCOMPARE(quantizer_parse(json("ttq"), "q").param, 0.05);
        QCOMPARE(quantizer_parse(json("ttq"), "q").family, QuantFamily::TernaryLearned);
        QCOMPARE(quantizer_parse(json("terngrad"), "q").rounding, Rounding::Stochastic);
        QCOMPARE(quantizer_parse(json("terngrad"), "q").param, 0.0);
        QCOMPARE(quantizer_parse(json("pow2"), "q").bits, 2); // "pow2" is the 2-bit power-of-two quantizer
        QCOMPARE(quantizer_parse(json("sign"), "q").bits, 1);
        QCOMPARE(quantizer_parse(json("wage12"), "q"), wage(12));
    }

    void objectsRoundTrip() {
        const char* objects[] = {
            R"({"family":"affine","bits":8,"rounding":"stochastic","granularity":"channel"})",
            R"({"family":"affine","bits":8,"range":"running","momentum":0.5})",
            R"({"family":"affine","bits":8,"zero_point":"integer"})",
            R"({"family":"dorefa","bits":8,"rounding":"stochastic","granularity":"sample"})",
            R"({"family":"ternary","threshold":0.5})",
            R"({"family":"terngrad","clip":2.5})",
            R"({"family":"pow2","bits":6,"rounding":"stochastic"})",
            R"({"family":"wage","bits":8,"granularity":"sample"})",
        };
        for (const char* o : objects) {
            const Quantizer q = quantizer_parse(json::parse(o), "q");
            QVERIFY2(q.text()[0] == '{', o); // no short string for these
            QCOMPARE(quantizer_parse(json::parse(q.text()), "q"), q);
            QCOMPARE(quantizer_parse(quantizer_to_json(q), "q"), q);
        }
        // The object form of a short-string quantizer prints as the short string.
        QCOMPARE(quantizer_parse(json::parse(R"({"family":"affine","bits":8,"rounding":"stochastic"})"), "q").text(),
                 std::string("affine8s"));
        QCOMPARE(quantizer_parse(json::parse(R"({"family":"ttq"})"), "q").text(), std::string("ttq"));
        const json canon = quantizer_to_json(quantizer_parse(json("affine8"), "q"));
        COMPARE_JSON(canon, json::parse(R"({"family":"affine","bits":8,"rounding":"nearest","granularity":"tensor",
                                        "range":"batch","momentum":0.9,"zero_point":"min"})"));
        COMPARE_JSON(quantizer_to_json(Quantizer{}), json::parse(R"({"family":"float"})"));
    }

    void rejectsBadStrings_data() {
        QTest::addColumn<QString>("text");
        for (const char* s : {"wage0", "wage17", "wage08", "pow1", "pow17", "affine8x", "affine0", "dorefa", "dorefa17",
                              "ternary2", "", "WAGE8", "wage", "signss", "float32", "affine8ss", "wage-8"})
            QTest::newRow(*s ? s : "empty") << QString::fromLatin1(s);
    }
    void rejectsBadStrings() {
        QFETCH(QString, text);
        const QString msg = errorOf([&] { quantizer_parse(json(text.toStdString()), "experiment.quant.W"); });
        QVERIFY2(msg.startsWith(QStringLiteral("experiment.quant.W: unknown quantizer")), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("\"") + text + QStringLiteral("\"")), qPrintable(msg));
        QVERIFY2(msg.contains(QStringLiteral("affineKs")), qPrintable(msg)); // says what is allowed
    }

    void rejectsBadObjects_data() {
        QTest::addColumn<QString>("object");
        QTest::addColumn<QString>("expected");
        QTest::newRow("key of another family") << R"({"family":"wage","bits":8,"momentum":0.5})" << "q.momentum: unknown key for family wage";
        QTest::newRow("typo") << R"({"family":"affine","bits":8,"rounding":"stochastic","granulariti":"channel"})" << "q.granulariti: unknown key";
        QTest::newRow("missing bits") << R"({"family":"wage"})" << "q.bits: missing required key";
        QTest::newRow("bits out of range") << R"({"family":"wage","bits":17})" << "q.bits: expected an integer in 1..16";
        QTest::newRow("ternary bits") << R"({"family":"ternary","bits":3})" << "q.bits: expected an integer in 2..2";
        QTest::newRow("unknown family") << R"({"family":"nope","bits":8})" << "q.family: unknown family \"nope\"; allowed: float, wage";
        QTest::newRow("no family") << R"({"bits":8})" << "q.family: missing required key";
        QTest::newRow("float takes nothing") << R"({"family":"float","bits":8})" << "q.bits: unknown key for family float";
        QTest::newRow("bad rounding") << R"({"family":"affine","bits":8,"rounding":"up"})" << "q.rounding: unknown value \"up\"; allowed: \"nearest\", \"stochastic\"";
        QTest::newRow("wage not stochastic") << R"({"family":"wage","bits":8,"rounding":"stochastic"})" << "q.rounding: stochastic is not available for family wage";
        QTest::newRow("terngrad stochastic") << R"({"family":"terngrad","rounding":"nearest"})" << "q.rounding: family terngrad is stochastic by definition";
        QTest::newRow("bad granularity") << R"({"family":"affine","bits":8,"granularity":"pixel"})" << "q.granularity: unknown value \"pixel\"";
        QTest::newRow("sign per channel") << R"({"family":"sign","granularity":"channel"})" << "q.granularity: only \"tensor\"";
        QTest::newRow("running per channel") << R"({"family":"affine","bits":8,"range":"running","granularity":"channel"})" << "q.range: a running range is per tensor";
        QTest::newRow("momentum") << R"({"family":"affine","bits":8,"momentum":1.5})" << "q.momentum: 1.5";
        QTest::newRow("threshold") << R"({"family":"ternary","threshold":1.5})" << "q.threshold: 1.5";
        QTest::newRow("negative clip") << R"({"family":"terngrad","clip":-1})" << "q.clip: -1";
        QTest::newRow("zero point") << R"({"family":"affine","bits":8,"zero_point":"max"})" << "q.zero_point: unknown value \"max\"";
        QTest::newRow("bits as string") << R"({"family":"wage","bits":"8"})" << "q.bits: expected an integer";
        QTest::newRow("a number") << "8" << "q: expected a quantizer string or object";
    }
    void rejectsBadObjects() {
        QFETCH(QString, object);
        QFETCH(QString, expected);
        const QString msg = errorOf([&] { quantizer_parse(json::parse(object.toStdString()), "q"); });
        QVERIFY2(msg.startsWith(expected), qPrintable(msg));
    }

    void configOverrides() {
        const json quant = json::parse(R"({"W": "ternary", "A": "affine8",
                                           "E": {"family": "affine", "bits": 8, "rounding": "stochastic"}})");
        const json layers = json::parse(R"({"conv1": {"W": "float"}, "fc2": {"E": "wage8", "A": "pow4"}})");
        const QuantConfig c = quant_config_parse(quant, &layers, "experiment");
        const Quantizer ternary = quantizer_parse(json("ternary"), "q"), affine8 = quantizer_parse(json("affine8"), "q"),
                        affine8s = quantizer_parse(json("affine8s"), "q");
        QCOMPARE(c.forOp("conv1", QuantClass::W), Quantizer{});
        QCOMPARE(c.forOp("conv1", QuantClass::A), affine8); // only the named classes change
        QCOMPARE(c.forOp("conv2", QuantClass::W), ternary);
        QCOMPARE(c.forOp("conv2", QuantClass::G), Quantizer{}); // unset = float
        QCOMPARE(c.forOp("conv2", QuantClass::E), affine8s);
        QCOMPARE(c.forOp("conv2", QuantClass::EGrad), affine8s); // E_grad = E unless set
        QCOMPARE(c.forOp("fc2", QuantClass::EGrad), wage(8));    // ... the op's own E
        QCOMPARE(c.forOp("fc2", QuantClass::A), quantizer_parse(json("pow4"), "q"));
        QCOMPARE(quant_config_parse(quant_config_to_json(c)["quant"], &quant_config_to_json(c)["layer_quant"], "x"), c);

        // Banner's bifurcation: E 8-bit stochastic, E_grad float; an op's E override keeps E_grad.
        const json banner = json::parse(R"({"W": "affine8", "A": "affine8", "E": "affine8s", "E_grad": "float"})");
        const json opE = json::parse(R"({"fc": {"E": "affine4s"}, "conv": {"E_grad": "wage16"}})");
        const QuantConfig b = quant_config_parse(banner, &opE, "");
        QCOMPARE(b.forOp("fc", QuantClass::E), quantizer_parse(json("affine4s"), "q"));
        QCOMPARE(b.forOp("fc", QuantClass::EGrad), Quantizer{});
        QCOMPARE(b.forOp("conv", QuantClass::EGrad), wage(16));
        QCOMPARE(b.forOp("conv", QuantClass::E), affine8s);
        COMPARE_JSON(quant_config_to_json(b)["quant"], banner);
        COMPARE_JSON(quant_config_to_json(quant_config_parse(json::object(), nullptr, "x")), json::parse(R"({"quant": {}})"));
    }

    void configErrors_data() {
        QTest::addColumn<QString>("quant");
        QTest::addColumn<QString>("layers");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown class") << R"({"X": "float"})" << "" << "experiment.quant.X: unknown class; allowed: W, A, G, E, E_grad";
        QTest::newRow("family for W only") << R"({"A": "ttq"})" << "" << "experiment.quant.A: family ttq does not serve class A; it serves W";
        QTest::newRow("terngrad on E") << R"({"E": "terngrad"})" << "" << "experiment.quant.E: family terngrad does not serve class E; it serves G";
        QTest::newRow("bad string") << R"({"W": "wage99"})" << "" << "experiment.quant.W: unknown quantizer \"wage99\"";
        QTest::newRow("not an object") << R"(["W"])" << "" << "experiment.quant: expected an object";
        QTest::newRow("layer not an object") << "{}" << R"({"conv1": "float"})" << "experiment.layer_quant.conv1: expected an object";
        QTest::newRow("layer bad class") << "{}" << R"({"conv1": {"B": "float"}})" << "experiment.layer_quant.conv1.B: unknown class";
        QTest::newRow("layer bad key") << "{}" << R"({"conv1": {"W": {"family": "wage", "bits": 8, "clip": 1}}})" << "experiment.layer_quant.conv1.W.clip: unknown key for family wage";
        QTest::newRow("layers not an object") << "{}" << R"(["conv1"])" << "experiment.layer_quant: expected an object";
    }
    void configErrors() {
        QFETCH(QString, quant);
        QFETCH(QString, layers);
        QFETCH(QString, expected);
        const json q = json::parse(quant.toStdString());
        const json l = layers.isEmpty() ? json() : json::parse(layers.toStdString());
        const QString msg = errorOf([&] { quant_config_parse(q, layers.isEmpty() ? nullptr : &l, "experiment"); });
        QVERIFY2(msg.startsWith(expected), qPrintable(msg));
    }

    // "bits": "2-8-f-8" with layer_bits {"conv1": "4-8-8-8"} as wage families (0 = float).
    void bitsShorthand() {
        QuantSpec spec;
        spec.base = quant_spec_parse("2-8-f-8");
        quant_spec_read_overrides(spec, json::parse(R"({"conv1": "4-8-8-8", "fc2": {"E": "f"}})"));
        const QuantConfig c = quant_config_from_bits(spec);
        QCOMPARE(c.forOp("x", QuantClass::W), wage(2));
        QCOMPARE(c.forOp("x", QuantClass::A), wage(8));
        QCOMPARE(c.forOp("x", QuantClass::G), Quantizer{});
        QCOMPARE(c.forOp("x", QuantClass::E), wage(8));
        QCOMPARE(c.forOp("x", QuantClass::EGrad), wage(8));
        QCOMPARE(c.forOp("conv1", QuantClass::W), wage(4));
        QCOMPARE(c.forOp("conv1", QuantClass::G), wage(8));
        QCOMPARE(c.forOp("fc2", QuantClass::E), Quantizer{});
        QCOMPARE(c.forOp("fc2", QuantClass::EGrad), Quantizer{});
        QCOMPARE(c.forOp("fc2", QuantClass::W), wage(2));
        QuantSpec plain;
        plain.base = quant_spec_parse("2888");
        COMPARE_JSON(quant_config_to_json(quant_config_from_bits(plain)),
                 json::parse(R"({"quant": {"W": "wage2", "A": "wage8", "G": "wage8", "E": "wage8"}})"));
        const QuantConfig back = quant_config_parse(quant_config_to_json(c)["quant"], &quant_config_to_json(c)["layer_quant"], "x");
        QCOMPARE(back, c);
    }

    void classNames() {
        QCOMPARE(std::string(quant_class_name(QuantClass::EGrad)), std::string("E_grad"));
        QCOMPARE(std::string(quant_class_name(QuantClass::G)), std::string("G"));
    }
};

QTEST_APPLESS_MAIN(TestQuantConfig)
#include "test_quant_config.moc"
