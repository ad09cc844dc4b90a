// int8 GEMM kernels: every ISA on this machine equals the reference bit for bit, at any thread count.
#include "bitbench/gemm.h"

#include <tbb/global_control.h>

#include <QTest>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace bitbench;

namespace {

enum class Fill { Random, AllPlus, AllMinus, Alternating };

// Codes in [-127, 127] (or [0, 127] when nonNegative), with deliberately poisoned padding past
// each row, so a kernel reading beyond the row or the matrix shows up as a wrong result.
struct Matrix {
    int64_t rows = 0, cols = 0, ld = 0;
    std::vector<int8_t> data;

    Matrix(int64_t r, int64_t c, int64_t pad, Fill fill, bool nonNegative, uint32_t seed)
        : rows(r), cols(c), ld(c + pad), data(size_t(r * (c + pad)), int8_t(-128)) {
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> dist(nonNegative ? 0 : -127, 127);
        for (int64_t i = 0; i < r; ++i)
            for (int64_t j = 0; j < c; ++j) {
                int v = 0;
                switch (fill) {
                case Fill::Random: v = dist(rng); break;
                case Fill::AllPlus: v = 127; break;
                case Fill::AllMinus: v = nonNegative ? 0 : -127; break;
                case Fill::Alternating: v = ((i + j) % 2 == 0) ? 127 : (nonNegative ? 0 : -127); break;
                }
                data[size_t(i * ld + j)] = int8_t(v);
            }
    }
    const int8_t* ptr() const { return data.data(); }
};

struct Output {
    int64_t ld = 0;
    std::vector<int32_t> data;
    Output(int64_t rows, int64_t cols, int64_t pad, uint32_t seed) : ld(cols + pad), data(size_t(rows * (cols + pad))) {
        std::mt19937 rng(seed);
        for (auto& v : data) v = int32_t(rng() % 2001) - 1000; // prior contents for accumulate
    }
};

struct Shape {
    int64_t m, n, k;
};

std::vector<GemmIsa> availableIsas() {
    std::vector<GemmIsa> isas;
    for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni})
        if (int(isa) <= int(gemm_isa_detected())) isas.push_back(isa);
    return isas;
}

// Sweep of shapes: ones, odd sizes, K around multiples of 4/16/32/64, N around 16 and 32, and
// M around the tile heights (4 and 12).
std::vector<Shape> sweepShapes() {
    std::vector<Shape> shapes;
    for (int64_t m : {1, 3, 4, 5, 11, 12, 13, 25, 37})
        for (int64_t n : {1, 7, 10, 15, 16, 17, 25, 32, 33, 49})
            for (int64_t k : {1, 3, 4, 5, 15, 16, 17, 31, 33, 63, 64, 65, 130})
                if ((m * 7 + n * 3 + k) % 3 == 0 || m == 1 || n == 1 || k == 1) shapes.push_back({m, n, k});
    return shapes;
}

// Runs one product with the optimized entry point and the reference and compares them.
// tn: A is k x m and B is k x n (k is the reduction R).
bool matches(bool tn, const Shape& s, Fill fill, bool nonNegative, bool accumulate, int64_t pad,
             uint32_t seed, std::string* why) {
    const Matrix a = tn ? Matrix(s.k, s.m, pad, fill, false, seed)
                        : Matrix(s.m, s.k, pad, fill, nonNegative, seed);
    const Matrix b = tn ? Matrix(s.k, s.n, pad + 1, fill, nonNegative, seed + 1)
                        : Matrix(s.n, s.k, pad + 1, fill, false, seed + 1);
    Output got(s.m, s.n, pad + 2, seed + 2);
    Output want = got;
    if (tn) {
        gemm_s8_tn(s.m, s.n, s.k, a.ptr(), a.ld, b.ptr(), b.ld, got.data.data(), got.ld, accumulate, nonNegative);
        gemm_s8_tn_ref(s.m, s.n, s.k, a.ptr(), a.ld, b.ptr(), b.ld, want.data.data(), want.ld, accumulate);
    } else {
        gemm_s8_nt(s.m, s.n, s.k, a.ptr(), a.ld, b.ptr(), b.ld, got.data.data(), got.ld, accumulate, nonNegative);
        gemm_s8_nt_ref(s.m, s.n, s.k, a.ptr(), a.ld, b.ptr(), b.ld, want.data.data(), want.ld, accumulate);
    }
    // Compares the padding of C too: a kernel must not write outside the N columns.
    for (size_t i = 0; i < got.data.size(); ++i)
        if (got.data[i] != want.data[i]) {
            *why = std::string(tn ? "tn" : "nt") + " " + gemm_isa_name(gemm_isa_active()) + " M=" +
                   std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k) +
                   " acc=" + std::to_string(accumulate) + " nonneg=" + std::to_string(nonNegative) +
                   " pad=" + std::to_string(pad) + " at " + std::to_string(i) + ": " +
                   std::to_string(got.data[i]) + " != " + std::to_string(want.data[i]);
            return false;
        }
    return true;
}

// LeNet-5 batch-128 products of a training step (see core/doc/kernels.md).
const Shape kLenetNt[] = {{73728, 32, 25}, {8192, 64, 800}, {128, 512, 1024}, {128, 10, 512},
                          {8192, 800, 64}, {128, 1024, 512}, {128, 512, 10}};
const Shape kLenetTn[] = {{32, 25, 73728}, {64, 800, 8192}, {512, 1024, 128}, {10, 512, 128}};

} // namespace

class TestGemm : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void cleanup() { gemm_isa_force(gemm_isa_detected()); }

    void sweepEqualsReference_data() {
        QTest::addColumn<int>("isa");
        QTest::addColumn<bool>("tn");
        for (GemmIsa isa : availableIsas())
            for (bool tn : {false, true})
                QTest::newRow((std::string(gemm_isa_name(isa)) + (tn ? " tn" : " nt")).c_str()) << int(isa) << tn;
    }
    void sweepEqualsReference() {
        QFETCH(int, isa);
        QFETCH(bool, tn);
        gemm_isa_force(GemmIsa(isa));
        QCOMPARE(int(gemm_isa_active()), isa);
        uint32_t seed = 1;
        std::string why;
        for (const Shape& s : sweepShapes())
            for (bool nonNegative : {false, true})
                for (bool accumulate : {false, true}) {
                    const int64_t pad = (s.m + s.n + s.k) % 3 == 0 ? 5 : 0;
                    if (!matches(tn, s, Fill::Random, nonNegative, accumulate, pad, seed++, &why))
                        QFAIL(why.c_str());
                }
    }

    void extremeValues_data() { sweepEqualsReference_data(); }
    void extremeValues() {
        QFETCH(int, isa);
        QFETCH(bool, tn);
        gemm_isa_force(GemmIsa(isa));
        std::string why;
        // With the +128 shift of a signed operand a kernel's raw lane holds up to 255 * 127 per
        // step and passes 2^31 beyond K = 66,313: K = 131,071 (near the contract's limit) checks
        // that the wrapped lanes are corrected exactly.
        for (const Shape& s : {Shape{13, 33, 4099}, Shape{5, 17, 131071}, Shape{1, 1, 64}})
            for (Fill fill : {Fill::AllPlus, Fill::AllMinus, Fill::Alternating})
                for (bool nonNegative : {false, true})
                    if (!matches(tn, s, fill, nonNegative, true, 3, 7, &why)) QFAIL(why.c_str());
    }

    void emptyReduction() {
        for (GemmIsa isa : availableIsas()) {
            gemm_isa_force(isa);
            std::vector<int32_t> c(6, 9);
            gemm_s8_nt(2, 3, 0, nullptr, 0, nullptr, 0, c.data(), 3, true);
            QCOMPARE(c, std::vector<int32_t>(6, 9));
            gemm_s8_tn(2, 3, 0, nullptr, 0, nullptr, 0, c.data(), 3, false);
            QCOMPARE(c, std::vector<int32_t>(6, 0));
        }
    }

    void lenetShapesEqualReference_data() { sweepEqualsReference_data(); }
    void lenetShapesEqualReference() {
        QFETCH(int, isa);
        QFETCH(bool, tn);
        if (GemmIsa(isa) == GemmIsa::Reference) QSKIP("the reference against itself");
        gemm_isa_force(GemmIsa(isa));
        std::string why;
        uint32_t seed = 100;
        // Activations are the non-negative operand in the forward products and weight gradients.
        if (tn) {
            for (const Shape& s : kLenetTn) {
                const bool nonNegative = ++seed % 2 == 0;
                if (!matches(true, s, Fill::Random, nonNegative, false, 0, seed, &why)) QFAIL(why.c_str());
            }
        } else {
            for (const Shape& s : kLenetNt) {
                const bool nonNegative = ++seed % 2 == 0;
                if (!matches(false, s, Fill::Random, nonNegative, false, 0, seed, &why)) QFAIL(why.c_str());
            }
        }
    }

    void threadCountDoesNotChangeResult() {
        // Shapes whose split depends on the thread count: a long reduction (tn splits it), a
        // tall nt product and a wide one.
        const Matrix a(4096, 24, 0, Fill::Random, false, 11);
        const Matrix b(4096, 20, 0, Fill::Random, false, 12);
        const Matrix x(600, 72, 0, Fill::Random, true, 13);
        const Matrix w(300, 72, 0, Fill::Random, false, 14);
        for (GemmIsa isa : availableIsas()) {
            gemm_isa_force(isa);
            std::vector<int32_t> tn[2], nt[2];
            for (int t = 0; t < 2; ++t) {
                tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(t + 1));
                tn[t].assign(24 * 20, 0);
                nt[t].assign(600 * 300, 0);
                gemm_s8_tn(24, 20, 4096, a.ptr(), a.ld, b.ptr(), b.ld, tn[t].data(), 20, false, false);
                gemm_s8_nt(600, 300, 72, x.ptr(), x.ld, w.ptr(), w.ld, nt[t].data(), 300, false, true);
            }
            QVERIFY(tn[0] == tn[1]);
            QVERIFY(nt[0] == nt[1]);
            std::vector<int32_t> ref(24 * 20);
            gemm_s8_tn_ref(24, 20, 4096, a.ptr(), a.ld, b.ptr(), b.ld, ref.data(), 20, false);
            QVERIFY(tn[0] == ref);
        }
    }

    void forcingBeyondTheCpuThrows() {
        if (gemm_isa_detected() == GemmIsa::Avx512Vnni) QSKIP("this CPU has every kernel");
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, gemm_isa_force(GemmIsa::Avx512Vnni));
    }
};

QTEST_APPLESS_MAIN(TestGemm)
#include "test_gemm.moc"
