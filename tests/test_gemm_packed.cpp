// int8 GEMM with a pre-packed B (plain, and adding at offsets): equals the reference for every
// ISA, with A signed or not, in the shapes the engine calls it with.
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

    // The col2im-fused form: a conv error product (rows: 3 x 4 output pixels of 2 images, columns:
    // 3 x 3 taps x 32 channels) added into a 5 x 6 x 32 input error, where many (row, column)
    // pairs share an address; against the reference product summed by hand.
    void addAtEqualsReferenceCol2im_data() { packedEqualsReference_data(); }

    void addAtEqualsReferenceCol2im() {
        QFETCH(int, isa);
        QFETCH(bool, aNonNegative);
        gemm_isa_force(GemmIsa(isa));
        const int64_t images = 2, convH = 3, convW = 4, kernel = 3, inH = 5, inW = 6, inC = 32, Cout = 20;
        const int64_t M = images * convH * convW, N = kernel * kernel * inC, K = Cout, image = inH * inW * inC;
        std::mt19937 rng(11);
        std::uniform_int_distribution<int> da(aNonNegative ? 0 : -127, 127), db(-127, 127);
        std::vector<int8_t> A(size_t(M * K)), B(size_t(N * K));
        for (auto& x : A) x = int8_t(da(rng));
        for (auto& x : B) x = int8_t(db(rng));
        std::vector<int64_t> rowOff, colOff;
        for (int64_t b = 0; b < images; ++b)
            for (int64_t oy = 0; oy < convH; ++oy)
                for (int64_t ox = 0; ox < convW; ++ox) rowOff.push_back(b * image + (oy * inW + ox) * inC);
        for (int64_t ky = 0; ky < kernel; ++ky)
            for (int64_t kx = 0; kx < kernel; ++kx)
                for (int64_t c = 0; c < inC; ++c) colOff.push_back((ky * inW + kx) * inC + c);
        std::vector<int32_t> C(size_t(M * N));
        gemm_s8_nt_ref(M, N, K, A.data(), K, B.data(), K, C.data(), N, false);
        std::vector<int32_t> want(size_t(images * image), 3), got(want);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) want[size_t(rowOff[size_t(i)] + colOff[size_t(j)])] += C[size_t(i * N + j)];
        GemmPackedB packed;
        gemm_s8_pack_b(N, K, B.data(), K, packed);
        gemm_s8_nt_packed_add_at(M, A.data(), K, packed, got.data(), rowOff.data(), colOff.data(), aNonNegative);
        QCOMPARE(got, want);
        gemm_isa_force(gemm_isa_detected());
    }
};

QTEST_APPLESS_MAIN(TestGemmPacked)
#include "test_gemm_packed.moc"
