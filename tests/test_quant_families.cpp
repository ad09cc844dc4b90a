// Quantizer families: exact values worked out by hand, ties, clipping, groups, draws, codes, backward.
#include "bitbench/error.h"
#include "bitbench/fixed_point.h"
#include "bitbench/philox.h"
#include "bitbench/quant.h"

#include <nlohmann/json.hpp>

#include <QTest>

#include <cmath>
#include <vector>

using namespace bitbench;

namespace {

Quantizer parse(const char* text) { return quantizer_parse(nlohmann::json::parse(text), "test"); }
Quantizer shortQ(const char* s) { return quantizer_parse(nlohmann::json(s), "test"); }

struct Run {
    QuantPlan plan;
    std::vector<float> out;
    std::vector<int32_t> codes;
};

// Observe then apply (and applyCodes where the family has codes) on a rows x cols view.
Run run(const Quantizer& q, QuantClass cls, const std::vector<float>& x, int64_t rows = 1, int64_t cols = -1,
        GroupAxis axis = GroupAxis::None, const QuantDraws& d = {}, const QuantObserveArgs& args = {}) {
    if (cols < 0) cols = int64_t(x.size()) / rows;
    const TensorView v{x.data(), rows, cols, axis};
    Run r;
    quant_observe(q, cls, v, args, r.plan);
    r.out.assign(x.size(), -99.0f);
    quant_apply(q, v, r.plan, d, r.out.data());
    if (quant_family(q.family).integerCodes && !(q.family == QuantFamily::Wage && cls == QuantClass::G)) {
        r.codes.assign(x.size(), -999);
        quant_apply_codes(q, v, r.plan, d, r.codes.data());
    }
    return r;
}

std::vector<float> backward(const Quantizer& q, const Run& r, const std::vector<float>& x, std::vector<float> dq,
                            QuantParamGrads* grads = nullptr, int64_t rows = 1, GroupAxis axis = GroupAxis::None) {
    const TensorView v{x.data(), rows, int64_t(x.size()) / rows, axis};
    std::vector<float> dx(x.size());
    quant_backward(q, v, r.plan, dq.data(), dx.data(), grads);
    return dx;
}

void compareFloats(const std::vector<float>& got, const std::vector<float>& want) {
    QCOMPARE(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i])
            QFAIL(qPrintable(QStringLiteral("element %1: got %2, expected %3").arg(i).arg(double(got[i]), 0, 'g', 10).arg(double(want[i]), 0, 'g', 10)));
}

// Mean of N equal draws is within 6 standard deviations of x: a two-valued rounding with
// P(up) = f has variance f (1 - f) step^2 <= step^2 / 4, so the bound is 3 step / sqrt(N).
bool meanWithin(const std::vector<float>& out, size_t from, double x, double step) {
    double sum = 0;
    for (size_t i = from; i < out.size(); ++i) sum += out[i];
    const double n = double(out.size() - from);
    return std::fabs(sum / n - x) <= 3.0 * step / std::sqrt(n);
}

} // namespace

class TestQuantFamilies : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void registryRows() {
        const auto& fams = quant_families();
        for (size_t i = 0; i < fams.size(); ++i) {
            QCOMPARE(size_t(fams[i].family), i);
            QCOMPARE(&quant_family(QuantFamily(i)), &fams[i]);
            QCOMPARE(fams[i].integerCodes, fams[i].applyCodes != nullptr);
            QVERIFY(!fams[i].stochasticRequired || fams[i].stochasticAllowed);
            QVERIFY(fams[i].observe && fams[i].apply && fams[i].backward);
        }
        QCOMPARE(std::string(quant_family(QuantFamily::TernaryLearned).name), std::string("ttq"));
        QCOMPARE(uint32_t(RandomPurpose::QuantNoise), 5u); // stable: part of every stored draw
        QCOMPARE(uint32_t(RandomPurpose::TernGrad), 6u);
        QCOMPARE(uint32_t(RandomPurpose::StochasticSign), 7u);
        QCOMPARE(quant_family(QuantFamily::Affine).purpose, RandomPurpose::QuantNoise);
        QCOMPARE(quant_family(QuantFamily::Terngrad).purpose, RandomPurpose::TernGrad);
        QCOMPARE(quant_family(QuantFamily::Sign).purpose, RandomPurpose::StochasticSign);
        QCOMPARE(quant_family(QuantFamily::Ternary).cost, QuantCost::AddSubtract);
        QCOMPARE(quant_family(QuantFamily::Wage).cost, QuantCost::Multiply);
        QCOMPARE(quant_family(QuantFamily::Float).cost, QuantCost::Float);
        QVERIFY(!quant_family(QuantFamily::Float).integerCodes);
        QVERIFY(quant_family(QuantFamily::TernaryLearned).serves(QuantClass::W));
        QVERIFY(!quant_family(QuantFamily::TernaryLearned).serves(QuantClass::A));
        QVERIFY(quant_family(QuantFamily::Terngrad).serves(QuantClass::G));
        QVERIFY(!quant_family(QuantFamily::Terngrad).serves(QuantClass::E));
        QVERIFY(quant_family(QuantFamily::Dorefa).serves(QuantClass::EGrad));
    }

    void checkedEntryPoints() {
        const std::vector<float> x{1, 2, 3, 4};
        QVERIFY_THROWS_EXCEPTION(InputError, run(shortQ("ttq"), QuantClass::A, x));
        QVERIFY_THROWS_EXCEPTION(InputError, run(shortQ("affine8s"), QuantClass::A, x)); // no random stream
        QVERIFY_THROWS_EXCEPTION(InputError, run(shortQ("wage8"), QuantClass::E, x, 2, 2, GroupAxis::Rows));
        QVERIFY_THROWS_EXCEPTION(InputError, run(parse(R"({"family":"wage","bits":8,"granularity":"sample"})"), QuantClass::E, x));
        QVERIFY_THROWS_EXCEPTION(InputError, run(parse(R"({"family":"affine","bits":8,"range":"running"})"), QuantClass::A, x));
        QVERIFY_THROWS_EXCEPTION(InputError, run(shortQ("float"), QuantClass::W, {}));
        Run r = run(shortQ("wage8"), QuantClass::G, x);
        std::vector<int32_t> codes(4);
        QVERIFY_THROWS_EXCEPTION(InputError, quant_apply_codes(shortQ("wage8"), {x.data(), 1, 4}, r.plan, {}, codes.data()));
        std::vector<float> out(4);
        QVERIFY_THROWS_EXCEPTION(InputError, quant_apply(shortQ("pow8"), {x.data(), 1, 4}, r.plan, {}, out.data()));
    }

    void floatIsIdentity() {
        const std::vector<float> x{1.5f, -0.0f, 3e-39f, -7e30f};
        Run r = run(shortQ("f"), QuantClass::E, x);
        compareFloats(r.out, x);
        compareFloats(backward(shortQ("float"), r, x, {1, 2, 3, 4}), {1, 2, 3, 4});
    }

    // k = 8: sigma = 1/128, C clips to +-127/128; ties go to the even code.
    void wageWeightsAndActivations() {
        const std::vector<float> x{0.5f / 128, 1.5f / 128, 2.5f / 128, -0.5f / 128, -1.5f / 128, 1.0f, -3.0f, 0.3f, 127.0f / 128};
        Run r = run(shortQ("wage8"), QuantClass::A, x);
        const std::vector<int32_t> codes{0, 2, 2, 0, -2, 127, -127, 38, 127};
        QCOMPARE(r.codes, codes);
        std::vector<float> want;
        for (int32_t c : codes) want.push_back(float(c) / 128.0f);
        compareFloats(r.out, want);
        // A keeps the clip mask 1[-127/128 <= x <= 127/128]; W passes everything.
        const std::vector<float> ones(x.size(), 1.0f);
        compareFloats(backward(shortQ("wage8"), r, x, ones), {1, 1, 1, 1, 1, 0, 0, 1, 1});
        Run w = run(shortQ("wage8"), QuantClass::W, x);
        compareFloats(w.out, want);
        compareFloats(backward(shortQ("wage8"), w, x, ones), ones);
        // k = 2 is ternary {-0.5, 0, 0.5}: 0.25 is a tie to 0, 0.26 goes to 0.5.
        compareFloats(run(shortQ("wage2"), QuantClass::W, {0.25f, 0.26f, 0.75f, -0.25f, -0.3f}).out, {0, 0.5f, 0.5f, 0, -0.5f});
    }

    // Q_E: e / Shift(max|e|); max 3 gives Shift 4 (log2 3 = 1.58 rounds to 2).
    void wageErrors() {
        Run r = run(shortQ("wage8"), QuantClass::E, {3.0f, -1.5f, 0.75f, 0.1f});
        QCOMPARE(r.plan.groups[0].exponent, 2);
        QCOMPARE(r.codes, (std::vector<int32_t>{96, -48, 24, 3}));
        compareFloats(r.out, {0.75f, -0.375f, 0.1875f, 3.0f / 128});
        // The sqrt(2) boundary: just below gives Shift 1, just above Shift 2.
        QCOMPARE(run(shortQ("wage8"), QuantClass::E, {1.4142135f}).plan.groups[0].exponent, 0);
        QCOMPARE(run(shortQ("wage8"), QuantClass::E, {1.4142137f}).plan.groups[0].exponent, 1);
        // All zero: zeros, never NaN; the same for G.
        compareFloats(run(shortQ("wage8"), QuantClass::E, {0, 0, 0}).out, {0, 0, 0});
        compareFloats(run(shortQ("wage8"), QuantClass::G, {0, 0}).out, {0, 0});
        // G is the scaling only: max 6 gives Shift 8.
        compareFloats(run(shortQ("wage8"), QuantClass::G, {3.0f, -6.0f, 0.01f}).out, {0.375f, -0.75f, 0.01f / 8});
    }

    // The exponent is fixed_point.h's exact integer Shift, at every integer and scaled by 2^-20.
    void wageShiftAgreesWithFixedPoint() {
        for (uint64_t m = 1; m <= 5000; ++m) {
            const int32_t want = fx_shift_exponent(m);
            QCOMPARE(run(shortQ("wage8"), QuantClass::E, {-float(m), 0.5f}).plan.groups[0].exponent, want);
            QCOMPARE(run(shortQ("wage8"), QuantClass::G, {std::ldexp(float(m), -20)}).plan.groups[0].exponent, want - 20);
        }
    }

    // Codes equal the integer engine's formulas (core/doc/wage.md): Q_E clip(rne(e 2^(k-1) / 2^p)),
    // Q_A clip(rne(acc / 2^s)) for x = acc 2^-(s + k - 1).
    void wageCodesAgreeWithIntegerEngine() {
        std::vector<float> e;
        std::vector<int64_t> ei;
        for (int64_t i = -700; i <= 700; i += 3) ei.push_back(i * 7 % 1001);
        for (int64_t v : ei) e.push_back(float(v));
        for (int32_t k : {2, 4, 8, 12}) {
            Run r = run(Quantizer{QuantFamily::Wage, k}, QuantClass::E, e);
            int64_t m = 0;
            for (int64_t v : ei) m = std::max(m, std::abs(v));
            const int32_t p = fx_shift_exponent(uint64_t(m));
            for (size_t i = 0; i < ei.size(); ++i)
                QCOMPARE(int64_t(r.codes[i]), fx_clip(fx_shift_rne(ei[i] * (int64_t(1) << (k - 1)), p), fx_max_code(k)));
        }
        std::vector<float> a;
        for (int64_t acc = -5000; acc <= 5000; ++acc) a.push_back(std::ldexp(float(acc), -(4 + 7)));
        Run r = run(shortQ("wage8"), QuantClass::A, a);
        for (int64_t acc = -5000; acc <= 5000; ++acc)
            QCOMPARE(int64_t(r.codes[size_t(acc + 5000)]), fx_clip(fx_shift_rne(acc, 4), 127));
    }

    void wageGroups() {
        const std::vector<float> x{3.0f, 0.5f, 1.0f, 0.25f};
        const Quantizer perSample = parse(R"({"family":"wage","bits":8,"granularity":"sample"})");
        Run rows = run(perSample, QuantClass::E, x, 2, 2, GroupAxis::Rows);
        QCOMPARE(rows.plan.groups.size(), size_t(2));
        compareFloats(rows.out, {0.75f, 0.125f, 127.0f / 128, 0.25f}); // Shift 4, then Shift 1
        const Quantizer perChannel = parse(R"({"family":"wage","bits":8,"granularity":"channel"})");
        Run cols = run(perChannel, QuantClass::E, x, 2, 2, GroupAxis::Cols);
        compareFloats(cols.out, {0.75f, 127.0f / 128, 0.25f, 0.5f}); // Shift 4, then Shift 1/2
    }

    // f = (k-1) - ceil(log2 max|t|); codes clip to [-2^(k-1), 2^(k-1) - 1].
    void pow2Values() {
        Run r = run(shortQ("pow8"), QuantClass::A, {1.0f, -0.3f, 0.004f, -1.0f, 1.0f / 256, 1.5f / 128});
        QCOMPARE(r.plan.groups[0].exponent, 7);
        QCOMPARE(r.codes, (std::vector<int32_t>{127, -38, 1, -128, 0, 2}));
        compareFloats(r.out, {127.0f / 128, -38.0f / 128, 1.0f / 128, -1.0f, 0, 2.0f / 128});
        QCOMPARE(run(shortQ("pow8"), QuantClass::W, {3.0f, -3.0f}).plan.groups[0].exponent, 5);
        QCOMPARE(run(shortQ("pow8"), QuantClass::W, {3.0f, -3.0f}).codes, (std::vector<int32_t>{96, -96}));
        QCOMPARE(run(shortQ("pow8"), QuantClass::W, {0.75f}).plan.groups[0].exponent, 7);
        compareFloats(run(shortQ("pow4"), QuantClass::W, {0, 0}).out, {0, 0});
        const Quantizer perRow = parse(R"({"family":"pow2","bits":4,"granularity":"channel"})");
        Run g = run(perRow, QuantClass::W, {1.0f, 0.5f, 0.1f, 0.05f}, 2, 2, GroupAxis::Rows);
        compareFloats(g.out, {7.0f / 8, 0.5f, 6.0f / 64, 3.0f / 64});
        compareFloats(backward(perRow, g, {1.0f, 0.5f, 0.1f, 0.05f}, {1, 2, 3, 4}, nullptr, 2, GroupAxis::Rows), {1, 2, 3, 4});
    }

    void affineBanner() {
        // min -1, max 2, 2 bits: scale 1; 1.5 is a tie and goes to the even code 2.
        Run r = run(shortQ("affine2"), QuantClass::A, {-1.0f, 0.0f, 0.5f, 2.0f});
        QCOMPARE(r.codes, (std::vector<int32_t>{0, 1, 2, 3}));
        compareFloats(r.out, {-1.0f, 0.0f, 1.0f, 2.0f});
        QCOMPARE(r.plan.groups[0].offset, -1.0f);
        Run t = run(shortQ("affine4"), QuantClass::W, {0.0f, 15.0f, 7.5f, 8.5f, 9.49f});
        QCOMPARE(t.codes, (std::vector<int32_t>{0, 15, 8, 8, 9}));
        // A constant tensor is reproduced (scale floors at 1e-8), an all-zero one stays zero.
        compareFloats(run(shortQ("affine8"), QuantClass::E, {0.3f, 0.3f}).out, {0.3f, 0.3f});
        compareFloats(run(shortQ("affine8"), QuantClass::E, {0, 0}).out, {0, 0});
        // Straight-through, no mask.
        compareFloats(backward(shortQ("affine2"), r, {-1.0f, 0.0f, 0.5f, 2.0f}, {1, 2, 3, 4}), {1, 2, 3, 4});
        // Per channel (columns): [0, 3] and [10, 20].
        const Quantizer perChannel = parse(R"({"family":"affine","bits":2,"granularity":"channel"})");
        Run c = run(perChannel, QuantClass::A, {0.0f, 10.0f, 3.0f, 20.0f}, 2, 2, GroupAxis::Cols);
        QCOMPARE(c.codes, (std::vector<int32_t>{0, 0, 3, 3}));
        QCOMPARE(c.out[0], 0.0f);
        QCOMPARE(c.out[2], 3.0f);
        QCOMPARE(c.out[1], 10.0f);
    }

    void affineIntegerZeroPoint() {
        const Quantizer q = parse(R"({"family":"affine","bits":2,"zero_point":"integer"})");
        Run r = run(q, QuantClass::A, {-1.0f, 2.0f, 0.0f});
        QCOMPARE(r.plan.groups[0].zero, 1);
        QCOMPARE(r.codes, (std::vector<int32_t>{0, 3, 1}));
        compareFloats(r.out, {-1.0f, 2.0f, 0.0f});
        // A range without 0 is widened to contain it: [1, 3] becomes [0, 3].
        Run p = run(q, QuantClass::A, {1.0f, 3.0f});
        QCOMPARE(p.plan.groups[0].zero, 0);
        compareFloats(p.out, {1.0f, 3.0f});
        // Zero is exactly a code for every range; u8 codes at 8 bits.
        const Quantizer q8 = parse(R"({"family":"affine","bits":8,"zero_point":"integer"})");
        for (float lo : {-0.3f, -1.7f, -5e-3f, 0.25f}) {
            Run z = run(q8, QuantClass::A, {lo, 0.0f, 1.0f, -0.0f, 0.77f});
            QCOMPARE(z.out[1], 0.0f);
            QVERIFY(z.plan.groups[0].zero >= 0 && z.plan.groups[0].zero <= 255);
            for (int32_t c : z.codes) QVERIFY(c >= 0 && c <= 255);
        }
    }

    // Banner's activation range: per-sample min/max averaged over samples, running 0.1 r + 0.9 new.
    void affineRunningRange() {
        const Quantizer q = parse(R"({"family":"affine","bits":2,"range":"running"})");
        const std::vector<float> x{0.0f, 2.0f, -2.0f, 4.0f}; // samples [0, 2] and [-2, 4]
        QuantRunning state;
        QuantObserveArgs train{true, &state, nullptr};
        Run r = run(q, QuantClass::A, x, 2, 2, GroupAxis::None, {}, train);
        QCOMPARE(r.plan.groups[0].offset, -1.0f); // mean of mins (0 - 2) / 2
        QCOMPARE(r.plan.groups[0].scale, 4.0f / 3.0f);
        QVERIFY(std::fabs(state.lo + 0.9) < 1e-6 && std::fabs(state.hi - 2.7) < 1e-6);
        run(q, QuantClass::A, x, 2, 2, GroupAxis::None, {}, train);
        QVERIFY(std::fabs(state.lo + 0.99) < 1e-6 && std::fabs(state.hi - 2.97) < 1e-6);
        const QuantRunning kept = state;
        QuantObserveArgs eval{false, &state, nullptr};
        Run e = run(q, QuantClass::A, x, 2, 2, GroupAxis::None, {}, eval);
        QCOMPARE(e.plan.groups[0].offset, kept.lo);
        QCOMPARE(state, kept);
        const Quantizer m5 = parse(R"({"family":"affine","bits":2,"range":"running","momentum":0.5})");
        QuantRunning s2;
        run(m5, QuantClass::A, x, 2, 2, GroupAxis::None, {}, {true, &s2, nullptr});
        QCOMPARE(s2.lo, -0.5f);
        QCOMPARE(s2.hi, 1.5f);
    }

    // Element i rounds up iff 7.3 + (word_i 2^-32 - 0.5) > 7.5; the mean is unbiased.
    void affineStochastic() {
        const Random rng(20261202);
        const size_t n = 40000;
        std::vector<float> x(n, 7.3f);
        x[0] = 0.0f, x[1] = 15.0f; // scale 1
        const QuantDraws d{&rng, 11, 3};
        Run r = run(shortQ("affine4s"), QuantClass::E, x, 1, -1, GroupAxis::None, d);
        for (size_t i = 2; i < 200; ++i) {
            const double u = double(rng.word(RandomPurpose::QuantNoise, 11, 3, i)) * 0x1p-32;
            QCOMPARE(r.codes[i], double(7.3f) + (u - 0.5) > 7.5 ? 8 : 7);
        }
        // Every element (the draws are made 16 Philox blocks at a time, in parallel chunks of 4096
        // elements): its own word of the stream.
        size_t wrong = 0;
        for (size_t i = 2; i < n; ++i) {
            const double u = double(rng.word(RandomPurpose::QuantNoise, 11, 3, i)) * 0x1p-32;
            wrong += r.codes[i] != (double(7.3f) + (u - 0.5) > 7.5 ? 8 : 7);
        }
        QCOMPARE(wrong, size_t(0));
        QVERIFY(meanWithin(r.out, 2, double(7.3f), 1.0));
        QCOMPARE(r.codes[0], 0); // clamped before rounding: noise never leaves [0, 15]
        QCOMPARE(r.codes[1], 15);
        QCOMPARE(run(shortQ("affine4s"), QuantClass::E, x, 1, -1, GroupAxis::None, d).out, r.out);
        QVERIFY(run(shortQ("affine4s"), QuantClass::E, x, 1, -1, GroupAxis::None, {&rng, 12, 3}).out != r.out);
        QVERIFY(run(shortQ("affine4s"), QuantClass::E, x, 1, -1, GroupAxis::None, {&rng, 11, 4}).out != r.out);
    }

    void affineRangeOverChunks() {
        // Longer than one parallel chunk (4096 elements): the range is the sequential fold's, the
        // first least and greatest elements in index order, NaNs skipped, -0 and +0 equal.
        std::vector<float> x(3 * 4096 + 5, 1.0f);
        x[4096] = std::nanf(""); // a NaN opening the second chunk must not hide that chunk's values
        x[4097] = -3.0f;
        x[2 * 4096 + 7] = 5.0f;
        Run r = run(shortQ("affine8"), QuantClass::E, x);
        QCOMPARE(r.plan.groups[0].offset, -3.0f);
        QCOMPARE(r.plan.groups[0].stat, 8.0);
        // Signed zeros as least values: the first one wins.
        std::vector<float> z(2 * 4096 + 1, 1.0f);
        z[10] = 0.0f, z[4096] = -0.0f, z[5000] = -0.0f;
        QVERIFY(!std::signbit(run(shortQ("affine8"), QuantClass::E, z).plan.groups[0].offset));
        z[10] = -0.0f, z[4096] = 0.0f;
        QVERIFY(std::signbit(run(shortQ("affine8"), QuantClass::E, z).plan.groups[0].offset));
    }

    void pow2Stochastic() {
        const Random rng(7);
        std::vector<float> x(40001, 0.3f / 8);
        x[0] = 1.0f; // f = 3: 0.3/8 * 8 = 0.3 of a step
        Run r = run(parse(R"({"family":"pow2","bits":4,"rounding":"stochastic"})"), QuantClass::W, x, 1, -1,
                    GroupAxis::None, {&rng, 0, 0});
        QVERIFY(meanWithin(r.out, 1, double(0.3f / 8), 1.0 / 8));
    }

    void signValues() {
        const std::vector<float> x{-2.0f, -0.0f, 0.0f, 0.5f, 3.0f, -1e-30f, 1.0f, -1.0001f};
        Run r = run(shortQ("sign"), QuantClass::A, x);
        compareFloats(r.out, {-1, 1, 1, 1, 1, -1, 1, -1});
        QCOMPARE(r.codes, (std::vector<int32_t>{-1, 1, 1, 1, 1, -1, 1, -1}));
        const std::vector<float> ones(x.size(), 1.0f);
        compareFloats(backward(shortQ("sign"), r, x, ones), {0, 1, 1, 1, 0, 1, 1, 0}); // BNN: 1[|x| <= 1]
        Run w = run(shortQ("sign"), QuantClass::W, x);
        compareFloats(backward(shortQ("sign"), w, x, ones), ones); // BC: straight-through
        // Stochastic: +1 with probability clip((x + 1) / 2, 0, 1).
        const Random rng(99);
        std::vector<float> s(40000, 0.5f);
        s[0] = 1.0f, s[1] = -1.0f, s[2] = 7.0f, s[3] = -7.0f;
        Run st = run(shortQ("signs"), QuantClass::W, s, 1, -1, GroupAxis::None, {&rng, 5, 2});
        compareFloats({st.out[2], st.out[3]}, {1, -1});
        QCOMPARE(st.out[1], -1.0f); // p = 0: u < 0 never
        for (size_t i = 4; i < 100; ++i)
            QCOMPARE(st.out[i], double(rng.word(RandomPurpose::StochasticSign, 5, 2, i)) * 0x1p-32 < 0.75 ? 1.0f : -1.0f);
        QVERIFY(meanWithin(st.out, 4, 0.5, 2.0));
    }

    // Delta = 0.7 mean|W|; alpha = mean|W| over the support.
    void ternaryTwn() {
        const std::vector<float> w{0.1f, -0.9f, 0.5f, -0.3f, 0.0f, 1.5f};
        Run r = run(shortQ("ternary"), QuantClass::W, w);
        QVERIFY(std::fabs(r.plan.groups[0].threshold - 0.385) < 1e-7); // 0.7 * 3.3 / 6
        const float alpha = float((double(0.9f) + double(0.5f) + double(1.5f)) / 3.0);
        compareFloats(r.out, {0, -alpha, alpha, 0, 0, alpha});
        QCOMPARE(r.codes, (std::vector<int32_t>{0, -1, 1, 0, 0, 1}));
        compareFloats(backward(shortQ("ternary"), r, w, {1, 2, 3, 4, 5, 6}), {1, 2, 3, 4, 5, 6});
        // Strict comparisons at the threshold: mean 1, Delta 0.5, +-0.5 are not in the support.
        Run b = run(parse(R"({"family":"ternary","threshold":0.5})"), QuantClass::W, {2.0f, -1.0f, 0.5f, -0.5f});
        compareFloats(b.out, {1.5f, -1.5f, 0, 0});
        compareFloats(run(shortQ("ternary"), QuantClass::W, {0, 0, 0}).out, {0, 0, 0});
        const Quantizer perRow = parse(R"({"family":"ternary","granularity":"channel"})");
        Run g = run(perRow, QuantClass::W, {1.0f, -1.0f, 0.1f, 0.0f, 4.0f, 0.0f, 0.0f, 0.0f}, 2, 4, GroupAxis::Rows);
        compareFloats(g.out, {1, -1, 0, 0, 4, 0, 0, 0});
    }

    // Delta = 0.05 max|W|; +Wp, -Wn; latent gradient Wp g, g, Wn g; dWp = sum g, dWn = -sum g.
    void ttqForwardBackward() {
        const std::vector<float> w{1.0f, -0.5f, 0.04f, -0.06f, 0.05f, 2.0f};
        const float learned[2] = {1.5f, 0.25f};
        Run r = run(shortQ("ttq"), QuantClass::W, w, 1, -1, GroupAxis::None, {}, {true, nullptr, learned});
        compareFloats(r.out, {1.5f, -0.25f, 0, 0, 0, 1.5f});
        QCOMPARE(r.codes, (std::vector<int32_t>{1, -1, 0, 0, 0, 1}));
        QuantParamGrads grads;
        compareFloats(backward(shortQ("ttq"), r, w, {1, 2, 3, 4, 5, 6}, &grads), {1.5f, 0.5f, 3, 4, 5, 9});
        QCOMPARE(grads.pos, std::vector<double>{7.0});
        QCOMPARE(grads.neg, std::vector<double>{-2.0});
        QCOMPARE(run(shortQ("ttq"), QuantClass::W, w).out[1], -1.0f); // Wp = Wn = 1 by default
    }

    // L = sum c_i q_i(Wp, Wn): dL/dWp and dL/dWn against central differences, per group.
    void ttqScaleGradientsMatchFiniteDifferences() {
        std::vector<float> w, c;
        for (int i = 0; i < 24; ++i) {
            w.push_back(float(std::sin(1.7 * i + 0.3)));
            c.push_back(float(std::cos(0.9 * i)));
        }
        const Quantizer q = parse(R"({"family":"ttq","granularity":"channel"})");
        const float learned[4] = {0.8f, 1.3f, 2.0f, 0.5f};
        auto loss = [&](const float* l) {
            Run r = run(q, QuantClass::W, w, 2, 12, GroupAxis::Rows, {}, {true, nullptr, l});
            double s = 0;
            for (size_t i = 0; i < w.size(); ++i) s += double(c[i]) * r.out[i];
            return s;
        };
        Run r = run(q, QuantClass::W, w, 2, 12, GroupAxis::Rows, {}, {true, nullptr, learned});
        QuantParamGrads grads;
        backward(q, r, w, c, &grads, 2, GroupAxis::Rows);
        for (size_t k = 0; k < 4; ++k) {
            float up[4], down[4];
            std::copy(learned, learned + 4, up);
            std::copy(learned, learned + 4, down);
            up[k] += 0.125f, down[k] -= 0.125f; // the loss is linear in the scales
            const double fd = (loss(up) - loss(down)) / (double(up[k]) - double(down[k]));
            const double an = k % 2 == 0 ? grads.pos[k / 2] : grads.neg[k / 2];
            QVERIFY2(std::fabs(fd - an) < 1e-5, qPrintable(QStringLiteral("scale %1: fd %2 analytic %3").arg(k).arg(fd).arg(an)));
        }
    }

    void dorefaActivationsAndWeights() {
        // A, k = 2 (n = 3): clip to [0, 1], rne(3 x) / 3; 1.5 is a tie to 2.
        const std::vector<float> a{-0.5f, 0.5f, 1.2f, 0.9f, 0.25f, 0.0f, 1.0f};
        Run r = run(shortQ("dorefa2"), QuantClass::A, a);
        QCOMPARE(r.codes, (std::vector<int32_t>{0, 2, 3, 3, 1, 0, 3}));
        compareFloats(r.out, {0, float(2.0 / 3), 1, 1, float(1.0 / 3), 0, 1});
        compareFloats(backward(shortQ("dorefa2"), r, a, std::vector<float>(7, 1.0f)), {0, 1, 0, 1, 1, 1, 1});
        // W, k = 1: sign(W) mean|W|, W = 0 gives +E.
        compareFloats(run(shortQ("dorefa1"), QuantClass::W, {0.5f, -1.5f, 0.0f, 1.0f}).out, {0.75f, -0.75f, 0.75f, 0.75f});
        // W, k = 2: tanh(0.2) / (2 tanh 1) + 0.5 = 0.6296, 3 * that = 1.889 -> 2 -> code 1.
        Run w = run(shortQ("dorefa2"), QuantClass::W, {1.0f, -1.0f, 0.2f});
        QCOMPARE(w.codes, (std::vector<int32_t>{3, -3, 1}));
        compareFloats(w.out, {1, -1, float(1.0 / 3)});
        // All-zero W: M = 0 is replaced by 1 (no NaN); 0 maps to the tie 1.5 -> 2 -> +1/3.
        compareFloats(run(shortQ("dorefa2"), QuantClass::W, {0, 0}).out, {float(1.0 / 3), float(1.0 / 3)});
    }

    // The backward of W_q ~ tanh(W) / max|tanh W| against central differences (unique maximum).
    void dorefaWeightGradientMatchesFiniteDifferences() {
        std::vector<float> w, c;
        for (int i = 0; i < 10; ++i) {
            w.push_back(float(0.3 * std::sin(2.1 * i + 0.4)));
            c.push_back(float(std::cos(1.3 * i + 0.2)));
        }
        w[6] = -0.9f; // the maximum of |tanh|
        Run r = run(shortQ("dorefa4"), QuantClass::W, w);
        const std::vector<float> dx = backward(shortQ("dorefa4"), r, w, c);
        auto surrogate = [&](std::vector<double> x) {
            double m = 0, s = 0;
            for (double v : x) m = std::max(m, std::fabs(std::tanh(v)));
            for (size_t i = 0; i < x.size(); ++i) s += c[i] * std::tanh(x[i]) / m;
            return s;
        };
        for (size_t i = 0; i < w.size(); ++i) {
            std::vector<double> up(w.begin(), w.end()), down(w.begin(), w.end());
            up[i] += 1e-6, down[i] -= 1e-6;
            const double fd = (surrogate(up) - surrogate(down)) / 2e-6;
            QVERIFY2(std::fabs(fd - dx[i]) < 1e-5 * std::max(1.0, std::fabs(fd)),
                     qPrintable(QStringLiteral("element %1: fd %2 analytic %3").arg(i).arg(fd).arg(dx[i])));
        }
    }

    // E: m = max|e| per sample, rne((e / 2m + 0.5) n), code 2c - n, value code m / n.
    void dorefaErrors() {
        Run r = run(shortQ("dorefa2"), QuantClass::E, {4.0f, -4.0f, 1.0f, 0.0f});
        QCOMPARE(r.codes, (std::vector<int32_t>{3, -3, 1, 1}));
        compareFloats(r.out, {4, -4, float(4.0 / 3), float(4.0 / 3)});
        const Quantizer perSample = parse(R"({"family":"dorefa","bits":2,"granularity":"sample"})");
        Run s = run(perSample, QuantClass::E, {4.0f, 1.0f, 0.5f, -0.5f}, 2, 2, GroupAxis::Rows);
        compareFloats(s.out, {4, float(4.0 / 3), 0.5f, -0.5f});
        compareFloats(run(shortQ("dorefa2"), QuantClass::E, {0, 0}).out, {0, 0});
        // With DoReFa's noise U(-1/2n, 1/2n) the mean is e: (3/16 + 0.5) 15 = 10.3125 codes.
        const Random rng(3);
        const Quantizer noisy = parse(R"({"family":"dorefa","bits":4,"rounding":"stochastic"})");
        std::vector<float> e(40001, 3.0f);
        e[0] = 8.0f;
        Run st = run(noisy, QuantClass::E, e, 1, -1, GroupAxis::None, {&rng, 1, 1});
        QVERIFY(meanWithin(st.out, 1, 3.0, 16.0 / 15));
        for (size_t i = 1; i < 40001; ++i) QVERIFY(st.codes[i] == 5 || st.codes[i] == 7); // c in {10, 11}
    }

    // s = max|g|; +-s with probability |g| / s; c * std clips first.
    void terngrad() {
        const Random rng(42);
        const std::vector<float> g{0.5f, -1.0f, 0.25f, 0.0f, -0.75f};
        Run r = run(shortQ("terngrad"), QuantClass::G, g, 1, -1, GroupAxis::None, {&rng, 9, 1});
        QCOMPARE(r.plan.groups[0].scale, 1.0f);
        for (size_t i = 0; i < g.size(); ++i) {
            const double u = double(rng.word(RandomPurpose::TernGrad, 9, 1, i)) * 0x1p-32;
            const float want = u < std::fabs(g[i]) ? (g[i] > 0 ? 1.0f : -1.0f) : 0.0f;
            QCOMPARE(r.out[i], want);
        }
        QCOMPARE(r.out[1], -1.0f); // |g| = s: always
        QCOMPARE(r.out[3], 0.0f);
        std::vector<float> many(40001, 0.3f);
        many[0] = 1.0f;
        const std::vector<float> manyOut = run(shortQ("terngrad"), QuantClass::G, many, 1, -1, GroupAxis::None, {&rng, 0, 0}).out;
        QVERIFY(meanWithin(manyOut, 1, double(0.3f), 1.0));
        for (size_t i = 1; i < many.size(); ++i)
            QCOMPARE(manyOut[i], double(rng.word(RandomPurpose::TernGrad, 0, 0, i)) * 0x1p-32 < double(0.3f) ? 1.0f : 0.0f);
        // Clip factor 1: mean 2, variance 84 / 5, T = sqrt(16.8) < max 10, so s = T and 10 -> s.
        Run c = run(parse(R"({"family":"terngrad","clip":1})"), QuantClass::G, {1, -1, 1, -1, 10}, 1, -1, GroupAxis::None, {&rng, 0, 0});
        QVERIFY(std::fabs(c.plan.groups[0].threshold - std::sqrt(16.8)) < 1e-12);
        QCOMPARE(c.plan.groups[0].scale, float(std::sqrt(16.8)));
        QCOMPARE(c.out[4], c.plan.groups[0].scale);
        compareFloats(run(shortQ("terngrad"), QuantClass::G, {0, 0}, 1, -1, GroupAxis::None, {&rng, 0, 0}).out, {0, 0});
    }

    // Integer codes give exactly the float outputs by each family's documented relation.
    void codesEqualFloatApply() {
        std::vector<float> x;
        for (int i = 0; i < 257; ++i) x.push_back(float(1.3 * std::sin(0.37 * i) + (i % 7 == 0 ? 0.5 : 0.0)));
        const Random rng(5);
        const char* specs[] = {"wage2", "wage8", "wage12", "pow3", "pow8", "affine8", "affine8s", "sign", "signs",
                               "ternary", "ttq", "dorefa1", "dorefa3", "dorefa8", "terngrad",
                               R"({"family":"affine","bits":8,"zero_point":"integer","rounding":"stochastic"})"};
        for (const char* spec : specs) {
            const Quantizer q = spec[0] == '{' ? parse(spec) : shortQ(spec);
            const auto& t = quant_family(q.family);
            for (int c = 0; c < kQuantClassCount; ++c) {
                const QuantClass cls = QuantClass(c);
                if (!t.serves(cls) || (q.family == QuantFamily::Wage && cls == QuantClass::G)) continue;
                Run r = run(q, cls, x, 1, -1, GroupAxis::None, {&rng, 2, 8});
                const QuantGroup& G = r.plan.groups[0];
                const double n = double((int64_t(1) << q.bits) - 1);
                for (size_t i = 0; i < x.size(); ++i) {
                    const int32_t k = r.codes[i];
                    QVERIFY(k >= G.codeLo && k <= G.codeHi);
                    float v = float(k - G.zero) * G.scale + G.offset;
                    if (q.family == QuantFamily::TernaryLearned) v = k > 0 ? G.pos : (k < 0 ? -G.neg : 0.0f);
                    if (q.family == QuantFamily::Dorefa && q.bits > 1 && cls == QuantClass::W) v = float(k / n);
                    if (q.family == QuantFamily::Dorefa && cls == QuantClass::A) v = float(k / n);
                    if (q.family == QuantFamily::Dorefa && (cls == QuantClass::E || cls == QuantClass::EGrad))
                        v = float(k * G.stat / n);
                    if (v != r.out[i])
                        QFAIL(qPrintable(QStringLiteral("%1 class %2 element %3: code %4 gives %5, apply %6")
                                             .arg(spec).arg(c).arg(i).arg(k).arg(double(v)).arg(double(r.out[i]))));
                }
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestQuantFamilies)
#include "test_quant_families.moc"
