// The float32 products (kernels/sgemm.h): every ISA of this CPU, forced, and every thread count
// give the reference's bits; the reference is the exact fused multiply-add chain in ascending k.
#include "bitbench/gemm.h"
#include "kernels/sgemm.h"

#include <QtTest>

#include <tbb/global_control.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace bitbench;

namespace {

uint32_t bitsOf(float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

enum class Form { Nt, Tn, Nn };

struct Shape {
    Form form;
    int64_t m, n, k; // C is m x n, k chain steps
};

const char* formName(Form f) { return f == Form::Nt ? "nt" : f == Form::Tn ? "tn" : "nn"; }

// Mixed signs and magnitudes over 2^-10 .. 2^10 with full 24-bit mantissas: sums cancel and
// round at every step, so any other order or any unfused step changes low bits.
std::vector<float> values(int64_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> mant(1.0f, 2.0f);
    std::uniform_int_distribution<int> expo(-10, 10);
    std::vector<float> v(size_t(std::max<int64_t>(count, 1)));
    for (auto& x : v) x = std::ldexp(mant(rng), expo(rng)) * ((rng() & 1) ? -1.0f : 1.0f);
    return v;
}

// The operands' sizes of each form: nt A m x k, B n x k; tn A k x m, B k x n; nn A m x k, B k x n.
void runForm(Form f, const Shape& s, const float* A, const float* B, float* C, bool reference) {
    switch (f) {
    case Form::Nt: return reference ? sgemm_nt_ref(s.m, s.n, s.k, A, B, C) : sgemm_nt(s.m, s.n, s.k, A, B, C);
    case Form::Tn: return reference ? sgemm_tn_ref(s.m, s.n, s.k, A, B, C) : sgemm_tn(s.m, s.n, s.k, A, B, C);
    case Form::Nn: return reference ? sgemm_nn_ref(s.m, s.n, s.k, A, B, C) : sgemm_nn(s.m, s.n, s.k, A, B, C);
    }
}

std::vector<Shape> sweep() {
    std::vector<Shape> out;
    for (Form f : {Form::Nt, Form::Tn, Form::Nn})
        for (int64_t m : {1, 5, 13, 14, 15, 29, 64, 97, 203})
            for (int64_t n : {1, 7, 16, 17, 33, 64, 65, 100, 130, 256})
                for (int64_t k : {1, 2, 17, 200, 385, 600})
                    if (m * n * k <= 4'000'000) out.push_back({f, m, n, k});
    return out;
}

// Conv as im2col products: forward nt (rows x outC x K), weight gradient tn (outC x K x rows),
// input gradient nn (rows x K x outC); fc the same with rows = batch.
void addLayer(std::vector<Shape>& out, int64_t rows, int64_t outC, int64_t K, bool inputGradient = true) {
    out.push_back({Form::Nt, rows, outC, K});
    out.push_back({Form::Tn, outC, K, rows});
    if (inputGradient) out.push_back({Form::Nn, rows, K, outC});
}

std::vector<Shape> networks() {
    std::vector<Shape> out;
    // LeNet-5 (MNIST, batch 16): conv 5x5 32, conv 5x5 64, fc 1024 -> 512 -> 10.
    addLayer(out, 16 * 24 * 24, 32, 25, false);
    addLayer(out, 16 * 8 * 8, 64, 800);
    addLayer(out, 16, 512, 1024);
    addLayer(out, 16, 10, 512);
    // resnet8 (MNIST, batch 4): 3x3 convs at 28, 14 and 7 pixels, 1x1 shortcuts, fc 64 -> 10.
    addLayer(out, 4 * 784, 16, 9, false);
    addLayer(out, 4 * 784, 16, 144);
    addLayer(out, 4 * 196, 32, 144);
    addLayer(out, 4 * 196, 32, 288);
    addLayer(out, 4 * 196, 32, 16);
    addLayer(out, 4 * 49, 64, 288);
    addLayer(out, 4 * 49, 64, 576);
    addLayer(out, 4 * 49, 64, 32);
    addLayer(out, 4, 10, 64);
    return out;
}

// Every ISA this CPU has, forced, at 1 and 2 threads, against the reference; "" when equal.
QString compareAll(const std::vector<Shape>& shapes) {
    const GemmIsa active = gemm_isa_active();
    QString failure;
    for (const Shape& s : shapes) {
        const auto A = values(s.m * s.k, uint32_t(s.m * 7919 + s.k));
        const auto B = values(s.n * s.k, uint32_t(s.n * 104729 + s.k));
        std::vector<float> want(size_t(s.m * s.n)), got(want.size());
        runForm(s.form, s, A.data(), B.data(), want.data(), true);
        for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
            if (int(isa) > int(gemm_isa_detected())) continue;
            gemm_isa_force(isa);
            for (int threads : {1, 2}) {
                tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
                std::fill(got.begin(), got.end(), std::nanf(""));
                runForm(s.form, s, A.data(), B.data(), got.data(), false);
                if (std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0) continue;
                size_t at = 0;
                while (std::memcmp(&got[at], &want[at], sizeof(float)) == 0) ++at;
                failure = QStringLiteral("%1 %2x%3x%4 %5 threads %6: C[%7][%8] = %9, reference %10")
                              .arg(formName(s.form))
                              .arg(s.m)
                              .arg(s.n)
                              .arg(s.k)
                              .arg(gemm_isa_name(isa))
                              .arg(threads)
                              .arg(int64_t(at) / s.n)
                              .arg(int64_t(at) % s.n)
                              .arg(double(got[at]), 0, 'g', 9)
                              .arg(double(want[at]), 0, 'g', 9);
                gemm_isa_force(active);
                return failure;
            }
        }
        gemm_isa_force(active);
    }
    return failure;
}

} // namespace

class TestSgemm : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void chainIsFusedAndAscending() {
        // a = 1 + 2^-12. Step 0: fma(a, a, 0) = round(1 + 2^-11 + 2^-24) = 1 + 2^-11 (a tie, to
        // even). Step 1: fma(a, -a, 1 + 2^-11) = -2^-24 exactly. Unfused steps give 0, the
        // descending order +2^-24. Many rows and columns so that full vector tiles run too.
        const float a = 1.0f + std::ldexp(1.0f, -12);
        const int64_t M = 37, N = 41;
        std::vector<float> A(size_t(M * 2)), Bnt(size_t(N * 2)), Bnn(size_t(2 * N)), At(size_t(2 * M));
        for (int64_t i = 0; i < M; ++i) A[size_t(2 * i)] = A[size_t(2 * i + 1)] = At[size_t(i)] = At[size_t(M + i)] = a;
        for (int64_t j = 0; j < N; ++j) {
            Bnt[size_t(2 * j)] = Bnn[size_t(j)] = a;
            Bnt[size_t(2 * j + 1)] = Bnn[size_t(N + j)] = -a;
        }
        const float want = -std::ldexp(1.0f, -24);
        const GemmIsa active = gemm_isa_active();
        for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
            if (int(isa) > int(gemm_isa_detected())) continue;
            gemm_isa_force(isa);
            std::vector<float> C(size_t(M * N), 1.0f);
            sgemm_nt(M, N, 2, A.data(), Bnt.data(), C.data());
            for (float c : C) QCOMPARE(bitsOf(c), bitsOf(want));
            std::fill(C.begin(), C.end(), 1.0f);
            sgemm_tn(M, N, 2, At.data(), Bnn.data(), C.data());
            for (float c : C) QCOMPARE(bitsOf(c), bitsOf(want));
            std::fill(C.begin(), C.end(), 1.0f);
            sgemm_nn(M, N, 2, A.data(), Bnn.data(), C.data());
            for (float c : C) QCOMPARE(bitsOf(c), bitsOf(want));
        }
        gemm_isa_force(active);
    }

    void emptyChainIsZero() {
        std::vector<float> C(12, 5.0f);
        sgemm_nt(3, 4, 0, nullptr, nullptr, C.data());
        for (float c : C) QCOMPARE(bitsOf(c), 0u);
        std::fill(C.begin(), C.end(), 5.0f);
        sgemm_tn(3, 4, 0, nullptr, nullptr, C.data());
        for (float c : C) QCOMPARE(bitsOf(c), 0u);
    }

    void testDataSeesTheOrder() {
        // The sweep's values would expose a kernel that splits k: summing the two halves' chains
        // differs from the whole chain in most elements of a long product.
        const Shape s{Form::Nt, 16, 16, 600};
        const auto A = values(s.m * s.k, 1), B = values(s.n * s.k, 2);
        std::vector<float> whole(256), lo(256), hi(256);
        sgemm_nt_ref(16, 16, 600, A.data(), B.data(), whole.data());
        std::vector<float> Alo, Ahi, Blo, Bhi;
        for (int64_t i = 0; i < 16; ++i) {
            Alo.insert(Alo.end(), A.begin() + i * 600, A.begin() + i * 600 + 300);
            Ahi.insert(Ahi.end(), A.begin() + i * 600 + 300, A.begin() + i * 600 + 600);
            Blo.insert(Blo.end(), B.begin() + i * 600, B.begin() + i * 600 + 300);
            Bhi.insert(Bhi.end(), B.begin() + i * 600 + 300, B.begin() + i * 600 + 600);
        }
        sgemm_nt_ref(16, 16, 300, Alo.data(), Blo.data(), lo.data());
        sgemm_nt_ref(16, 16, 300, Ahi.data(), Bhi.data(), hi.data());
        int differ = 0;
        for (size_t e = 0; e < 256; ++e) differ += (lo[e] + hi[e]) != whole[e];
        QVERIFY2(differ > 128, qPrintable(QString::number(differ)));
    }

    void everyIsaEqualsTheReferenceOnASweep() {
        const QString failure = compareAll(sweep());
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
    }

    void everyIsaEqualsTheReferenceOnNetworkShapes() {
        const QString failure = compareAll(networks());
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
    }
};

QTEST_APPLESS_MAIN(TestSgemm)
#include "test_sgemm.moc"
