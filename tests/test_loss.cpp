// Losses shared by the executors: values, gradients against finite differences, the float
// engine's cross-entropy, large logits, the squared hinge at its kink.
#include "bitbench/error.h"
#include "bitbench/loss.h"
#include "bitbench/philox.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

using namespace bitbench;

namespace {

// Loss values and gradients are compared exactly: QCOMPARE would allow a relative 1e-5.
#define QCOMPARE_EXACT(actual, expected)                                                                  \
    QVERIFY2((actual) == (expected), qPrintable(QString("%1 is not exactly %2")                           \
                                                    .arg(double(actual), 0, 'g', 17)                      \
                                                    .arg(double(expected), 0, 'g', 17)))

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Deterministic pseudo-random values in [-1, 1).
std::vector<float> noise(uint32_t tensor, int64_t n) {
    const Random r(99);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        v[size_t(i)] = float(double(r.word(RandomPurpose::Init, 0, tensor, uint64_t(i))) / 2147483648.0 - 1.0);
    return v;
}

} // namespace

class TestLoss : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // SSE: z = (0.5, 2, -1), label 1: e = (0.5, 1, -1), loss 0.5 * (0.25 + 1 + 1) = 1.125.
    // Cross-entropy: z = (0, ln 3), label 0: softmax (1/4, 3/4), loss ln 4, gradient (-3/4, 3/4).
    // Squared hinge: z = (0.5, 2, -1), label 1: t = (-1, 1, -1), margins max(0, 1 - t z) =
    // (1.5, 0, 0) (the last at the kink), loss 2.25, gradient -2 t m = (3, 0, 0).
    void lossesByHand() {
        const float z[3] = {0.5f, 2.0f, -1.0f};
        const uint8_t label1 = 1, label0 = 0;
        float dz[3];
        QCOMPARE_EXACT(loss_forward_backward(LossKind::Sse, z, &label1, 1, 3, 1.0, dz), 1.125);
        QVERIFY(dz[0] == 0.5f && dz[1] == 1.0f && dz[2] == -1.0f);
        QCOMPARE_EXACT(loss_forward_backward(LossKind::SquaredHinge, z, &label1, 1, 3, 0.5, dz), 2.25);
        QVERIFY(dz[0] == 1.5f && dz[1] == 0.0f && dz[2] == 0.0f); // gradScale 0.5
        const float zc[2] = {0.0f, float(std::log(3.0))};
        float dc[2];
        QVERIFY(std::abs(loss_forward_backward(LossKind::SoftmaxCrossEntropy, zc, &label0, 1, 2, 1.0, dc) - std::log(4.0)) < 1e-7);
        QVERIFY(std::abs(dc[0] + 0.75f) < 1e-7 && std::abs(dc[1] - 0.75f) < 1e-7);
        // Large logits: no overflow, the loss is the margin, the gradient a clean one-hot difference.
        const float big[3] = {1000.0f, 3000.0f, -2000.0f};
        QCOMPARE_EXACT(loss_forward_backward(LossKind::SoftmaxCrossEntropy, big, &label1, 1, 3, 1.0, dz), 0.0);
        QCOMPARE_EXACT(loss_forward_backward(LossKind::SoftmaxCrossEntropy, big, &label0, 1, 3, 1.0, dz), 2000.0);
        QVERIFY(dz[0] == -1.0f && dz[1] == 1.0f && dz[2] == 0.0f);
        const uint8_t bad = 3;
        QVERIFY_THROWS_EXCEPTION(DataError, loss_forward_backward(LossKind::Sse, z, &bad, 1, 3, 1.0, dz));
        QCOMPARE(loss_kind_parse("squared_hinge", "loss"), LossKind::SquaredHinge);
        try {
            loss_kind_parse("mse", "experiment.loss");
            QFAIL("no InputError for \"mse\"");
        } catch (const InputError& e) {
            QCOMPARE(QString(e.what()), QString(R"(experiment.loss: expected "sse", "softmax_ce" or "squared_hinge", got "mse")"));
        }
    }

    // Gradients against central differences of the summed loss, in double, with steps that are
    // exact in float (logits on a 2^-10 grid, h = 2^-10); gradScale 1/(n * classes) as BC's mean.
    void lossGradientsMatchFiniteDifferences_data() {
        QTest::addColumn<int>("kind");
        QTest::newRow("sse") << int(LossKind::Sse);
        QTest::newRow("softmax_ce") << int(LossKind::SoftmaxCrossEntropy);
        QTest::newRow("squared_hinge") << int(LossKind::SquaredHinge);
    }
    void lossGradientsMatchFiniteDifferences() {
        QFETCH(int, kind);
        const auto k = LossKind(kind);
        const int32_t n = 4, classes = 5;
        std::vector<float> z = noise(5, n * classes);
        for (auto& x : z) x = std::nearbyint(x * 3 * 1024) / 1024; // within +-3, on the 2^-10 grid
        z[7] = -1.0f; // sample 1, class 2: a hinge kink when the label is not 2
        const uint8_t labels[n] = {3, 0, 4, 1};
        const double scale = 1.0 / (n * classes);
        std::vector<float> dz(z.size());
        const double loss = loss_forward_backward(k, z.data(), labels, n, classes, scale, dz.data());
        QCOMPARE_EXACT(loss_forward_backward(k, z.data(), labels, n, classes, scale, nullptr), loss);
        const float h = std::ldexp(1.0f, -10);
        for (size_t i = 0; i < z.size(); ++i) {
            auto zp = z, zm = z;
            zp[i] += h;
            zm[i] -= h;
            const double fd = (loss_forward_backward(k, zp.data(), labels, n, classes, 1.0, nullptr) -
                               loss_forward_backward(k, zm.data(), labels, n, classes, 1.0, nullptr)) / (2.0 * h);
            // Central differences are exact for the quadratics up to rounding; at the kink the
            // difference is (h^2 - 0) / 2h = h/2; cross-entropy's error is O(h^2).
            const double tol = k == LossKind::SoftmaxCrossEntropy ? 1e-5 : i == 7 ? h : 1e-9;
            QVERIFY2(std::abs(fd * scale - dz[i]) <= tol * scale + 1e-7 * std::abs(dz[i]),
                     qPrintable(QString("logit %1: analytic %2, numeric %3").arg(i).arg(dz[i]).arg(fd * scale)));
        }
        if (k == LossKind::SquaredHinge) QCOMPARE_EXACT(dz[7], 0.0f);
    }

    // The float engine's softmax_ce loss and error, copied from engine_float.cpp's score(), on
    // random logits: the shared function must give the same float gradient and double loss.
    void crossEntropyEqualsFloatEngineFormula() {
        const int32_t n = 64, C = 10;
        std::vector<float> z = noise(6, n * C);
        for (size_t i = 0; i < z.size(); ++i) z[i] *= float(1 + i % 7) * 4;
        std::vector<uint8_t> labels(n);
        for (int32_t s = 0; s < n; ++s) labels[size_t(s)] = uint8_t((s * 7 + 3) % C);
        double engineLoss = 0;
        std::vector<float> engineErr(z.size());
        for (int32_t s = 0; s < n; ++s) {
            const float* zs = z.data() + s * C;
            const float mx = *std::max_element(zs, zs + C);
            double sum = 0;
            for (int64_t c = 0; c < C; ++c) sum += std::exp(double(zs[c] - mx));
            engineLoss += -(double(zs[labels[size_t(s)]] - mx) - std::log(sum));
            for (int64_t c = 0; c < C; ++c) {
                const double p = std::exp(double(zs[c] - mx)) / sum;
                engineErr[size_t(s * C + c)] = float(p - (c == labels[size_t(s)] ? 1.0 : 0.0));
            }
        }
        std::vector<float> dz(z.size());
        QCOMPARE_EXACT(loss_forward_backward(LossKind::SoftmaxCrossEntropy, z.data(), labels.data(), n, C, 1.0, dz.data()),
                 engineLoss);
        QVERIFY(sameBits(dz, engineErr));
    }
};

QTEST_APPLESS_MAIN(TestLoss)
#include "test_loss.moc"
