// The reference executor's float ops: hand-worked values, and every backward pass against
// central finite differences in double (conv with strides and padding, fc, pools, relu, add,
// batch norm, range batch norm through its chunk max/min).
#include "engine/reference/ref_ops.h"

#include <QtTest>

#include <cmath>
#include <functional>
#include <numbers>
#include <random>
#include <vector>

using namespace bitbench;
using namespace bitbench::ref;

namespace {

using Vec = std::vector<double>;

Vec randomVec(size_t n, uint32_t seed, double lo = -1, double hi = 1) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    Vec v(n);
    for (auto& x : v) x = u(gen);
    return v;
}

double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

// Largest |analytic - numeric| over every coordinate of `v`, where loss() reads v.
double maxGradError(Vec& v, const Vec& analytic, const std::function<double()>& loss, double h = 1e-6) {
    double worst = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        const double keep = v[i];
        v[i] = keep + h;
        const double up = loss();
        v[i] = keep - h;
        const double down = loss();
        v[i] = keep;
        worst = std::max(worst, std::abs((up - down) / (2 * h) - analytic[i]));
    }
    return worst;
}

OpDesc convOp(int32_t h, int32_t w, int32_t c, int32_t out, int32_t k, int32_t stride, bool same) {
    OpDesc op;
    op.kind = OpKind::Conv;
    op.inShape = {h, w, c};
    op.out = out;
    op.kernel = k;
    op.stride = stride;
    op.same = same;
    return op;
}

} // namespace

class TestReferenceOps : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void convGeometry_data() {
        QTest::addColumn<int>("in");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("stride");
        QTest::addColumn<bool>("same");
        QTest::addColumn<int>("out");
        QTest::addColumn<int>("pad");
        QTest::newRow("7 same s2 k3") << 7 << 3 << 2 << true << 4 << 1;  // total pad (4-1)*2+3-7 = 2
        QTest::newRow("8 same s2 k3") << 8 << 3 << 2 << true << 4 << 0;  // total 1: 0 top, 1 bottom
        QTest::newRow("28 same s1 k5") << 28 << 5 << 1 << true << 28 << 2;
        QTest::newRow("7 valid s2 k3") << 7 << 3 << 2 << false << 3 << 0;
        QTest::newRow("28 valid s1 k5") << 28 << 5 << 1 << false << 24 << 0;
        QTest::newRow("14 same s2 k1") << 14 << 1 << 2 << true << 7 << 0;
    }
    void convGeometry() {
        QFETCH(int, in);
        QFETCH(int, k);
        QFETCH(int, stride);
        QFETCH(bool, same);
        QFETCH(int, out);
        QFETCH(int, pad);
        const ConvGeometry g = conv_geometry(convOp(in, in, 1, 1, k, stride, same));
        QCOMPARE(g.outH, out);
        QCOMPARE(g.outW, out);
        QCOMPARE(g.padTop, pad);
        QCOMPARE(g.padLeft, pad);
    }

    void convByHand() {
        // 3x3 input 1..9, one 2x2 kernel [[1, 10], [100, 1000]], VALID stride 1:
        // out(0,0) = 1 + 20 + 400 + 5000.
        const Vec x{1, 2, 3, 4, 5, 6, 7, 8, 9}, w{1, 10, 100, 1000};
        const ConvGeometry g = conv_geometry(convOp(3, 3, 1, 1, 2, 1, false));
        Vec y(4);
        conv_forward(g, 1, x.data(), w.data(), static_cast<const double*>(nullptr), y.data());
        QCOMPARE(y, (Vec{5421, 6532, 8754, 9865}));
        // SAME stride 2 on 3x3 with a 3x3 kernel of ones: out 2x2, pad 1 top/left, 1 bottom/right.
        const ConvGeometry s = conv_geometry(convOp(3, 3, 1, 1, 3, 2, true));
        QCOMPARE(s.outH, 2);
        const Vec ones(9, 1);
        conv_forward(s, 1, x.data(), ones.data(), static_cast<const double*>(nullptr), y.data());
        QCOMPARE(y, (Vec{1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9}));
    }

    void convGradients_data() {
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("stride");
        QTest::addColumn<bool>("same");
        QTest::newRow("valid s1") << 6 << 3 << 1 << false;
        QTest::newRow("same s1") << 5 << 3 << 1 << true;
        QTest::newRow("same s2 odd") << 7 << 3 << 2 << true;
        QTest::newRow("same s2 even") << 6 << 3 << 2 << true;
        QTest::newRow("valid s2") << 7 << 3 << 2 << false;
        QTest::newRow("1x1 s2") << 6 << 1 << 2 << true;
    }
    void convGradients() {
        QFETCH(int, size);
        QFETCH(int, k);
        QFETCH(int, stride);
        QFETCH(bool, same);
        const int32_t n = 2, c = 3, out = 4;
        const ConvGeometry g = conv_geometry(convOp(size, size, c, out, k, stride, same));
        Vec x = randomVec(size_t(n) * size * size * c, 1), w = randomVec(size_t(out) * k * k * c, 2),
            bias = randomVec(size_t(out), 3);
        const Vec r = randomVec(size_t(n) * g.outH * g.outW * out, 4);
        Vec y(r.size());
        auto loss = [&] {
            conv_forward(g, n, x.data(), w.data(), bias.data(), y.data());
            return dot(y, r);
        };
        Vec dx(x.size()), dw(w.size()), db(bias.size());
        conv_backward(g, n, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
        QVERIFY(maxGradError(x, dx, loss) < 1e-7);
        QVERIFY(maxGradError(w, dw, loss) < 1e-7);
        QVERIFY(maxGradError(bias, db, loss) < 1e-7);
    }

    void fcGradients() {
        const int32_t n = 3, K = 7, out = 5;
        Vec x = randomVec(size_t(n * K), 5), w = randomVec(size_t(out * K), 6), bias = randomVec(size_t(out), 7);
        const Vec r = randomVec(size_t(n * out), 8);
        Vec y(r.size());
        auto loss = [&] {
            fc_forward(n, K, out, x.data(), w.data(), bias.data(), y.data());
            return dot(y, r);
        };
        Vec dx(x.size()), dw(w.size()), db(bias.size());
        fc_backward(n, K, out, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
        QVERIFY(maxGradError(x, dx, loss) < 1e-7);
        QVERIFY(maxGradError(w, dw, loss) < 1e-7);
        QVERIFY(maxGradError(bias, db, loss) < 1e-7);
    }

    void maxPoolFirstMaximumWins() {
        // One 2x2 window with a tie between positions 1 and 2 (row-major): position 1 wins.
        const TensorShape in{2, 2, 1};
        const Vec x{0.5, 3, 3, -1};
        Vec y(1), dx(4);
        uint8_t arg = 9;
        maxpool_forward(in, 1, x.data(), y.data(), &arg);
        QCOMPARE(y[0], 3.0);
        QCOMPARE(int(arg), 1);
        const Vec dy{7};
        maxpool_backward(in, 1, dy.data(), &arg, dx.data());
        QCOMPARE(dx, (Vec{0, 7, 0, 0}));
        // Odd sizes drop the last row and column: 5x5 -> 2x2.
        const TensorShape odd{5, 5, 2};
        Vec xo = randomVec(50, 9), yo(8);
        std::vector<uint8_t> args(8);
        maxpool_forward(odd, 1, xo.data(), yo.data(), args.data());
        QCOMPARE(yo[0], std::max({xo[0], xo[2], xo[10], xo[12]}));
    }

    void poolReluAddGradients() {
        const TensorShape in{4, 6, 3};
        const int32_t n = 2;
        Vec x = randomVec(size_t(n * in.size()), 10);
        const Vec rAvg = randomVec(size_t(n * in.c), 11);
        Vec yAvg(rAvg.size()), dAvg(x.size());
        avgpool_backward(in, n, rAvg.data(), dAvg.data());
        QVERIFY(maxGradError(x, dAvg, [&] {
                    avgpool_forward(in, n, x.data(), yAvg.data());
                    return dot(yAvg, rAvg);
                }) < 1e-8);
        const Vec rMax = randomVec(size_t(n * 2 * 3 * in.c), 12);
        Vec yMax(rMax.size()), dMax(x.size());
        std::vector<uint8_t> arg(rMax.size());
        maxpool_forward(in, n, x.data(), yMax.data(), arg.data());
        maxpool_backward(in, n, rMax.data(), arg.data(), dMax.data());
        QVERIFY(maxGradError(x, dMax, [&] {
                    maxpool_forward(in, n, x.data(), yMax.data(), arg.data());
                    return dot(yMax, rMax);
                }) < 1e-8);
        const Vec rRelu = randomVec(x.size(), 13);
        Vec yRelu(x.size()), dRelu(x.size());
        relu_backward(int64_t(x.size()), x.data(), rRelu.data(), dRelu.data());
        QVERIFY(maxGradError(x, dRelu, [&] {
                    relu_forward(int64_t(x.size()), x.data(), yRelu.data());
                    return dot(yRelu, rRelu);
                }) < 1e-8);
        Vec b = randomVec(x.size(), 14), ySum(x.size());
        add_forward(int64_t(x.size()), x.data(), b.data(), ySum.data());
        QCOMPARE(ySum[5], x[5] + b[5]);
    }

    void batchNormGradientsAndRunningStats() {
        const int64_t rows = 24;
        const int32_t c = 3;
        Vec x = randomVec(size_t(rows * c), 15, -2, 3), gamma = randomVec(size_t(c), 16, 0.5, 1.5),
            beta = randomVec(size_t(c), 17);
        const Vec r = randomVec(x.size(), 18);
        Vec y(x.size()), runMean(size_t(c), 0), runVar(size_t(c), 1);
        BatchNormCache cache;
        auto loss = [&] {
            Vec m(size_t(c), 0), v(size_t(c), 1);
            BatchNormCache k;
            batchnorm_forward_train(rows, c, x.data(), gamma.data(), beta.data(), 1e-5, 0.1, y.data(), k, m, v);
            return dot(y, r);
        };
        batchnorm_forward_train(rows, c, x.data(), gamma.data(), beta.data(), 1e-5, 0.1, y.data(), cache, runMean,
                                runVar);
        // Running statistics: 0.9 * (0, 1) + 0.1 * (batch mean, unbiased batch variance).
        double mean = 0, ss = 0;
        for (int64_t i = 0; i < rows; ++i) mean += x[size_t(i * c)];
        mean /= double(rows);
        for (int64_t i = 0; i < rows; ++i) ss += (x[size_t(i * c)] - mean) * (x[size_t(i * c)] - mean);
        QVERIFY(std::abs(runMean[0] - 0.1 * mean) < 1e-12);
        QVERIFY(std::abs(runVar[0] - (0.9 + 0.1 * ss / double(rows - 1))) < 1e-12);
        Vec dx(x.size()), dg(static_cast<size_t>(c)), db(static_cast<size_t>(c));
        batchnorm_backward(rows, c, x.data(), gamma.data(), r.data(), cache, dx.data(), dg.data(), db.data());
        QVERIFY(maxGradError(x, dx, loss) < 1e-6);
        QVERIFY(maxGradError(gamma, dg, loss) < 1e-6);
        QVERIFY(maxGradError(beta, db, loss) < 1e-6);
        // Evaluation with running mean 1 and variance 4 - eps: y = (x - 1) / 2 * gamma + beta.
        const Vec rm(size_t(c), 1), rv(size_t(c), 4 - 1e-5);
        batchnorm_forward_eval(rows, c, x.data(), gamma.data(), beta.data(), 1e-5, rm, rv, y.data());
        QVERIFY(std::abs(y[4] - ((x[4] - 1) / 2 * gamma[1] + beta[1])) < 1e-12);
    }

    void rangeBatchNorm() {
        const int64_t rows = 64;
        const int32_t c = 2, chunks = 4;
        Vec x = randomVec(size_t(rows * c), 19, -2, 3), gamma = randomVec(size_t(c), 20, 0.5, 1.5),
            beta = randomVec(size_t(c), 21);
        const Vec r = randomVec(x.size(), 22);
        Vec y(x.size()), runMean(size_t(c), 0), runScale(size_t(c), 1);
        BatchNormCache cache;
        rangebn_forward_train(rows, c, chunks, x.data(), gamma.data(), beta.data(), 1e-5, 0.9, y.data(), cache,
                              runMean, runScale);
        // The constant for chunks of 16 values, and the scale of channel 0 worked out directly.
        const double fix = 0.5 * 0.35 * (1 + std::sqrt(std::numbers::pi * std::log(4.0))) / std::sqrt(2 * std::log(16.0));
        QVERIFY(std::abs(cache.fix - fix) < 1e-15);
        double sumMax = 0, sumMin = 0, mean = 0;
        for (int32_t j = 0; j < chunks; ++j) {
            double mx = -1e9, mn = 1e9;
            for (int64_t i = j * 16; i < (j + 1) * 16; ++i) mx = std::max(mx, x[size_t(i * c)]), mn = std::min(mn, x[size_t(i * c)]);
            sumMax += mx;
            sumMin += mn;
        }
        for (int64_t i = 0; i < rows; ++i) mean += x[size_t(i * c)] / double(rows);
        const double scale = 1 / ((sumMax - sumMin) / chunks * fix + 1e-5);
        QVERIFY(std::abs(cache.invStd[0] - scale) < 1e-12);
        QVERIFY(std::abs(y[0] - ((x[0] - mean) * scale * gamma[0] + beta[0])) < 1e-12);
        QVERIFY(std::abs(runScale[0] - (0.1 + 0.9 * scale)) < 1e-12);
        // Gradients through the mean and each chunk's max and min (random values: no ties).
        auto loss = [&] {
            Vec m(size_t(c), 0), s(size_t(c), 1);
            BatchNormCache k;
            rangebn_forward_train(rows, c, chunks, x.data(), gamma.data(), beta.data(), 1e-5, 0.9, y.data(), k, m, s);
            return dot(y, r);
        };
        Vec dx(x.size()), dg(static_cast<size_t>(c)), db(static_cast<size_t>(c));
        rangebn_backward(rows, c, chunks, x.data(), gamma.data(), r.data(), cache, dx.data(), dg.data(), db.data());
        QVERIFY(maxGradError(x, dx, loss) < 1e-6);
        QVERIFY(maxGradError(gamma, dg, loss) < 1e-6);
        QVERIFY(maxGradError(beta, db, loss) < 1e-6);
    }
};

QTEST_GUILESS_MAIN(TestReferenceOps)
#include "test_reference_ops.moc"
