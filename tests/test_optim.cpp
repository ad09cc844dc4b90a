// Solvers (SGD, Adam, WAGE), their state records, learning-rate schedules, optimizer JSON.
#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/optim.h"
#include "bitbench/philox.h"

#include <tbb/global_control.h>

#include <nlohmann/json.hpp>

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

using namespace bitbench;
using nlohmann::json;

namespace {

OptimizerConfig sgdConfig(double momentum, double wd, bool nesterov) {
    OptimizerConfig c;
    c.kind = SolverKind::Sgd;
    c.momentum = momentum;
    c.weightDecay = wd;
    c.nesterov = nesterov;
    return c;
}

OptimizerConfig adamConfig(double b1, double b2, double eps, double wd) {
    OptimizerConfig c;
    c.kind = SolverKind::Adam;
    c.beta1 = b1;
    c.beta2 = b2;
    c.eps = eps;
    c.weightDecay = wd;
    return c;
}

// QCOMPARE treats floats as equal within a relative 1e-5 (and everything below 1e-5 as zero):
// solver values must be equal exactly.
#define QCOMPARE_EXACT(actual, expected)                                                                  \
    QVERIFY2((actual) == (expected), qPrintable(QString("%1 is not exactly %2")                           \
                                                    .arg(double(actual), 0, 'g', 17)                      \
                                                    .arg(double(expected), 0, 'g', 17)))

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Runs `grads` through a fresh solver from p0 and returns the weights after every step.
std::vector<std::vector<float>> run(const OptimizerConfig& c, std::vector<float> p, const std::vector<std::vector<float>>& grads,
                                    double lr) {
    auto s = solver_create(c, int64_t(p.size()));
    std::vector<std::vector<float>> out;
    for (const auto& g : grads) {
        s->update(p.data(), g.data(), int64_t(p.size()), lr);
        out.push_back(p);
    }
    return out;
}

// Deterministic pseudo-random values in [-1, 1) for gradients and weights.
std::vector<float> noise(uint32_t tensor, uint64_t step, int64_t n) {
    const Random r(99);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        v[size_t(i)] = float(double(r.word(RandomPurpose::Init, step, tensor, uint64_t(i))) / 2147483648.0 - 1.0);
    return v;
}

// A float engine weights blob: magic, layer count, then per layer a count and raw float values.
std::vector<std::vector<float>> blobLayers(const std::vector<uint8_t>& b) {
    auto u64 = [&](size_t at) {
        uint64_t v = 0;
        std::memcpy(&v, b.data() + at, 8);
        return v;
    };
    std::vector<std::vector<float>> out;
    size_t pos = 16;
    for (uint64_t l = 0; l < u64(8); ++l) {
        const uint64_t n = u64(pos);
        pos += 8;
        std::vector<float> v(n);
        std::memcpy(v.data(), b.data() + pos, n * sizeof(float));
        pos += n * sizeof(float);
        out.push_back(std::move(v));
    }
    return out;
}

void expectInputError(const std::function<void()>& f, const QString& part) {
    try {
        f();
        QFAIL(qPrintable("no InputError, expected one containing: " + part));
    } catch (const InputError& e) {
        QVERIFY2(QString(e.what()).contains(part), qPrintable(QString("message: ") + e.what() + "\nexpected: " + part));
    }
}

} // namespace

class TestOptim : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // lr 0.5, momentum 0.5, weight decay 0.25, p0 = 1, g = 0.5 every step (all dyadic: exact).
    //  1: d = 0.5 + 0.25*1 = 0.75;         buf = 0.75 (first step);        p = 1 - 0.375 = 0.625
    //  2: d = 0.5 + 0.25*0.625 = 0.65625;  buf = 0.375 + 0.65625 = 1.03125; p = 0.625 - 0.515625 = 0.109375
    //  3: d = 0.5 + 0.02734375 = 0.52734375; buf = 0.515625 + 0.52734375 = 1.04296875;
    //     p = 0.109375 - 0.521484375 = -0.412109375
    void sgdMomentumWeightDecayByHand() {
        const auto p = run(sgdConfig(0.5, 0.25, false), {1.0f}, {{0.5f}, {0.5f}, {0.5f}}, 0.5);
        QCOMPARE_EXACT(p[0][0], 0.625f);
        QCOMPARE_EXACT(p[1][0], 0.109375f);
        QCOMPARE_EXACT(p[2][0], -0.412109375f);
    }

    // Same, Nesterov: the step is d + momentum * buf.
    //  1: d = 0.75, buf = 0.75, step = 0.75 + 0.375 = 1.125;            p = 1 - 0.5625 = 0.4375
    //  2: d = 0.5 + 0.109375 = 0.609375; buf = 0.375 + 0.609375 = 0.984375;
    //     step = 0.609375 + 0.4921875 = 1.1015625;                     p = 0.4375 - 0.55078125 = -0.11328125
    //  3: d = 0.5 - 0.0283203125 = 0.4716796875; buf = 0.4921875 + 0.4716796875 = 0.9638671875;
    //     step = 0.4716796875 + 0.48193359375 = 0.95361328125;         p = -0.11328125 - 0.476806640625
    void sgdNesterovByHand() {
        const auto p = run(sgdConfig(0.5, 0.25, true), {1.0f}, {{0.5f}, {0.5f}, {0.5f}}, 0.5);
        QCOMPARE_EXACT(p[0][0], 0.4375f);
        QCOMPARE_EXACT(p[1][0], -0.11328125f);
        QCOMPARE_EXACT(p[2][0], -0.590087890625f);
    }

    // PyTorch's add(alpha) is one fused multiply-add on its vector path. lr = g = 1 + 2^-12,
    // p0 = 1 + 2^-11 + 2^-23: lr*g = 1 + 2^-11 + 2^-24 exactly, so the fused p1 = p0 - lr*g = 2^-24,
    // while rounding lr*g first (a tie, to even: 1 + 2^-11) would give 2^-23.
    void sgdStepIsFused() {
        const float p0 = 1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23);
        const float g = 1.0f + std::ldexp(1.0f, -12);
        const auto p = run(sgdConfig(0, 0, false), {p0}, {{g}}, 1.0 + std::ldexp(1.0, -12));
        QCOMPARE_EXACT(p[0][0], std::ldexp(1.0f, -24));
    }

    // PyTorch defaults (betas 0.9, 0.999, eps 1e-8) with weight decay 0.01, lr 0.01.
    // Step 1 is lr * sign(g'): m = 0.1 g', v = 0.001 g'^2, bc1 = 0.1, bc2 = 0.001, so
    // p1 = p0 - 0.01 * g' / (|g'| + 1e-8): 0.5 -> 0.49, -0.25 -> -0.24, 2 (g' = 0.02) -> 1.99,
    // each as float after the rounding sequence of core/doc/optim.md. Steps 2 and 3 were worked
    // out with that sequence in exact rational arithmetic rounded to float32 after each operation
    // (fused ones once); the double-precision formula agrees to 1e-6.
    void adamByHand() {
        const std::vector<std::vector<float>> g = {{0.1f, -0.2f, 0.0f}, {0.3f, 0.1f, -0.05f}, {-0.2f, 0.4f, 0.01f}};
        const auto p = run(adamConfig(0.9, 0.999, 1e-8, 0.01), {0.5f, -0.25f, 2.0f}, g, 0.01);
        const std::vector<std::vector<float>> expected = {{0x1.f5c29p-2f, -0x1.eb851ep-3f, 0x1.fd70a4p+0f},
                                                          {0x1.ec526p-2f, -0x1.e5c75ep-3f, 0x1.fe13f4p+0f},
                                                          {0x1.e9785p-2f, -0x1.eefcd4p-3f, 0x1.fd6a0cp+0f}};
        for (size_t s = 0; s < 3; ++s) QVERIFY2(sameBits(p[s], expected[s]), qPrintable(QString("step %1").arg(s + 1)));
        QVERIFY(std::abs(p[0][0] - 0.49) < 1e-6 && std::abs(p[0][1] + 0.24) < 1e-6 && std::abs(p[0][2] - 1.99) < 1e-6);
        // The same three steps in double, without any float rounding.
        std::vector<double> pd = {0.5, -0.25, 2.0}, m(3, 0), v(3, 0);
        for (int t = 1; t <= 3; ++t)
            for (size_t i = 0; i < 3; ++i) {
                const double gi = double(g[size_t(t - 1)][i]) + 0.01 * pd[i];
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                const double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.999, t));
                pd[i] -= 0.01 * mh / (std::sqrt(vh) + 1e-8);
            }
        for (size_t i = 0; i < 3; ++i) QVERIFY(std::abs(pd[i] - p[2][i]) < 1e-6);
    }

    // A case where the fused momentum update matters: the last element after step 2 is one ulp
    // lower (0x1.3a5c68p-5) with exp_avg = fma(0.1, g, 0.9 m) than with both products rounded
    // (0x1.3a5c6ap-5). Values found by the same exact emulation as adamByHand.
    void adamMomentumIsFused() {
        const std::vector<float> p0 = {-0x1.0ca94p-1f, -0x1.975fc6p-2f, 0x1.e943b4p-1f, 0x1.5a264ap-5f};
        const std::vector<std::vector<float>> g = {{0x1.8cbe0ep-4f, -0x1.f4447ep-1f, -0x1.5b4c66p-3f, 0x1.47899ap-3f},
                                                   {-0x1.eb7742p-1f, 0x1.da4ef2p-3f, 0x1.0eb4acp-2f, -0x1.c27a42p-1f}};
        const auto p = run(adamConfig(0.9, 0.999, 1e-8, 0.01), p0, g, 0.01);
        QVERIFY(sameBits(p[0], {-0x1.11c7f8p-1f, -0x1.8d2256p-2f, 0x1.ee626cp-1f, 0x1.083ac6p-5f}));
        QVERIFY(sameBits(p[1], {-0x1.0e4feap-1f, -0x1.882c9ep-2f, 0x1.ecd2ccp-1f, 0x1.3a5c68p-5f}));
    }

    // The whole rounding sequence of core/doc/optim.md over 256 elements and 4 steps, against
    // an independent emulation of it (exact rational arithmetic, rounded to float32 after each
    // operation, once for the fused ones), summarised as FNV-1a-64 of the final weights' bytes.
    // Inputs: a 64-bit LCG (Knuth's MMIX constants), top 24 bits as k / 2^23 - 1, exact in float.
    void roundingSequence_data() {
        QTest::addColumn<int>("which");
        QTest::addColumn<quint64>("digest");
        QTest::newRow("sgd nesterov, lr 0.1, momentum 0.9, decay 1e-4") << 0 << quint64(0x5c3e2bf7618b6b50ull);
        QTest::newRow("sgd, lr 0.05, momentum 0.9, decay 5e-4") << 1 << quint64(0xcf3a6627c9da7a69ull);
        QTest::newRow("adam, lr 0.001, defaults, decay 0.01") << 2 << quint64(0x2167473a88b75d24ull);
        // A large decay that is no power of two, so that fusing g + wd * p shows; a large Adam
        // step, so that the order of addcmul's and addcdiv's roundings shows.
        QTest::newRow("sgd, lr 0.1, momentum 0.9, decay 0.3") << 3 << quint64(0x5522a42fd95fcc17ull);
        QTest::newRow("adam, lr 0.1, defaults, decay 0.3") << 4 << quint64(0xf614f491960daf1eull);
    }
    void roundingSequence() {
        QFETCH(int, which);
        QFETCH(quint64, digest);
        const OptimizerConfig configs[] = {sgdConfig(0.9, 1e-4, true), sgdConfig(0.9, 5e-4, false),
                                           adamConfig(0.9, 0.999, 1e-8, 0.01), sgdConfig(0.9, 0.3, false),
                                           adamConfig(0.9, 0.999, 1e-8, 0.3)};
        const double rates[] = {0.1, 0.05, 0.001, 0.1, 0.1};
        const OptimizerConfig c = configs[which];
        const double lr = rates[which];
        uint64_t x = uint64_t(which + 1);
        auto next = [&] {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            return float(double(x >> 40) / 16777216.0 * 2 - 1);
        };
        std::vector<float> p(256);
        for (auto& v : p) v = next();
        std::vector<std::vector<float>> g(4, std::vector<float>(256));
        for (auto& row : g)
            for (auto& v : row) v = next();
        const auto out = run(c, p, g, lr).back();
        uint64_t h = 0xcbf29ce484222325ull;
        for (float v : out) {
            uint32_t u;
            std::memcpy(&u, &v, 4);
            for (int b = 0; b < 4; ++b) h = (h ^ ((u >> (8 * b)) & 0xFF)) * 0x100000001b3ull;
        }
        QCOMPARE(quint64(h), digest);
    }

    void stateRoundTrip_data() {
        QTest::addColumn<int>("which");
        QTest::newRow("sgd") << 0;
        QTest::newRow("sgd momentum") << 1;
        QTest::newRow("sgd nesterov decay") << 2;
        QTest::newRow("adam") << 3;
        QTest::newRow("adam decay") << 4;
        QTest::newRow("wage") << 5;
    }
    // 5 steps, save, load into a fresh solver, 5 more: bit for bit the 10 uninterrupted steps.
    void stateRoundTrip() {
        QFETCH(int, which);
        const OptimizerConfig configs[] = {sgdConfig(0, 0, false), sgdConfig(0.9, 0, false), sgdConfig(0.9, 1e-4, true),
                                           adamConfig(0.9, 0.999, 1e-8, 0), adamConfig(0.8, 0.99, 1e-6, 1e-3), OptimizerConfig{}};
        const OptimizerConfig c = configs[which];
        const bool wage = c.kind == SolverKind::Wage;
        const int64_t n = 37;
        const SolverTensor tensor{3, 2, 8, 11};
        std::vector<float> p0 = noise(1, 0, n);
        if (wage)
            for (auto& x : p0) x = std::nearbyint(x * 64) / 128; // on the 1/128 grid within +-0.5
        const double lr = wage ? 1.0 : 0.05;
        auto full = solver_create(c, n, tensor);
        std::vector<float> a = p0;
        for (int s = 0; s < 10; ++s) full->update(a.data(), noise(2, uint64_t(s), n).data(), n, lr, {s});
        auto first = solver_create(c, n, tensor);
        std::vector<float> b = p0;
        for (int s = 0; s < 5; ++s) first->update(b.data(), noise(2, uint64_t(s), n).data(), n, lr, {s});
        std::vector<uint8_t> blob;
        first->stateSave(blob);
        auto second = solver_create(c, n, tensor);
        QCOMPARE(second->stateLoad(blob), blob.size());
        QCOMPARE(second->stepsTaken(), int64_t(5));
        for (int s = 5; s < 10; ++s) second->update(b.data(), noise(2, uint64_t(s), n).data(), n, lr, {s});
        QVERIFY(sameBits(a, b));
        std::vector<uint8_t> fa, fb;
        full->stateSave(fa);
        second->stateSave(fb);
        QVERIFY(fa == fb);
        QCOMPARE(qsizetype(fa.size()), qsizetype(32 + n * 4 * (c.kind == SolverKind::Adam ? 2 : c.momentum != 0 ? 1 : 0)));
    }

    void stateRejectsBadRecords() {
        const int64_t n = 5;
        auto adam = solver_create(adamConfig(0.9, 0.999, 1e-8, 0), n);
        std::vector<float> p(5, 1.0f), g(5, 0.5f);
        adam->update(p.data(), g.data(), n, 0.1);
        std::vector<uint8_t> blob;
        adam->stateSave(blob);
        QCOMPARE(qsizetype(blob.size()), qsizetype(32 + 2 * 4 * n));
        auto expectData = [&](const std::vector<uint8_t>& b, Solver& s, const QString& part) {
            try {
                s.stateLoad(b);
                QFAIL(qPrintable("loaded a bad record; expected: " + part));
            } catch (const DataError& e) {
                QVERIFY2(QString(e.what()).contains(part), qPrintable(QString("message: ") + e.what()));
            }
        };
        auto fresh = solver_create(adamConfig(0.9, 0.999, 1e-8, 0), n);
        for (size_t len = 0; len < blob.size(); ++len)
            expectData(std::vector<uint8_t>(blob.begin(), blob.begin() + std::ptrdiff_t(len)), *fresh, "truncated");
        QCOMPARE(fresh->stepsTaken(), int64_t(0)); // nothing changed by the failed loads
        auto bad = blob;
        bad[0] = 'X';
        expectData(bad, *fresh, "not a solver state record");
        bad = blob;
        bad[4] = 2;
        expectData(bad, *fresh, "record version 2");
        bad = blob;
        bad[7] = 1;
        expectData(bad, *fresh, "flags 1");
        bad = blob;
        bad[24] = uint8_t(bad[24] - 4); // payload one float short of two arrays
        expectData(bad, *fresh, "payload of 36 bytes");
        expectData(blob, *solver_create(sgdConfig(0.9, 0, false), n), "saved by the adam solver");
        expectData(blob, *solver_create(adamConfig(0.9, 0.999, 1e-8, 0), n + 1), "holds 5 elements, this tensor has 6");
        std::vector<uint8_t> notState(64, 0);
        expectData(notState, *fresh, "not a solver state record");
        // Two records back to back: each load returns where the next starts.
        auto sgd = solver_create(sgdConfig(0.9, 0, false), n);
        sgd->update(p.data(), g.data(), n, 0.1);
        std::vector<uint8_t> two;
        adam->stateSave(two);
        sgd->stateSave(two);
        auto adam2 = solver_create(adamConfig(0.9, 0.999, 1e-8, 0), n);
        auto sgd2 = solver_create(sgdConfig(0.9, 0, false), n);
        QCOMPARE(sgd2->stateLoad(two, adam2->stateLoad(two, 0)), two.size());
        QVERIFY_THROWS_EXCEPTION(InputError, adam->update(p.data(), g.data(), n - 1, 0.1));
    }

    // kW = 2 (clip to +-0.5), kG = 8 (steps of 1/128), lr 4, g = (1, -0.5, 0.25, 0, 0.75):
    // max|g| = 1, Shift = 2^0; lr * g * 2^15 = (4, -2, 1, 0, 3) * 2^15, no fraction, so no draw
    // matters: n = (4, -2, 1, 0, 3). w0 = (0.5, -0.5, 0.2, 0.7, -0.6) clips to (0.5, -0.5, 0.2,
    // 0.5, -0.5), then w = C(w0) - n/128 in double, rounded to float.
    void wageSolverByHand() {
        auto s = solver_create(OptimizerConfig{}, 5, {0, 2, 8, 1});
        std::vector<float> w = {0.5f, -0.5f, 0.2f, 0.7f, -0.6f};
        const std::vector<float> g = {1.0f, -0.5f, 0.25f, 0.0f, 0.75f};
        s->update(w.data(), g.data(), 5, 4.0, {0});
        QVERIFY(sameBits(w, {0.46875f, -0.484375f, float(double(0.2f) - 0.0078125), 0.5f, -0.5234375f}));
        // An all-zero gradient only clips.
        std::vector<float> w2 = {0.9f, -0.9f, 0.25f}, zero(3, 0.0f);
        solver_create(OptimizerConfig{}, 3, {0, 2, 8, 1})->update(w2.data(), zero.data(), 3, 8.0, {0});
        QVERIFY(sameBits(w2, {0.5f, -0.5f, 0.25f}));
        // Fractions: g = 0.3 everywhere with max 0.3, Shift(0.3) = 2^-2 (0.3^2 * 2^4 = 1.44 < 2),
        // x = 1.2, lr 1: v = round(1.2 * 2^15) = 39322 = 2^15 + 6554, so n = 1 + [draw < 6554]
        // with draw = the top 15 bits of the StochasticRound word (seed 5, step 7, tensor 2, j).
        const int64_t n = 4000;
        std::vector<float> w3(size_t(n), 0.0f), g3(size_t(n), 0.3f);
        solver_create(OptimizerConfig{}, n, {2, 2, 8, 5})->update(w3.data(), g3.data(), n, 1.0, {7});
        const Random r(5);
        int64_t ups = 0;
        for (int64_t j = 0; j < n; ++j) {
            const bool up = (r.word(RandomPurpose::StochasticRound, 7, 2, uint64_t(j)) >> 17) < 6554;
            ups += up;
            QCOMPARE_EXACT(w3[size_t(j)], up ? -2.0f / 128 : -1.0f / 128);
        }
        QVERIFY(std::abs(double(ups) / n - 6554.0 / 32768) < 0.03); // unbiased: P(up) = 0.2
    }

    // The 2^-16 rule is the WAGE solver's (quantized G only).
    void wageSolverChecksLearningRate() {
        std::vector<float> w(3, 0.0f), g(3, 0.5f);
        auto s = solver_create(OptimizerConfig{}, 3);
        expectInputError([&] { s->update(w.data(), g.data(), 3, 0.1, {0}); }, "not a multiple of 2^-16");
        expectInputError([&] { s->update(w.data(), g.data(), 3, 32768.0, {0}); }, "not a multiple of 2^-16");
        s->update(w.data(), g.data(), 3, 1.0 / 65536, {0});
        solver_create(OptimizerConfig{}, 3, {0, 2, 0, 1})->update(w.data(), g.data(), 3, 0.1, {0}); // float G
        expectInputError([] { solver_create(OptimizerConfig{}, 3, {0, 17, 8, 1}); }, "bits W 17");
    }

    void wageSolverMatchesFloatEngine_data() {
        QTest::addColumn<QString>("bits");
        QTest::addColumn<double>("lr");
        QTest::addColumn<qint64>("firstStep");
        QTest::newRow("2888") << "2888" << 8.0 << qint64(0);
        QTest::newRow("28f8 lr 1") << "28f8" << 1.0 << qint64(3);
        QTest::newRow("28C8 lr 1/8") << "28C8" << 0.125 << qint64(11);
        QTest::newRow("288f high step") << "288f" << 2.0 << qint64((int64_t(1) << 32) + 5);
        QTest::newRow("28ff float G") << "28ff" << 8.0 << qint64(1);
        QTest::newRow("f888 float W") << "f888" << 0.5 << qint64(2);
        QTest::newRow("4-8-12-8") << "4-8-12-8" << 1.0 << qint64(0);
    }
    // The float engine's trainStep against its own gradients run through the WAGE solver (one
    // per layer, tensor id = layer index), three steps, bit for bit.
    void wageSolverMatchesFloatEngine() {
        QFETCH(QString, bits);
        QFETCH(double, lr);
        QFETCH(qint64, firstStep);
        const json model = json::parse(R"({"name": "tiny", "input": {"height": 8, "width": 8, "channels": 1},
          "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 3, "pool": true, "relu": true},
                     {"name": "fc1", "type": "fc", "out": 12, "relu": true},
                     {"name": "fc2", "type": "fc", "out": 10}]})");
        const Experiment e = experiment_from_json({{"model", model}, {"dataset", "synthetic"}, {"bits", bits.toStdString()},
                                                   {"batch", 16}, {"lr", lr}, {"lr_float", 0.03}, {"seed", 7}});
        const Dataset d = dataset_generate_synthetic(8, 8, 1, 10, 48, 16, 3);
        auto engine = engine_create(e, EngineKind::Float);
        auto w = engine_float_initial_weights(e);
        std::vector<std::unique_ptr<Solver>> solvers;
        for (size_t l = 0; l < w.size(); ++l) {
            const ClassBits b = e.bits.forLayer(e.model.layers[l].name);
            solvers.push_back(solver_create(OptimizerConfig{}, int64_t(w[l].size()), {uint32_t(l), b.w(), b.g(), e.seed}));
        }
        for (int64_t s = firstStep; s < firstStep + 3; ++s) {
            const uint8_t* images = d.trainImages.data() + (s - firstStep) * 16 * 64;
            const uint8_t* labels = d.trainLabels.data() + (s - firstStep) * 16;
            const auto g = engine_float_gradients(e, w, images, labels, 16, nullptr);
            BatchResult r;
            engine->trainStep(images, labels, 16, s, lr, r);
            for (size_t l = 0; l < w.size(); ++l) {
                const bool floatG = e.bits.forLayer(e.model.layers[l].name).g() == 0;
                const double step = floatG ? e.lrFloat * lr / e.lr.front().lr : lr;
                solvers[l]->update(w[l].data(), g[l].data(), int64_t(w[l].size()), step, {s});
            }
            const auto ew = blobLayers(engine->weightsSave());
            for (size_t l = 0; l < w.size(); ++l)
                QVERIFY2(sameBits(w[l], ew[l]), qPrintable(QString("step %1 layer %2").arg(s).arg(l)));
        }
        QVERIFY(!sameBits(w[0], engine_float_initial_weights(e)[0])); // the weights did move
    }

    // Element-wise solvers give the same bits on 1 thread and on all of them (several chunks).
    void threadCountDoesNotMatter() {
        const int64_t n = 100003;
        const OptimizerConfig configs[] = {sgdConfig(0.9, 1e-4, true), adamConfig(0.9, 0.999, 1e-8, 1e-2), OptimizerConfig{}};
        for (const auto& c : configs) {
            std::vector<std::vector<float>> results;
            for (int threads : {1, 0}) {
                std::unique_ptr<tbb::global_control> limit;
                if (threads) limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, 1);
                std::vector<float> p(size_t(n), 0.0f);
                auto s = solver_create(c, n, {0, 2, 8, 3});
                for (int step = 0; step < 3; ++step)
                    s->update(p.data(), noise(4, uint64_t(step), n).data(), n, c.kind == SolverKind::Wage ? 1.0 : 0.01, {step});
                results.push_back(p);
            }
            QVERIFY(sameBits(results[0], results[1]));
        }
    }

    // Step schedule [[0, 0.1], [30, 0.01], [60, 0.001]], 100 steps per epoch, 5 warm-up epochs:
    // step 0 runs at 0.1 * 1/500, step 249 at 0.1 * 250/500 = 0.05, step 499 at 0.1, then the steps.
    void scheduleWarmupAndSteps() {
        const std::vector<LrStep> sched = {{0, 0.1}, {30, 0.01}, {60, 0.001}};
        QCOMPARE_EXACT(schedule_lr(sched, 5, 0, 100), 0.1 * 1 / 500);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 249, 100), 0.05);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 498, 100), 0.1 * 499 / 500);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 499, 100), 0.1);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 500, 100), 0.1);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 2999, 100), 0.1);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 3000, 100), 0.01);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 5999, 100), 0.01);
        QCOMPARE_EXACT(schedule_lr(sched, 5, 6000, 100), 0.001);
        QCOMPARE_EXACT(schedule_lr(sched, 0, 0, 100), 0.1);
        // Without warm-up it is Experiment::lrAt of the step's epoch.
        Experiment e;
        e.lr = {{0, 8}, {200, 1}, {250, 0.125}};
        for (int64_t step : {0, 467, 199 * 468 + 467, 200 * 468, 250 * 468 - 1, 250 * 468, 299 * 468})
            QCOMPARE_EXACT(schedule_lr(e.lr, 0, step, 468), e.lrAt(int32_t(step / 468)));
        expectInputError([&] { schedule_lr({}, 0, 0, 1); }, "no learning rate");
        expectInputError([&] { schedule_lr(sched, 0, 0, 0); }, "steps per epoch 0");
    }

    void optimizerJson() {
        QCOMPARE(optimizer_parse(json("wage"), "o"), OptimizerConfig{});
        const auto sgd = optimizer_parse(json::parse(R"({"kind": "sgd", "momentum": 0.9, "weight_decay": 1e-4, "nesterov": true})"), "o");
        QCOMPARE(sgd, sgdConfig(0.9, 1e-4, true));
        const auto adam = optimizer_parse(json::parse(R"({"kind": "adam", "betas": [0.8, 0.99], "eps": 1e-6, "warmup_epochs": 5})"), "o");
        OptimizerConfig expected = adamConfig(0.8, 0.99, 1e-6, 0);
        expected.warmupEpochs = 5;
        QCOMPARE(adam, expected);
        // Defaults are PyTorch's.
        QCOMPARE(optimizer_parse(json::parse(R"({"kind": "adam"})"), "o"), adamConfig(0.9, 0.999, 1e-8, 0));
        QCOMPARE(optimizer_parse(json::parse(R"({"kind": "sgd"})"), "o"), sgdConfig(0, 0, false));
        // Canonical form: every key of the kind, and it reads back the same.
        QCOMPARE(optimizer_to_json(sgd).dump(),
                 std::string(R"({"kind":"sgd","momentum":0.9,"nesterov":true,"warmup_epochs":0,"weight_decay":0.0001})"));
        QCOMPARE(optimizer_to_json(OptimizerConfig{}).dump(), std::string(R"({"kind":"wage"})"));
        for (const auto& c : {sgd, adam, OptimizerConfig{}}) QCOMPARE(optimizer_parse(optimizer_to_json(c), "o"), c);
    }

    void optimizerJsonErrors_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("kind") << R"({"kind": "rmsprop"})" << R"(opt.kind: expected "wage", "sgd" or "adam", got "rmsprop")";
        QTest::newRow("no kind") << R"({"momentum": 0.9})" << "opt.kind: missing required key";
        QTest::newRow("unknown") << R"({"kind": "sgd", "lr": 0.1})" << R"(opt: unknown key "lr")";
        QTest::newRow("other kind") << R"({"kind": "sgd", "betas": [0.9, 0.99]})" << R"(opt.betas: applies to kind "adam", not "sgd")";
        QTest::newRow("wage warmup") << R"({"kind": "wage", "warmup_epochs": 1})" << R"(opt.warmup_epochs: applies to kind "sgd")";
        QTest::newRow("momentum") << R"({"kind": "sgd", "momentum": -0.1})" << "opt.momentum: expected a number >= 0, got -0.1";
        QTest::newRow("type") << R"({"kind": "sgd", "momentum": "0.9"})" << "opt.momentum: expected a number, got a string";
        QTest::newRow("nesterov") << R"({"kind": "sgd", "nesterov": true})" << "opt.nesterov: needs a momentum above 0";
        QTest::newRow("nesterov type") << R"({"kind": "sgd", "momentum": 0.9, "nesterov": 1})" << "opt.nesterov: expected true or false";
        QTest::newRow("betas size") << R"({"kind": "adam", "betas": [0.9]})" << "opt.betas: expected [beta1, beta2], got 1 values";
        QTest::newRow("beta range") << R"({"kind": "adam", "betas": [0.9, 1]})" << "opt.betas[1]: expected a number in [0, 1), got 1";
        QTest::newRow("beta type") << R"({"kind": "adam", "betas": [null, 0.9]})" << "opt.betas[0]: expected a number, got null";
        QTest::newRow("eps") << R"({"kind": "adam", "eps": -1e-8})" << "opt.eps: expected a number >= 0";
        QTest::newRow("decay") << R"({"kind": "adam", "weight_decay": -1})" << "opt.weight_decay: expected a number >= 0";
        QTest::newRow("warmup") << R"({"kind": "sgd", "warmup_epochs": -1})" << "opt.warmup_epochs: expected an integer in 0..100000, got -1";
        QTest::newRow("not object") << "[1]" << "opt: expected a JSON object, got an array";
    }
    void optimizerJsonErrors() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        expectInputError([&] { optimizer_parse(json::parse(text.toStdString()), "opt"); }, message);
    }
};

QTEST_APPLESS_MAIN(TestOptim)
#include "test_optim.moc"
