// The integer engine's kernels: hand-worked values of the references, and every ISA's version equal to them bit for bit.
#include "kernels/wage_kernels.h"
#include "wage_kernels_data.h"

#include "bitbench/philox.h"

#include <QTest>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace bitbench;
using namespace bitbench::wage_kernels;
using namespace wage_kernels_test;

namespace {

const Kernels& ref() { return kernels_reference(); }

// Rows of the per-ISA tests: every vector ISA, present on this CPU or not (then skipped).
void addIsaRows() {
    QTest::addColumn<int>("isa");
    for (GemmIsa isa : {GemmIsa::Avx2, GemmIsa::Avx512Vnni}) QTest::newRow(gemm_isa_name(isa)) << int(isa);
}

// The table of the row's ISA, or a skip when the CPU (or the build) lacks it.
#define FETCH_TABLE(k)                                                                                            \
    QFETCH(int, isa);                                                                                             \
    if (isa > int(gemm_isa_detected()))                                                                           \
        QSKIP(("this CPU has no " + std::string(gemm_isa_name(GemmIsa(isa))) + " (detected: " +                 \
               gemm_isa_name(gemm_isa_detected()) + ")").c_str());                                               \
    const Kernels& k = kernels_for(GemmIsa(isa));                                                                 \
    QCOMPARE(int(k.isa), isa)

} // namespace

class TestWageKernels : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // --- the references against values worked out by hand ---

    void referenceRoundsHalfToEvenAndClips() {
        struct Case { int32_t shift, bound, x; bool relu; int code; };
        const Case cases[] = {
            {2, 127, 6, false, 2},    {2, 127, 10, false, 2},  {2, 127, 14, false, 4}, // 1.5, 2.5, 3.5
            {2, 127, -6, false, -2},  {2, 127, -10, false, -2}, {2, 127, 5, false, 1}, // -1.5, -2.5, 1.25
            {2, 127, 7, false, 2},    {2, 127, -5, false, -1}, {2, 127, 1000, false, 127},
            {2, 127, -6, true, 0},    {-2, 127, 5, false, 20}, {-2, 127, -31, false, -124},
            {-2, 127, 32, false, 127}, {-2, 127, INT32_MAX, false, 127}, {-2, 127, INT32_MIN, false, -127},
            {0, 3, 4, false, 3},      {0, 3, -4, false, -3},   {0, 3, 2, false, 2},
        };
        for (const Case& c : cases) {
            int8_t code = 99;
            ref().reluQuantize(&c.x, &code, 1, Requant(c.shift, c.bound), c.relu);
            QCOMPARE(int(code), c.code);
        }
    }

    void referencePoolsWithFirstArgmax() {
        // Channels: a tie of positions 0, 1 and 3; a tie of 1 and 2; all negative; 3 the largest.
        const int32_t r0[] = {3, 1, -7, 0, 3, 2, -5, 1}, r1[] = {1, 2, -9, 2, 3, 1, -6, 5};
        int32_t pooled[4];
        uint8_t argmax[4];
        int8_t out[4], outCodes[4];
        ref().poolRow(r0, r1, 1, 4, pooled, argmax, out, Requant(0, 127), true);
        ref().poolRowCodes(r0, r1, 1, 4, outCodes, Requant(0, 127), true);
        QCOMPARE(std::vector<int32_t>(pooled, pooled + 4), (std::vector<int32_t>{3, 2, -5, 5}));
        QCOMPARE(std::vector<int>(argmax, argmax + 4), (std::vector<int>{0, 1, 1, 3}));
        QCOMPARE(std::vector<int>(out, out + 4), (std::vector<int>{3, 2, 0, 5}));
        QCOMPARE(std::vector<int>(outCodes, outCodes + 4), (std::vector<int>{3, 2, 0, 5}));
    }

    void referenceErrorCodesAndRouting() {
        // Q_E = shift 1: 9 -> 4 (4.5), -13 -> -6 (-6.5); channel 1 is dropped by the relu mask.
        const int32_t v[] = {4, 0, 5}, e[] = {9, 7, -13};
        const uint8_t argmax[] = {2, 1, 1};
        int8_t r0[6], r1[6];
        const ErrorCode ec{Requant(1, 127), INT32_MAX, false, true, false};
        ref().errorRouteRow(v, e, argmax, r0, r1, 1, 3, ec);
        QCOMPARE(std::vector<int>(r0, r0 + 6), (std::vector<int>{0, 0, 0, 0, 0, -6}));
        QCOMPARE(std::vector<int>(r1, r1 + 6), (std::vector<int>{4, 0, 0, 0, 0, 0}));
        // The logits' clip mask after Q_E: |v| > 10 dropped; `zero` drops everything.
        const int32_t lv[] = {11, -11, 10, -10}, le[] = {1, 2, 3, 4};
        int8_t q[4];
        ref().errorCodes(lv, le, q, 4, {Requant(0, 127), 10, false, false, true});
        QCOMPARE(std::vector<int>(q, q + 4), (std::vector<int>{0, 0, 3, 4}));
        ref().errorCodes(lv, le, q, 4, {Requant(0, 127), 10, true, false, false});
        QCOMPARE(std::vector<int>(q, q + 4), (std::vector<int>{0, 0, 0, 0}));
    }

    void referenceClipMaskAndMax() {
        const int32_t v[] = {5, -5, 2, -3, 0};
        int32_t e[] = {-8, 9, -7, 4, 1};
        QCOMPARE(ref().clipMaskMax(v, e, 5, 3, false), 7u);
        QCOMPARE(std::vector<int32_t>(e, e + 5), (std::vector<int32_t>{0, 0, -7, 4, 1}));
        int32_t e2[] = {-8, 9, -7, 4, 1}; // relu: -5 counts as 0, inside the clip
        QCOMPARE(ref().clipMaskMax(v, e2, 5, 3, true), 9u);
        QCOMPARE(std::vector<int32_t>(e2, e2 + 5), (std::vector<int32_t>{0, 9, -7, 4, 1}));
        const int32_t m[] = {1, -9, 4}, big[] = {5, INT32_MIN};
        QCOMPARE(ref().maxAbs(m, 3), 9u);
        QCOMPARE(ref().maxAbs(big, 2), 2147483648u);
        QCOMPARE(ref().maxAbs(m, 0), 0u);
    }

    void referenceCol2imCountsWindows() {
        // 3 x 3 input, 3 x 3 kernel, padding 1, all products 1: each pixel gets one per window.
        const std::vector<int32_t> src(9 * 9, 1);
        std::vector<int32_t> dst(9, 77);
        ref().col2im(src.data(), dst.data(), 3, 3, 3, 1, 3, 3, 1);
        QCOMPARE(dst, (std::vector<int32_t>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
    }

    void referenceUpdate() {
        const int32_t g[] = {3, 1, -3, 2, 0};
        int64_t vs[5];
        QVERIFY(ref().updateValues(g, 5, 1, 1, vs) != 0);
        QCOMPARE(std::vector<int64_t>(vs, vs + 5), (std::vector<int64_t>{2, 0, -2, 1, 0}));
        const int32_t whole[] = {2, -4}; // lr 1/2 at s = 1: whole multiples of 2^15, no fraction
        QCOMPARE(ref().updateValues(whole, 2, 1 << 15, 1, vs), 0u);
        QCOMPARE(vs[1], int64_t(-65536));
        // 1.5 rounds up iff draw >> 17 < 2^14; -(1 + 2^-15) with draw 0 gives -2. up = 2,
        // latent bound 100, forward = shift 2 clipped to 7.
        const int64_t v[] = {3 * 32768 + 16384, 3 * 32768 + 16384, -(32768 + 1), 0};
        const uint32_t draws[] = {16383u << 17, 16384u << 17, 0, 12345};
        int32_t wLat[] = {10, 10, 200, -150};
        int16_t dw[4];
        int8_t wq[4];
        ref().updateApply(v, draws, 4, {100, 2, Requant(2, 7)}, wLat, dw, wq);
        QCOMPARE(std::vector<int>(dw, dw + 4), (std::vector<int>{4, 3, -2, 0}));
        QCOMPARE(std::vector<int32_t>(wLat, wLat + 4), (std::vector<int32_t>{-6, -2, 108, -100}));
        QCOMPARE(std::vector<int>(wq, wq + 4), (std::vector<int>{-2, 0, 7, -7}));
    }

    void referenceTranspose() {
        const int8_t src[] = {1, 2, 3, 4, 5, 6};
        int8_t dst[6];
        ref().transpose(src, 3, 2, 3, dst, 2);
        QCOMPARE(std::vector<int>(dst, dst + 6), (std::vector<int>{1, 4, 2, 5, 3, 6}));
    }

    void referenceDirectConv() {
        // in[y][x] = 10 y + x; channel 0: tap (1, 2) = 1; 1: tap (4, 4) = 2; 2: tap (3, 4) = -1;
        // 3: every tap 1 (the window sum 550 + 25 ox).
        const int64_t N = 16, inW = 6, convW = 2;
        std::vector<int8_t> in(5 * inW + 64, 0), w(size_t(N * 25), 0);
        for (int64_t y = 0; y < 5; ++y)
            for (int64_t x = 0; x < inW; ++x) in[size_t(y * inW + x)] = int8_t(10 * y + x);
        w[0 * 25 + 1 * 5 + 2] = 1;
        w[1 * 25 + 4 * 5 + 4] = 2;
        w[2 * 25 + 3 * 5 + 4] = -1;
        for (int t = 0; t < 25; ++t) w[size_t(3 * 25 + t)] = 1;
        std::vector<int8_t> quad(size_t(inW * 4 + 64));
        ref().buildQuad(in.data(), inW, 1, quad.data());
        QCOMPARE(std::vector<int>(quad.begin() + 8, quad.begin() + 12), (std::vector<int>{2, 12, 22, 32}));
        std::vector<int32_t> out(size_t(convW * N), -1);
        ref().convRowOneChannel(in.data(), quad.data(), inW, convW, N, packDirect(w, N).data(), out.data());
        for (int64_t ox = 0; ox < convW; ++ox) {
            QCOMPARE(out[size_t(ox * N + 0)], int32_t(12 + ox));
            QCOMPARE(out[size_t(ox * N + 1)], int32_t(88 + 2 * ox));
            QCOMPARE(out[size_t(ox * N + 2)], int32_t(-34 - ox));
            QCOMPARE(out[size_t(ox * N + 3)], int32_t(550 + 25 * ox));
            QCOMPARE(out[size_t(ox * N + 4)], 0);
        }
    }

    void referenceDirectGradient() {
        // One image, product 2 x 4, pooled 1 x 2. Channel 0: code 3 at pooled (0, 0) from
        // position 3 (oy 1, ox 1), code -2 at pooled (0, 1) from position 0 (oy 0, ox 2).
        // in[y][x] = 8 y + x, so tap (ky, kx) gets 3 in[1+ky][1+kx] - 2 in[ky][2+kx] = 23 + 8 ky + kx.
        const int64_t N = 16, inH = 6, inW = 8;
        std::vector<int8_t> in(size_t(inH * inW + 64), 0), eq(size_t(2 * N), 0);
        std::vector<uint8_t> argmax(size_t(2 * N), 0);
        for (int64_t i = 0; i < inH * inW; ++i) in[size_t(i)] = int8_t(i);
        eq[0] = 3;
        argmax[0] = 3;
        eq[size_t(N)] = -2;
        argmax[size_t(N)] = 0;
        std::vector<int32_t> out(25 * 16, 100);
        ref().gradOneChannel(in.data(), inH, inW, eq.data(), argmax.data(), 2, 4, N, 0, 0, 1, out.data());
        for (int64_t ky = 0; ky < 5; ++ky)
            for (int64_t kx = 0; kx < 5; ++kx) {
                QCOMPARE(out[size_t((ky * 5 + kx) * 16)], int32_t(100 + 23 + 8 * ky + kx));
                QCOMPARE(out[size_t((ky * 5 + kx) * 16 + 1)], 100);
            }
    }

    // --- every table against Random::block and the reference ---

    void philoxEqualsRandomBlock_data() {
        QTest::addColumn<int>("isa");
        for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni})
            QTest::newRow(gemm_isa_name(isa)) << int(isa);
    }
    void philoxEqualsRandomBlock() {
        FETCH_TABLE(k);
        for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(0xDEADBEEF12345678ull)})
            for (uint64_t step : {uint64_t(0), uint64_t(7), uint64_t(1) << 40 | 3u})
                for (uint32_t tensor : {0u, 3u})
                    for (uint32_t first : {0u, 1u, 16u, 12345u, 0xFFFFFFF8u}) { // the last wraps
                        const Random rng(seed);
                        const PhiloxLanes lanes{uint32_t(seed), uint32_t(seed >> 32), tensor, uint32_t(step),
                                                (uint32_t(RandomPurpose::StochasticRound) << 24) |
                                                    uint32_t((step >> 32) & 0xFFFFFFu)};
                        uint32_t draws[4 * kDrawBlocks + 1];
                        draws[4 * kDrawBlocks] = 0xA5A5A5A5u;
                        k.philoxDraws(lanes, first, draws);
                        for (uint32_t b = 0; b < kDrawBlocks; ++b) {
                            const PhiloxBlock want = rng.block(RandomPurpose::StochasticRound, step, tensor, first + b);
                            for (uint32_t w = 0; w < 4; ++w) QCOMPARE(draws[4 * b + w], want[w]);
                        }
                        QCOMPARE(draws[4 * kDrawBlocks], 0xA5A5A5A5u);
                    }
    }

    void elementwiseEqualsReference_data() { addIsaRows(); }
    void elementwiseEqualsReference() {
        FETCH_TABLE(k);
        uint32_t seed = 1;
        for (int64_t n : kLengths)
            for (bool zero : {false, true}) {
                const auto v = int32Data(size_t(n), ++seed, zero), e = int32Data(size_t(n), ++seed, zero);
                QCOMPARE(k.maxAbs(v.data(), n), ref().maxAbs(v.data(), n));
                for (bool relu : {false, true}) {
                    for (const Requant& q : requants()) {
                        std::vector<int8_t> got(size_t(n) + 64, 55), want = got;
                        k.reluQuantize(v.data(), got.data(), n, q, relu);
                        ref().reluQuantize(v.data(), want.data(), n, q, relu);
                        SAME(got, want);
                    }
                    for (int32_t clip : {0, 1, 127, 1 << 20, INT32_MAX}) {
                        auto got = e, want = e;
                        QCOMPARE(k.clipMaskMax(v.data(), got.data(), n, clip, relu),
                                 ref().clipMaskMax(v.data(), want.data(), n, clip, relu));
                        SAME(got, want);
                    }
                }
                for (const ErrorCode& ec : errorCodeVariants()) {
                    std::vector<int8_t> got(size_t(n) + 64, 55), want = got;
                    k.errorCodes(v.data(), e.data(), got.data(), n, ec);
                    ref().errorCodes(v.data(), e.data(), want.data(), n, ec);
                    SAME(got, want);
                }
            }
    }

    void updateEqualsReference_data() { addIsaRows(); }
    void updateEqualsReference() {
        FETCH_TABLE(k);
        std::mt19937 rng(5);
        for (int64_t n : kLengths)
            for (int64_t lrQ : {int64_t(1), int64_t(6553), int64_t(65536), int64_t(1) << 20})
                for (int32_t s : {1, 2, 15, 17, 30, 40}) {
                    const auto g = int32Data(size_t(n), rng(), lrQ == 6553 && s == 15); // and a zero gradient
                    std::vector<int64_t> got(size_t(n) + 8, 9), want = got;
                    QCOMPARE(k.updateValues(g.data(), n, lrQ, s, got.data()) != 0,
                             ref().updateValues(g.data(), n, lrQ, s, want.data()) != 0);
                    SAME(got, want);
                }
        for (int64_t n : kLengths)
            for (int32_t up : {0, 3, 8})
                for (int64_t bound : {int64_t(63), int64_t(32640), int64_t(1) << 29}) {
                    std::vector<int64_t> vs(static_cast<size_t>(n));
                    std::vector<uint32_t> draws(static_cast<size_t>(n));
                    std::vector<int32_t> w(static_cast<size_t>(n));
                    for (int64_t i = 0; i < n; ++i) {
                        vs[size_t(i)] = int64_t(rng() % (1u << 22)) - (1 << 21);
                        if (i % 5 == 0) vs[size_t(i)] = 0;
                        draws[size_t(i)] = rng();
                        w[size_t(i)] = int32_t(int64_t(rng() % uint32_t(4 * bound + 1)) - 2 * bound);
                    }
                    for (const Requant& fwd : {Requant(up + 3, 127), Requant(0, 1), Requant(22, 7)}) {
                        const UpdateParams p{bound, up, fwd};
                        auto wGot = w, wWant = w;
                        std::vector<int16_t> dGot(size_t(n) + 8, 3), dWant = dGot;
                        std::vector<int8_t> qGot(size_t(n) + 8, 3), qWant = qGot;
                        k.updateApply(vs.data(), draws.data(), n, p, wGot.data(), dGot.data(), qGot.data());
                        ref().updateApply(vs.data(), draws.data(), n, p, wWant.data(), dWant.data(), qWant.data());
                        SAME(wGot, wWant);
                        SAME(dGot, dWant);
                        SAME(qGot, qWant);
                    }
                }
    }

    // Range BN in fixed point (fixedBnRows): the reference by hand (p / 2^s rounded half to even,
    // saturation to int32 before and after the offset), then every table against it.
    void referenceFixedBn() {
        const int64_t b[] = {0, 0, 0, 0, 0}, m[] = {int64_t(1) << 30, int64_t(1) << 30, int64_t(1) << 30,
                                                   int64_t(1) << 30, int64_t(1) << 30};
        const int64_t sh[] = {31, 32, 31, 1, 1}, off[] = {0, 0, 0, 0, -3};
        int64_t half[5];
        for (int i = 0; i < 5; ++i) half[i] = (int64_t(1) << (sh[i] - 1)) - 1;
        const int32_t q[] = {1, 1, -1, 3, -3};
        float y[5];
        ref().fixedBnRows(q, 1, 5, 3, {b, m, sh, half, off}, y);
        // 1.5 -> 2, 0.75 -> 1, -1.5 -> -2, 9 * 2^29 -> INT32_MAX, -9 * 2^29 -> INT32_MIN (then - 3, saturated).
        const float want[] = {2.0f / 65536, 1.0f / 65536, -2.0f / 65536, float(double(INT32_MAX) / 65536),
                              float(double(INT32_MIN) / 65536)};
        for (int i = 0; i < 5; ++i) QCOMPARE(y[i], want[i]);
    }

    void fixedBnEqualsReference_data() { addIsaRows(); }
    void fixedBnEqualsReference() {
        FETCH_TABLE(k);
        std::mt19937 rng(17);
        for (int64_t rows : {1, 3, 17})
            for (int64_t c : {1, 5, 16, 32, 33, 64})
                for (int64_t a : {int64_t(1), int64_t(128), int64_t(73728)}) {
                    std::vector<int32_t> q(static_cast<size_t>(rows * c));
                    for (auto& v : q) v = int32_t(rng() % 511) - 255;
                    const size_t nc = static_cast<size_t>(c);
                    std::vector<int64_t> b(nc), m(nc), sh(nc), half(nc), off(nc);
                    for (int64_t j = 0; j < c; ++j) {
                        b[size_t(j)] = int64_t(rng() % (1u << 25)) - (1 << 24);
                        const int64_t mag = (int64_t(1) << 30) + int64_t(rng() % (1u << 30));
                        m[size_t(j)] = rng() % 2 ? mag : -mag;
                        sh[size_t(j)] = 1 + int64_t(rng() % 62);
                        if (j % 3 == 0) sh[size_t(j)] = 30 + int64_t(rng() % 20); // mostly in range
                        half[size_t(j)] = (int64_t(1) << (sh[size_t(j)] - 1)) - 1;
                        off[size_t(j)] = int64_t(int32_t(rng()));
                    }
                    const FixedBnChannels ch{b.data(), m.data(), sh.data(), half.data(), off.data()};
                    std::vector<float> got(size_t(rows * c) + 8, 7.0f), want = got;
                    k.fixedBnRows(q.data(), rows, c, a, ch, got.data());
                    ref().fixedBnRows(q.data(), rows, c, a, ch, want.data());
                    SAME(got, want);
                }
    }

    void rowsEqualReference_data() { addIsaRows(); }
    void rowsEqualReference() {
        FETCH_TABLE(k);
        uint32_t seed = 100;
        for (int64_t outW : {1, 2, 3, 7, 14})
            for (int64_t N : {1, 3, 8, 16, 17, 32, 33, 64})
                for (int fill = 0; fill < 3; ++fill) {
                    const size_t rowSize = size_t(2 * outW * N), outSize = size_t(outW * N);
                    // fill 1: values in [-2, 2], mostly ties; 2: all zero.
                    auto r0 = int32Data(rowSize, ++seed, fill == 2), r1 = int32Data(rowSize, ++seed, fill == 2);
                    if (fill == 1)
                        for (size_t i = 0; i < rowSize; ++i) r0[i] = r0[i] % 3, r1[i] = r1[i] % 3;
                    for (bool relu : {false, true})
                        for (const Requant& q : {Requant(0, 127), Requant(7, 127), Requant(-3, 3)}) {
                            std::vector<int32_t> pGot(outSize + 16, 7), pWant = pGot;
                            std::vector<uint8_t> aGot(outSize + 16, 7), aWant = aGot;
                            std::vector<int8_t> cGot(outSize + 16, 7), cWant = cGot, eGot = cGot, eWant = cGot;
                            k.poolRow(r0.data(), r1.data(), outW, N, pGot.data(), aGot.data(), cGot.data(), q, relu);
                            ref().poolRow(r0.data(), r1.data(), outW, N, pWant.data(), aWant.data(), cWant.data(), q,
                                          relu);
                            SAME(pGot, pWant);
                            SAME(aGot, aWant);
                            SAME(cGot, cWant);
                            k.poolRowCodes(r0.data(), r1.data(), outW, N, eGot.data(), q, relu);
                            ref().poolRowCodes(r0.data(), r1.data(), outW, N, eWant.data(), q, relu);
                            SAME(eGot, eWant);
                        }
                    const auto v = int32Data(outSize, ++seed, fill == 2), e = int32Data(outSize, ++seed, fill == 2);
                    std::vector<uint8_t> argmax(outSize);
                    for (size_t i = 0; i < outSize; ++i) argmax[i] = uint8_t((seed + i * 7) % 4);
                    for (const ErrorCode& ec : errorCodeVariants()) {
                        std::vector<int8_t> got(2 * rowSize + 16, 9), want = got;
                        k.errorRouteRow(v.data(), e.data(), argmax.data(), got.data(), got.data() + rowSize, outW, N, ec);
                        ref().errorRouteRow(v.data(), e.data(), argmax.data(), want.data(), want.data() + rowSize, outW,
                                            N, ec);
                        SAME(got, want);
                    }
                }
    }

    void col2imEqualsReference_data() { addIsaRows(); }
    void col2imEqualsReference() {
        FETCH_TABLE(k);
        struct S { int64_t inH, inW, inC, kernel, pad; };
        for (const S s : {S{3, 3, 1, 3, 1}, S{5, 7, 3, 3, 1}, S{8, 8, 2, 5, 0}, S{6, 5, 16, 5, 2}, S{12, 12, 32, 5, 0},
                          S{4, 9, 17, 3, 0}, S{1, 1, 1, 1, 0}}) {
            const int64_t convH = s.inH + 2 * s.pad - s.kernel + 1, convW = s.inW + 2 * s.pad - s.kernel + 1;
            const size_t srcSize = size_t(convH * convW * s.kernel * s.kernel * s.inC), dstSize = size_t(s.inH * s.inW * s.inC);
            for (bool zero : {false, true}) {
                auto src = int32Data(srcSize, uint32_t(srcSize), zero);
                for (auto& x : src) x /= 4096; // sums of up to 25 taps stay in int32 (as in the engine)
                std::vector<int32_t> got(dstSize + 16, 5), want = got;
                k.col2im(src.data(), got.data(), convH, convW, s.kernel, s.pad, s.inH, s.inW, s.inC);
                ref().col2im(src.data(), want.data(), convH, convW, s.kernel, s.pad, s.inH, s.inW, s.inC);
                SAME(got, want);
            }
        }
    }

    void transposeEqualsReference_data() { addIsaRows(); }
    void transposeEqualsReference() {
        FETCH_TABLE(k);
        for (int64_t rows : {1, 15, 16, 17, 31, 32, 33, 64})
            for (int64_t cols : {1, 15, 16, 17, 31, 32, 33, 64})
                for (int64_t pad : {0, 5}) {
                    const int64_t lds = cols + pad, ldd = rows + 2 * pad;
                    const auto src = codes(size_t(rows * lds), uint32_t(rows * 100 + cols), -127, 127);
                    std::vector<int8_t> got(size_t(cols * ldd), 66), want = got;
                    k.transpose(src.data(), lds, rows, cols, got.data(), ldd);
                    ref().transpose(src.data(), lds, rows, cols, want.data(), ldd);
                    SAME(got, want);
                }
    }

    void directConvEqualsReference_data() { addIsaRows(); }
    void directConvEqualsReference() {
        FETCH_TABLE(k);
        if (k.convRowOneChannel == ref().convRowOneChannel)
            QSKIP("no direct conv kernels for this ISA: it runs the reference (the engine uses im2col + GEMM)");
        uint32_t seed = 7;
        for (int64_t inW : {5, 6, 8, 9, 16, 19, 20, 21, 32, 33})
            for (int64_t N : {16, 32, 64})
                for (int fill = 0; fill < 3; ++fill) {
                    const int64_t convW = inW - 4, inH = 9, convH = inH - 4;
                    // fill 0: random; 1: extremes (input 127, weights +-127); 2: zero input.
                    auto in = codes(size_t(inH * inW), ++seed, 0, 127);
                    auto w = codes(size_t(N * 25), ++seed, -127, 127);
                    if (fill == 1) {
                        std::fill(in.begin(), in.end(), int8_t(127));
                        for (size_t i = 0; i < w.size(); ++i) w[i] = int8_t(i % 3 == 0 ? -127 : 127);
                    }
                    if (fill == 2) std::fill(in.begin(), in.end(), int8_t(0));
                    in.resize(in.size() + 64, int8_t(99)); // slack read times zero weights
                    std::vector<int8_t> quadGot(size_t(convH * inW * 4) + 64, 1), quadWant = quadGot;
                    k.buildQuad(in.data(), inW, convH, quadGot.data());
                    ref().buildQuad(in.data(), inW, convH, quadWant.data());
                    SAME(quadGot, quadWant);
                    const auto wp = packDirect(w, N);
                    for (int64_t oy = 0; oy < convH; ++oy) {
                        std::vector<int32_t> got(size_t(convW * N) + 16, 3), want = got;
                        const int8_t* x = in.data() + oy * inW;
                        const int8_t* q = quadWant.data() + oy * inW * 4;
                        k.convRowOneChannel(x, q, inW, convW, N, wp.data(), got.data());
                        ref().convRowOneChannel(x, q, inW, convW, N, wp.data(), want.data());
                        SAME(got, want);
                    }
                }
    }

    void directGradientEqualsReference_data() { addIsaRows(); }
    void directGradientEqualsReference() {
        FETCH_TABLE(k);
        if (k.gradOneChannel == ref().gradOneChannel)
            QSKIP("no direct conv kernels for this ISA: it runs the reference (the engine uses im2col + GEMM)");
        uint32_t seed = 9;
        struct S { int64_t convH, convW; };
        for (const S s : {S{2, 4}, S{4, 8}, S{6, 12}, S{24, 24}})
            for (int64_t N : {16, 32, 64})
                for (int fill = 0; fill < 3; ++fill) {
                    const int64_t images = 3, inH = s.convH + 4, inW = s.convW + 4;
                    const size_t pooled = size_t(images * (s.convH / 2) * (s.convW / 2) * N);
                    auto in = codes(size_t(images * inH * inW), ++seed, 0, 127);
                    auto eq = codes(pooled, ++seed, -127, 127);
                    if (fill == 1) {
                        std::fill(in.begin(), in.end(), int8_t(127));
                        for (size_t i = 0; i < eq.size(); ++i) eq[i] = int8_t(i % 2 ? -127 : 127);
                    }
                    if (fill == 2) std::fill(eq.begin(), eq.end(), int8_t(0));
                    in.resize(in.size() + 64, int8_t(99));
                    std::vector<uint8_t> argmax(pooled);
                    std::mt19937 rng(seed);
                    for (auto& a : argmax) a = uint8_t(rng() % 4);
                    for (auto [b0, b1] : {std::pair<int64_t, int64_t>{0, 1}, {1, 3}, {0, 3}})
                        for (int64_t v = 0; v < N / 16; ++v) {
                            // Prior sums near the int32 limits: the sums wrap modulo 2^32 in both.
                            std::vector<int32_t> got(25 * 16);
                            for (size_t i = 0; i < got.size(); ++i)
                                got[i] = i % 3 == 0 ? INT32_MAX - 5 : i % 3 == 1 ? INT32_MIN + 5 : int32_t(rng() % 1000);
                            auto want = got;
                            k.gradOneChannel(in.data(), inH, inW, eq.data(), argmax.data(), s.convH, s.convW, N, v, b0,
                                             b1, got.data());
                            ref().gradOneChannel(in.data(), inH, inW, eq.data(), argmax.data(), s.convH, s.convW, N, v,
                                                 b0, b1, want.data());
                            SAME(got, want);
                        }
                }
    }

    // --- the choice of table ---

    void tableFollowsTheIsa() {
        QCOMPARE(int(kernels_for(GemmIsa::Reference).isa), int(GemmIsa::Reference));
        QCOMPARE(int(kernels_for(gemm_isa_active()).isa), int(gemm_isa_active()));
        QVERIFY(!kernels_for(GemmIsa::Reference).directConv);
        if (gemm_isa_detected() >= GemmIsa::Avx2) QVERIFY(!kernels_for(GemmIsa::Avx2).directConv);
        if (gemm_isa_detected() == GemmIsa::Avx512Vnni) QVERIFY(kernels_for(GemmIsa::Avx512Vnni).directConv);
    }

    void tableBeyondTheCpuThrows() {
        if (gemm_isa_detected() == GemmIsa::Avx512Vnni) QSKIP("this CPU has every kernel table");
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, kernels_for(GemmIsa::Avx512Vnni));
    }
};

QTEST_APPLESS_MAIN(TestWageKernels)
#include "test_wage_kernels.moc"
