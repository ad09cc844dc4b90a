// Bitwidth patterns, fixed-point primitives, Philox draws and stochastic rounding.
#include "bitbench/error.h"
#include "bitbench/fixed_point.h"
#include "bitbench/philox.h"
#include "bitbench/quant_spec.h"

#include <nlohmann/json.hpp>

#include <QTest>

#include <cmath>

using namespace bitbench;

class TestQuant : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parsesPatterns_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("dashed");
        QTest::newRow("dashed") << "2-8-8-8" << "2-8-8-8";
        QTest::newRow("compact") << "2888" << "2-8-8-8";
        QTest::newRow("float G") << "28f8" << "2-8-f-8";
        QTest::newRow("C is 12") << "28C8" << "2-8-12-8";
        QTest::newRow("E is 12") << "288C" << "2-8-8-12";
        QTest::newRow("float G and E") << "28ff" << "2-8-f-f";
        QTest::newRow("lower-case hex") << "28c8" << "2-8-12-8";
        QTest::newRow("sixteen") << "16-16-16-16" << "16-16-16-16";
        QTest::newRow("dashed float") << "f-f-f-f" << "f-f-f-f";
        QTest::newRow("one bit") << "1-1-1-1" << "1-1-1-1";
    }
    void parsesPatterns() {
        QFETCH(QString, text);
        QFETCH(QString, dashed);
        QCOMPARE(QString::fromStdString(quant_spec_parse(text.toStdString()).dashed()), dashed);
    }

    void printsCompactForm() {
        QCOMPARE(quant_spec_parse("2-8-12-8").pattern(), std::string("28C8"));
        QCOMPARE(quant_spec_parse("2-8-f-8").pattern(), std::string("28f8"));
        QCOMPARE(quant_spec_parse("2-8-16-8").pattern(), std::string("2-8-16-8"));
    }

    void rejectsPatterns_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("reason");
        QTest::newRow("three fields") << "2-8-8" << "3 fields";
        QTest::newRow("junk suffix") << "2-8-8-9x" << "not a number";
        QTest::newRow("zero bits") << "0888" << "0 bits";
        QTest::newRow("too wide") << "2-8-8-33" << "out of range";
        QTest::newRow("seventeen") << "2-8-8-17" << "out of range";
        QTest::newRow("empty") << "" << "empty";
        QTest::newRow("five fields") << "2-8-8-8-8" << "more than four";
        QTest::newRow("empty field") << "2--8-8" << "empty";
        QTest::newRow("five chars") << "28888" << "exactly four";
        QTest::newRow("bad char") << "28G8" << "'G'";
        QTest::newRow("zero dashed") << "0-8-8-8" << "out of range";
    }
    void rejectsPatterns() {
        QFETCH(QString, text);
        QFETCH(QString, reason);
        try {
            quant_spec_parse(text.toStdString());
            QFAIL("accepted");
        } catch (const InputError& e) {
            const QString msg = QString::fromUtf8(e.what());
            QVERIFY2(msg.contains(QStringLiteral("'") + text + QStringLiteral("'")), qPrintable(msg));
            QVERIFY2(msg.contains(reason), qPrintable(msg));
            QVERIFY2(msg.contains(QStringLiteral("2-8-8-8")), qPrintable(msg)); // says what is allowed
        }
    }

    void layerOverrides() {
        QuantSpec s;
        s.base = quant_spec_parse("2888");
        quant_spec_read_overrides(s, nlohmann::json::parse(R"({"conv1": "4-8-8-8", "fc2": {"A": 6, "E": "f"}})"));
        QCOMPARE(s.forLayer("conv1").dashed(), std::string("4-8-8-8"));
        QCOMPARE(s.forLayer("fc2").dashed(), std::string("2-6-8-f"));
        QCOMPARE(s.forLayer("conv2").dashed(), std::string("2-8-8-8"));
        QVERIFY(!s.allInteger());
        QVERIFY_THROWS_EXCEPTION(InputError, quant_spec_read_overrides(s, nlohmann::json::parse(R"({"fc1": {"X": 3}})")));
        QVERIFY_THROWS_EXCEPTION(InputError, quant_spec_read_overrides(s, nlohmann::json::parse(R"({"fc1": {"A": 0}})")));
        QVERIFY_THROWS_EXCEPTION(InputError, quant_spec_read_overrides(s, nlohmann::json::parse(R"({"fc1": 5})")));
    }

    void shiftRoundsHalfToEven_data() {
        QTest::addColumn<qint64>("x");
        QTest::addColumn<int>("s");
        QTest::addColumn<qint64>("expected");
        QTest::newRow("0.5 -> 0") << qint64(1) << 1 << qint64(0);
        QTest::newRow("1.5 -> 2") << qint64(3) << 1 << qint64(2);
        QTest::newRow("2.5 -> 2") << qint64(5) << 1 << qint64(2);
        QTest::newRow("-0.5 -> 0") << qint64(-1) << 1 << qint64(0);
        QTest::newRow("-1.5 -> -2") << qint64(-3) << 1 << qint64(-2);
        QTest::newRow("-2.5 -> -2") << qint64(-5) << 1 << qint64(-2);
        QTest::newRow("1.25 -> 1") << qint64(5) << 2 << qint64(1);
        QTest::newRow("1.75 -> 2") << qint64(7) << 2 << qint64(2);
        QTest::newRow("-1.25 -> -1") << qint64(-5) << 2 << qint64(-1);
        QTest::newRow("-1.75 -> -2") << qint64(-7) << 2 << qint64(-2);
        QTest::newRow("ternary tie 32/64 -> 0") << qint64(32) << 6 << qint64(0);
        QTest::newRow("ternary 33/64 -> 1") << qint64(33) << 6 << qint64(1);
        QTest::newRow("ternary 96/64 -> 2") << qint64(96) << 6 << qint64(2);
        QTest::newRow("left shift") << qint64(-3) << -4 << qint64(-48);
        QTest::newRow("shift 0") << qint64(-7) << 0 << qint64(-7);
        QTest::newRow("huge shift") << qint64(123456) << 70 << qint64(0);
    }
    void shiftRoundsHalfToEven() {
        QFETCH(qint64, x);
        QFETCH(int, s);
        QFETCH(qint64, expected);
        QCOMPARE(qint64(fx_shift_rne(x, s)), expected);
    }

    void rationalRounding() {
        QCOMPARE(fx_div_rne(1, 2), int64_t(0));
        QCOMPARE(fx_div_rne(3, 2), int64_t(2));
        QCOMPARE(fx_div_rne(-3, 2), int64_t(-2));
        QCOMPARE(fx_div_rne(-1, 3), int64_t(0));
        QCOMPARE(fx_div_rne(-2, 3), int64_t(-1));
        QCOMPARE(fx_div_rne(255 * 128, 255), int64_t(128));
    }

    // Shift(m) = 2^round(log2 m): the boundary within [2^n, 2^(n+1)) is 2^n sqrt(2); the
    // thresholds below are ceil(sqrt(2^(2n+1))), computed exactly with integer square roots.
    void shiftAtSqrt2Boundary_data() {
        QTest::addColumn<quint64>("threshold");
        QTest::addColumn<int>("n");
        QTest::newRow("n=0") << quint64(2) << 0;
        QTest::newRow("n=1") << quint64(3) << 1;
        QTest::newRow("n=3") << quint64(12) << 3;
        QTest::newRow("n=10") << quint64(1449) << 10;
        QTest::newRow("n=20") << quint64(1482911) << 20;
        QTest::newRow("n=40") << quint64(1554944255988ull) << 40;
        QTest::newRow("n=62") << quint64(6521908912666391107ull) << 62;
    }
    void shiftAtSqrt2Boundary() {
        QFETCH(quint64, threshold);
        QFETCH(int, n);
        if (n > 0 || threshold > 2) QCOMPARE(fx_shift_exponent(threshold - 1), n);
        QCOMPARE(fx_shift_exponent(threshold), n + 1);
        QCOMPARE(fx_shift_exponent(quint64(1) << n), n);
    }

    void clipAndMaxCode() {
        QCOMPARE(fx_max_code(2), int64_t(1));
        QCOMPARE(fx_max_code(8), int64_t(127));
        QCOMPARE(fx_max_code(16), int64_t(32767));
        QCOMPARE(fx_clip(200, 127), int64_t(127));
        QCOMPARE(fx_clip(-200, 127), int64_t(-127));
        QCOMPARE(fx_clip(-5, 127), int64_t(-5));
    }

    // Known-answer vectors of Philox4x32-10 from the Random123 distribution.
    void philoxKnownAnswers() {
        QCOMPARE(philox4x32_10({0, 0, 0, 0}, {0, 0}), (PhiloxBlock{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
        QCOMPARE(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
                 (PhiloxBlock{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
        QCOMPARE(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
                 (PhiloxBlock{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
    }

    void drawsArePureFunctions() {
        const Random a(42), b(42), c(43);
        QCOMPARE(a.word(RandomPurpose::StochasticRound, 7, 2, 1001), b.word(RandomPurpose::StochasticRound, 7, 2, 1001));
        QVERIFY(a.word(RandomPurpose::StochasticRound, 7, 2, 1001) != c.word(RandomPurpose::StochasticRound, 7, 2, 1001));
        QVERIFY(a.word(RandomPurpose::StochasticRound, 7, 2, 1001) != a.word(RandomPurpose::Init, 7, 2, 1001));
        QVERIFY(a.word(RandomPurpose::StochasticRound, 7, 2, 1001) != a.word(RandomPurpose::StochasticRound, 8, 2, 1001));
        QVERIFY(a.word(RandomPurpose::StochasticRound, 7, 2, 1001) != a.word(RandomPurpose::StochasticRound, 7, 3, 1001));
        for (uint32_t n : {1u, 2u, 7u, 60000u})
            for (uint64_t i = 0; i < 1000; ++i) QVERIFY(a.below(RandomPurpose::Shuffle, 0, 0, i, n) < n);
    }

    // Stochastic rounding as Q_G does it: n = floor(v) + [15 random bits < fraction bits].
    void stochasticRoundingIsUnbiasedAndReproducible() {
        const Random rng(2024);
        for (int64_t v15 : {int64_t(42598), int64_t(1), int64_t(32767), int64_t(3 * 32768 + 16384)}) {
            const int kDraws = 200000;
            int64_t sum = 0, sum2 = 0;
            for (int i = 0; i < kDraws; ++i) {
                const uint32_t draw = rng.word(RandomPurpose::StochasticRound, 0, 0, uint64_t(i)) >> 17;
                const int64_t n = (v15 >> 15) + (draw < uint32_t(v15 & 0x7FFF) ? 1 : 0);
                sum += n;
                sum2 += n * n;
            }
            const double mean = double(sum) / kDraws;
            const double exact = double(v15) / 32768.0;
            const double p = exact - std::floor(exact);
            const double sd = std::sqrt(p * (1 - p) / kDraws);
            QVERIFY2(std::abs(mean - exact) <= 5 * sd + 1e-12,
                     qPrintable(QStringLiteral("mean %1 expected %2").arg(mean).arg(exact)));
            // Reproducible: the same draws again give the same sum.
            int64_t again = 0;
            for (int i = 0; i < kDraws; ++i)
                again += (v15 >> 15) + ((rng.word(RandomPurpose::StochasticRound, 0, 0, uint64_t(i)) >> 17) < uint32_t(v15 & 0x7FFF) ? 1 : 0);
            QCOMPARE(again, sum);
        }
    }
};

QTEST_APPLESS_MAIN(TestQuant)
#include "test_quant.moc"
