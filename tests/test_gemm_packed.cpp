// int8 GEMM with a pre-packed B: equals the reference for every ISA, with A signed or not, in
// chunks of rows as the engine calls it.
#include "bitbench/gemm.h"

#include <QTest>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace bitbench;

class TestGemmPacked : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void packedEqualsReference_data() {
        QTest::addColumn<int>("isa");
        QTest::addColumn<bool>("aNonNegative");
        for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
            if (int(isa) > int(gemm_isa_detected())) continue;
            for (bool nonNeg : {false, true})
                QTest::newRow((std::string(gemm_isa_name(isa)) + (nonNeg ? " u8" : " s8")).c_str()) << int(isa) << nonNeg;
        }
    }

    void packedEqualsReference() {
        QFETCH(int, isa);
        QFETCH(bool, aNonNegative);
        gemm_isa_force(GemmIsa(isa));
        std::mt19937 rng(7);
        // Shapes of the engine's chunked products (conv2 forward and error) and odd edges.
        const int64_t shapes[][3] = {{192, 64, 800}, {128, 800, 64}, {37, 17, 5}, {13, 33, 131}, {1, 1, 1}};
        GemmPackedB packed; // reused across shapes, as a layer reuses it across steps
        for (const auto& s : shapes) {
            const int64_t M = s[0], N = s[1], K = s[2], lda = K + 3, ldb = K + 5, ldc = N + 2;
            std::uniform_int_distribution<int> da(aNonNegative ? 0 : -127, 127), db(-127, 127);
            std::vector<int8_t> A(size_t(M * lda), int8_t(-128)), B(size_t(N * ldb), int8_t(-128));
            for (int64_t i = 0; i < M; ++i)
                for (int64_t k = 0; k < K; ++k) A[size_t(i * lda + k)] = int8_t(da(rng));
            for (int64_t j = 0; j < N; ++j)
                for (int64_t k = 0; k < K; ++k) B[size_t(j * ldb + k)] = int8_t(db(rng));
            std::vector<int32_t> want(size_t(M * ldc), 5), got(size_t(M * ldc), 5);
            gemm_s8_nt_ref(M, N, K, A.data(), lda, B.data(), ldb, want.data(), ldc, true);
            gemm_s8_pack_b(N, K, B.data(), ldb, packed);
            // In two chunks of rows, the second accumulating onto the prior contents too.
            const int64_t half = M / 2;
            gemm_s8_nt_packed(half, A.data(), lda, packed, got.data(), ldc, true, aNonNegative);
            gemm_s8_nt_packed(M - half, A.data() + half * lda, lda, packed, got.data() + half * ldc, ldc, true,
                              aNonNegative);
            QCOMPARE(got, want);
        }
        gemm_isa_force(gemm_isa_detected());
    }
};

QTEST_APPLESS_MAIN(TestGemmPacked)
#include "test_gemm_packed.moc"
