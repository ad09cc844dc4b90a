// The int16 error path's kernels: the int16 products (gemm16.h) and the engine's int16 passes,
// hand-worked values of the references, and every ISA and thread count equal to them bit for bit.
#include "kernels/gemm16.h"
#include "kernels/wage_kernels.h"
#include "wage_kernels_data.h"

#include <tbb/global_control.h>

#include <QTest>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace bitbench;
using namespace bitbench::wage_kernels;
using namespace wage_kernels_test;

namespace {

const Kernels& ref() { return kernels_reference(); }

// Rows of the per-ISA tests: every ISA, present on this CPU or not (then skipped).
void addIsaRows() {
    QTest::addColumn<int>("isa");
    for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni})
        QTest::newRow(gemm_isa_name(isa)) << int(isa);
}

#define FETCH_ISA()                                                                                               \
    QFETCH(int, isa);                                                                                             \
    if (isa > int(gemm_isa_detected()))                                                                           \
        QSKIP(("this CPU has no " + std::string(gemm_isa_name(GemmIsa(isa))) + " (detected: " +                 \
               gemm_isa_name(gemm_isa_detected()) + ")").c_str());                                               \
    IsaScope scope{GemmIsa(isa)}

// Forces an ISA for the products for one test, then goes back to the detected one.
struct IsaScope {
    explicit IsaScope(GemmIsa isa) { gemm_isa_force(isa); }
    ~IsaScope() { gemm_isa_force(gemm_isa_detected()); }
};

// int16 codes within +-maxA: random, with the extremes often.
std::vector<int16_t> codes16(size_t n, uint32_t seed, int32_t maxA, int fill) {
    std::mt19937 rng(seed);
    std::vector<int16_t> v(n);
    for (auto& x : v) {
        const uint32_t r = rng() % 8;
        if (fill == 1) x = int16_t(maxA);
        else if (fill == 2) x = int16_t(r % 2 ? -maxA : maxA);
        else x = int16_t(r == 0 ? maxA : r == 1 ? -maxA : int32_t(rng() % uint32_t(2 * maxA + 1)) - maxA);
    }
    return v;
}

std::vector<int8_t> codes8(size_t n, uint32_t seed, int fill) {
    if (fill == 1) return std::vector<int8_t>(n, 127);
    if (fill == 2) {
        std::vector<int8_t> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = int8_t(i % 3 ? 127 : -127);
        return v;
    }
    return codes(n, seed, -127, 127);
}

} // namespace

class TestInt16Kernels : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // --- references against values worked out by hand ---

    void referenceProducts() {
        // nt: [1 2 3; -4 5 -6] x [[7 8 9]; [-1 0 1]]^T = [[50, 2]; [-42, -2]].
        const int16_t a[] = {1, 2, 3, -4, 5, -6};
        const int8_t b[] = {7, 8, 9, -1, 0, 1};
        int32_t c[4];
        gemm_s16_nt_ref(2, 2, 3, a, 3, b, 3, c, 2);
        QCOMPARE(std::vector<int32_t>(c, c + 4), (std::vector<int32_t>{50, 2, -42, -2}));
        // tn past int32: 70,000 rows of 32767 x 127 = 291,298,630,000; with -32767 in every
        // other row the sum is 0; accumulate adds to the prior value.
        const int64_t R = 70000;
        std::vector<int16_t> A(size_t(2 * R));
        std::vector<int8_t> B(size_t(R), 127);
        for (int64_t r = 0; r < R; ++r) A[size_t(2 * r)] = 32767, A[size_t(2 * r + 1)] = int16_t(r % 2 ? -32767 : 32767);
        int64_t C[2] = {0, 0};
        gemm_s16_tn_ref(2, 1, R, A.data(), 2, B.data(), 1, C, 1, false);
        QCOMPARE(C[0], int64_t(291298630000));
        QCOMPARE(C[1], int64_t(0));
        gemm_s16_tn_ref(2, 1, R, A.data(), 2, B.data(), 1, C, 1, true);
        QCOMPARE(C[0], int64_t(582597260000));
    }

    void referenceWidePasses() {
        // Q_E at 12 bits: shift 2 of 4097 -> 1024 (1024.25), of -4094 -> -1024 (-1023.5, tie to even);
        // 9000 >> 2 = 2250 clips to 2047; channel 1 dropped by the relu mask.
        const int32_t v[] = {1, 0, 3, 2}, e[] = {4097, 5, -4094, 9000};
        int16_t q[4];
        ref().errorCodes16(v, e, q, 4, {Requant(2, 2047), INT32_MAX, false, true, false});
        QCOMPARE(std::vector<int>(q, q + 4), (std::vector<int>{1024, 0, -1024, 2047}));
        // Routing: the code at the argmax (3: bottom right), zeros elsewhere.
        const int32_t rv[] = {1}, re[] = {-30000};
        const uint8_t argmax[] = {3};
        int16_t r0[2] = {9, 9}, r1[2] = {9, 9};
        ref().errorRouteRow16(rv, re, argmax, r0, r1, 1, 1, {Requant(0, 32767), INT32_MAX, false, true, false});
        QCOMPARE(std::vector<int>({r0[0], r0[1], r1[0], r1[1]}), (std::vector<int>{0, 0, 0, -30000}));
        // max|g| of int64 sums past int32.
        const int64_t g[] = {-(int64_t(1) << 40) - 3, int64_t(1) << 40, 7};
        QCOMPARE(ref().maxAbs64(g, 3), (uint64_t(1) << 40) + 3);
        // v = rne(g * lrQ / 2^s): g = 3 * 2^38 + 2^37 (3.5 * 2^38), lrQ = 2^19 (lr 8), s = 57: 3.5 -> 4;
        // g = 5 * 2^38 + 2^37 -> 5.5 -> 6; g * lrQ passes 2^63 for g = 2^45 (the 128-bit path): 2^64 / 2^57 = 128.
        const int64_t g2[] = {3 * (int64_t(1) << 38) + (int64_t(1) << 37), -(5 * (int64_t(1) << 38) + (int64_t(1) << 37)),
                              int64_t(1) << 45};
        int64_t vs[3];
        QVERIFY(ref().updateValues64(g2, 2, int64_t(1) << 19, 57, vs) != 0); // 4 * 2^-15 has fraction bits
        QCOMPARE(vs[0], int64_t(4));
        QCOMPARE(vs[1], int64_t(-6));
        ref().updateValues64(g2, 3, int64_t(1) << 19, 57, vs);
        QCOMPARE(vs[2], int64_t(128));
        // A whole update: 2^53 * 2^19 / 2^57 = 2^15 (one step of sigma(kG)), no fraction bits, no draw.
        const int64_t g3[] = {int64_t(1) << 53};
        QVERIFY(ref().updateValues64(g3, 1, int64_t(1) << 19, 57, vs) == 0);
        QCOMPARE(vs[0], int64_t(32768));
    }

    // --- every ISA against the references ---

    void widePassesEqualReference_data() { addIsaRows(); }
    void widePassesEqualReference() {
        FETCH_ISA();
        const Kernels& k = kernels_for(GemmIsa(isa));
        uint32_t seed = 7;
        for (int64_t n : kLengths) {
            const auto v = int32Data(size_t(n), ++seed), e = int32Data(size_t(n), ++seed);
            for (const ErrorCode& base : errorCodeVariants()) {
                for (int32_t bits : {9, 12, 16}) {
                    ErrorCode ec = base;
                    ec.qe = Requant(base.qe.right - base.qe.left, (int64_t(1) << (bits - 1)) - 1);
                    std::vector<int16_t> got(size_t(n) + 32, 5), want = got;
                    k.errorCodes16(v.data(), e.data(), got.data(), n, ec);
                    ref().errorCodes16(v.data(), e.data(), want.data(), n, ec);
                    SAME(got, want);
                }
            }
            std::vector<int64_t> g(static_cast<size_t>(n));
            std::mt19937_64 rng(seed);
            for (auto& x : g) x = int64_t(rng() >> (rng() % 2 ? 24 : 40)) - (int64_t(1) << 38);
            QCOMPARE(k.maxAbs64(g.data(), n), ref().maxAbs64(g.data(), n));
            for (int64_t lrQ : {int64_t(0), int64_t(1), int64_t(8192), int64_t(1) << 19, (int64_t(1) << 31) - 1})
                for (int32_t s : {1, 15, 40, 62, 70}) {
                    std::vector<int64_t> got(size_t(n) + 4, 3), want = got;
                    QCOMPARE(k.updateValues64(g.data(), n, lrQ, s, got.data()) != 0,
                             ref().updateValues64(g.data(), n, lrQ, s, want.data()) != 0);
                    SAME(got, want);
                }
        }
        for (int64_t outW : {1, 3, 12})
            for (int64_t N : {1, 16, 17, 32}) {
                const size_t outSize = size_t(outW * N), rowSize = 2 * outSize;
                const auto v = int32Data(outSize, ++seed), e = int32Data(outSize, ++seed);
                std::vector<uint8_t> argmax(outSize);
                for (size_t i = 0; i < outSize; ++i) argmax[i] = uint8_t((seed + i * 7) % 4);
                for (const ErrorCode& ec : errorCodeVariants()) {
                    std::vector<int16_t> got(2 * rowSize + 16, 9), want = got;
                    k.errorRouteRow16(v.data(), e.data(), argmax.data(), got.data(), got.data() + rowSize, outW, N, ec);
                    ref().errorRouteRow16(v.data(), e.data(), argmax.data(), want.data(), want.data() + rowSize, outW,
                                          N, ec);
                    SAME(got, want);
                }
            }
    }

    void referenceDirectGradient16() {
        // One image, 2 x 4 product, 1 x 2 pooled, 16 channels; input rows of 8 bytes all 1 except
        // in[0][0] = 3. Channel 0's codes: 30000 routed to (0, 0) and -20000 to (1, 3); tap (0, 0)
        // sums 30000 * in[0][0] + -20000 * in[1][3] = 90000 - 20000; the prior 2^40 stays.
        std::vector<int8_t> in(6 * 8, 1);
        in[0] = 3;
        std::vector<int16_t> eq(2 * 16, 0);
        std::vector<uint8_t> argmax(2 * 16, 0);
        eq[0] = 30000, argmax[0] = 0;
        eq[16] = -20000, argmax[16] = 3;
        std::vector<int64_t> out(25 * 16, 0);
        out[0] = int64_t(1) << 40;
        ref().gradOneChannel16(in.data(), 6, 8, eq.data(), argmax.data(), 2, 4, 16, 0, 0, 1, out.data());
        QCOMPARE(out[0], (int64_t(1) << 40) + 70000);
        QCOMPARE(out[16], int64_t(10000)); // tap (0, 1): 30000 * 1 - 20000 * 1
        QCOMPARE(out[1], int64_t(0));      // channel 1 has no error
    }

    void directGradient16EqualsReference_data() { addIsaRows(); }
    void directGradient16EqualsReference() {
        FETCH_ISA();
        const Kernels& k = kernels_for(GemmIsa(isa));
        if (!k.directConv) QSKIP("no direct conv kernels for this ISA (the engine uses im2col + the int16 products)");
        uint32_t seed = 31;
        struct S { int64_t convH, convW; };
        for (const S s : {S{2, 4}, S{6, 12}, S{24, 24}})
            for (int64_t N : {16, 32, 64})
                for (int fill = 0; fill < 3; ++fill) {
                    const int64_t images = 3, inH = s.convH + 4, inW = s.convW + 4;
                    const size_t pooled = size_t(images * (s.convH / 2) * (s.convW / 2) * N);
                    auto in = codes(size_t(images * inH * inW), ++seed, 0, 127);
                    auto eq = codes16(pooled, ++seed, 32767, fill);
                    if (fill == 1) std::fill(in.begin(), in.end(), int8_t(127));
                    in.resize(in.size() + 64, int8_t(99));
                    std::vector<uint8_t> argmax(pooled);
                    std::mt19937 rng(seed);
                    for (auto& a : argmax) a = uint8_t(rng() % 4);
                    for (auto [b0, b1] : {std::pair<int64_t, int64_t>{0, 1}, {1, 3}, {0, 3}})
                        for (int64_t v = 0; v < N / 16; ++v) {
                            std::vector<int64_t> got(25 * 16);
                            for (size_t i = 0; i < got.size(); ++i) got[i] = int64_t(rng()) << (i % 3 == 0 ? 30 : 0);
                            auto want = got;
                            k.gradOneChannel16(in.data(), inH, inW, eq.data(), argmax.data(), s.convH, s.convW, N, v,
                                               b0, b1, got.data());
                            ref().gradOneChannel16(in.data(), inH, inW, eq.data(), argmax.data(), s.convH, s.convW, N,
                                                   v, b0, b1, want.data());
                            SAME(got, want);
                        }
                }
    }

    void ntEqualsReference_data() { addIsaRows(); }
    void ntEqualsReference() {
        FETCH_ISA();
        uint32_t seed = 11;
        for (int threads : {1, 2}) {
            tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
            for (int64_t M : {1, 5, 8, 9, 33, 130})
                for (int64_t N : {1, 15, 16, 17, 33, 64, 300})
                    for (int64_t K : {1, 2, 3, 32, 65, 512})
                        for (int64_t pad : {0, 1}) {
                            const int fill = int(seed % 3);
                            // Codes so the sums fit int32: K * maxA * 127 < 2^31.
                            const int32_t maxA = int32_t(std::min<int64_t>(32767, ((int64_t(1) << 31) - 1) / (K * 127)));
                            const int64_t lda = K + pad, ldb = K + 3, ldc = N + 1;
                            auto A = codes16(size_t(M * lda), ++seed, maxA, fill);
                            auto B = codes8(size_t(N * ldb), ++seed, fill);
                            Gemm16PackedB packed;
                            gemm_s16_pack_b(N, K, B.data(), ldb, packed);
                            for (bool parallel : {false, true}) {
                                std::vector<int32_t> got(size_t(M * ldc), -5), want = got;
                                gemm_s16_nt_packed(M, A.data(), lda, packed, got.data(), ldc, parallel);
                                gemm_s16_nt_ref(M, N, K, A.data(), lda, B.data(), ldb, want.data(), ldc);
                                const std::string why = mismatch(got, want);
                                QVERIFY2(why.empty(), (std::to_string(M) + "x" + std::to_string(N) + "x" +
                                                       std::to_string(K) + " " + why).c_str());
                            }
                        }
        }
    }

    void tnEqualsReference_data() { addIsaRows(); }
    void tnEqualsReference() {
        FETCH_ISA();
        uint32_t seed = 23;
        Gemm16Workspace ws;
        for (int threads : {1, 2}) {
            tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
            // R from one row to many chunks (512 rows per int32 chunk at most), M and N around
            // the tiles (8 x 32, 6 x 16); fill 1 and 2: every sum at or near its bound, past 2^31.
            for (int64_t M : {1, 7, 9, 32, 64})
                for (int64_t N : {1, 25, 33, 100})
                    for (int64_t R : {1, 2, 3, 517, 1033, 6000})
                        for (int32_t maxA : {2047, 32767}) {
                            const int fill = int(seed % 3);
                            const int64_t lda = M + 1, ldb = N + 2, ldc = N + 3;
                            auto A = codes16(size_t(R * lda), ++seed, maxA, fill);
                            auto B = codes8(size_t(R * ldb), ++seed, fill);
                            for (bool accumulate : {false, true}) {
                                std::vector<int64_t> got(size_t(M * ldc), 123456789012), want = got;
                                gemm_s16_tn(M, N, R, A.data(), lda, B.data(), ldb, got.data(), ldc, accumulate, maxA, 127,
                                            ws);
                                gemm_s16_tn_ref(M, N, R, A.data(), lda, B.data(), ldb, want.data(), ldc, accumulate);
                                const std::string why = mismatch(got, want);
                                QVERIFY2(why.empty(), (std::to_string(M) + "x" + std::to_string(N) + "x" +
                                                       std::to_string(R) + " " + why).c_str());
                            }
                        }
        }
    }

    // Both operands int16 (banner8's weight gradient: int16 E_grad codes against u8 activations
    // minus their zero point, and the extremes of int16 on both sides).
    void tnWideEqualsReference_data() { addIsaRows(); }
    void tnWideEqualsReference() {
        FETCH_ISA();
        uint32_t seed = 41;
        Gemm16Workspace ws;
        for (int threads : {1, 2}) {
            tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
            for (int64_t M : {1, 9, 32, 64})
                for (int64_t N : {1, 25, 33, 100})
                    for (int64_t R : {1, 3, 257, 1033, 6000})
                        for (const auto [maxA, maxB] : {std::pair{32767, 255}, std::pair{32767, 32767}, std::pair{255, 127}}) {
                            const int fill = int(seed % 3);
                            const int64_t lda = M + 1, ldb = N + 2, ldc = N + 3;
                            auto A = codes16(size_t(R * lda), ++seed, maxA, fill);
                            auto B = codes16(size_t(R * ldb), ++seed, maxB, fill);
                            for (bool accumulate : {false, true}) {
                                std::vector<int64_t> got(size_t(M * ldc), 123456789012), want = got;
                                gemm_s16_tn(M, N, R, A.data(), lda, B.data(), ldb, got.data(), ldc, accumulate, maxA,
                                            maxB, ws);
                                gemm_s16_tn_ref(M, N, R, A.data(), lda, B.data(), ldb, want.data(), ldc, accumulate);
                                const std::string why = mismatch(got, want);
                                QVERIFY2(why.empty(), (std::to_string(M) + "x" + std::to_string(N) + "x" +
                                                       std::to_string(R) + " " + why).c_str());
                            }
                        }
        }
    }

    void tnChunksFitInt32() {
        // 516 * 32767 * 127 < 2^31 <= 517 * 32767 * 127, capped at 512 rows for cache.
        QCOMPARE(gemm_s16_tn_chunk_rows(32767, 127), int64_t(512));
        QCOMPARE(gemm_s16_tn_chunk_rows(2047, 127), int64_t(512));
        // 257 * 32767 * 255 < 2^31 <= 258 * ...: 257, made even.
        QCOMPARE(gemm_s16_tn_chunk_rows(32767, 255), int64_t(256));
        QCOMPARE(gemm_s16_tn_chunk_rows(32767, 32767), int64_t(2));
    }
};

QTEST_APPLESS_MAIN(TestInt16Kernels)
#include "test_int16_kernels.moc"
