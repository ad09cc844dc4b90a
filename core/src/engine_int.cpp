// The integer WAGE engine: int8 codes, int32 sums, shifts with round-half-even, no floats.
#include "bitbench/engine.h"

#include "bitbench/error.h"
#include "bitbench/fixed_point.h"
#include "bitbench/gemm.h"
#include "wage_common.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bitbench {

namespace {

// Largest |value| of a tensor, in parallel (max is exact, so any split gives the same answer).
template <typename T> uint64_t maxAbs(const T* v, int64_t n) {
    return tbb::parallel_reduce(
        tbb::blocked_range<int64_t>(0, n, 4096), uint64_t(0),
        [&](const tbb::blocked_range<int64_t>& r, uint64_t m) {
            for (int64_t i = r.begin(); i < r.end(); ++i) {
                const int64_t x = v[i];
                m = std::max<uint64_t>(m, uint64_t(x < 0 ? -x : x));
            }
            return m;
        },
        [](uint64_t a, uint64_t b) { return std::max(a, b); });
}

template <typename F> void parallelRange(int64_t n, int64_t grain, F&& f) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

struct IntLayer {
    LayerDesc d;
    ClassBits b;
    int32_t index = 0;
    int32_t kL = 0;        // latent weight grid: 2^(1-kL), kL = max(kW, kG)
    int32_t log2Alpha = 0;
    int64_t K = 0, N = 0;  // fan-in, outputs
    int64_t latentBound = 0; // C(W, kW) in latent units
    int32_t inExp = 0;     // exponent of input codes
    int32_t wExp = 0;      // exponent of forward weight codes: 1 - kW - log2(alpha)
    int32_t accExp = 0;
    int32_t outShift = 0;  // acc -> output code shift for Q_A
    bool inputNonNegative = true;
    bool last = false;

    std::vector<int32_t> wLat; // [N][K]
    std::vector<int8_t> wq;    // [N][K]
    std::vector<int8_t> wqT;   // [K][N]

    std::vector<int8_t> col;     // conv: [rows][K]
    std::vector<int32_t> acc;    // [rows][N]
    std::vector<int32_t> pooled; // [outRows][N] (pool only)
    std::vector<uint8_t> argmax; // [outRows][N] (pool only)
    std::vector<int8_t> out;     // [outRows][N] output codes (quantized outputs)

    std::vector<int32_t> eIn;    // [outRows][N] error arriving at the block output
    std::vector<int8_t> eq;      // [rows][N] quantized error routed to the product output
    std::vector<int32_t> g;      // [N][K]
    std::vector<int16_t> dw;     // [N][K] integer update n of the last step
    std::vector<int32_t> ecol;   // conv: [rows][K]
    int32_t eShift = 0;          // Shift(max|e|) exponent of the last step (for stats)
    int32_t gShift = 0;
    bool eZero = true, gZero = true;
    int64_t lrQ = 0;             // lr * 2^16 of the last step

    int64_t rows(int64_t n) const { return n * d.convH * d.convW; }
    int64_t outRows(int64_t n) const { return n * d.outH * d.outW; }
    const int32_t* blockOut() const { return d.pool ? pooled.data() : acc.data(); }

    // 1[-1 + sigma <= x <= 1 - sigma] for Q_A's input x = value * 2^accExp, in integers.
    bool withinClip(int64_t v) const {
        const int64_t maxA = fx_max_code(b.a());
        if (outShift >= 0) return v <= (maxA << outShift) && v >= -(maxA << outShift);
        return (v << -outShift) <= maxA && (v << -outShift) >= -maxA;
    }
};

class IntEngine final : public Engine {
public:
    explicit IntEngine(const Experiment& e) : m_e(e), m_rng(e.seed) {
        const auto& m = e.model;
        m_inputBits = e.bits.base.a();
        m_inputCodes = wage_input_codes(m.transform, m_inputBits);
        const int32_t B = e.batch;
        int32_t inExp = 1 - m_inputBits;
        bool inputNonNeg = m.transform == InputTransform::Unit;
        m_input.resize(size_t(B) * m.inH * m.inW * m.inC);
        for (size_t i = 0; i < m.layers.size(); ++i) {
            IntLayer L;
            L.d = m.layers[i];
            L.b = e.bits.forLayer(L.d.name);
            L.index = int32_t(i);
            L.last = i + 1 == m.layers.size();
            L.K = L.d.fanIn();
            L.N = L.d.out;
            L.kL = std::max(L.b.w(), L.b.g());
            L.latentBound = (int64_t(1) << (L.kL - 1)) - (int64_t(1) << (L.kL - L.b.w()));
            const WageInit init = wage_init(L.K, L.b.w());
            L.log2Alpha = init.log2Alpha;
            L.inExp = inExp;
            L.wExp = 1 - L.b.w() - L.log2Alpha;
            L.accExp = L.inExp + L.wExp;
            L.outShift = -L.accExp - (L.b.a() - 1);
            L.inputNonNegative = inputNonNeg;
            // Init: W ~ U(-L, L), then once W <- Q(W, kW) (round half to even, no clip).
            L.wLat.resize(size_t(L.N * L.K));
            const double sigmaW = std::ldexp(1.0, 1 - L.b.w());
            for (int64_t j = 0; j < L.N * L.K; ++j) {
                const double w = wage_uniform(m_rng, uint32_t(i), uint64_t(j), init.limit);
                const double code = std::nearbyint(w / sigmaW); // FE_TONEAREST: ties to even
                L.wLat[size_t(j)] = int32_t(code) * (1 << (L.kL - L.b.w()));
            }
            L.wq.resize(L.wLat.size());
            L.wqT.resize(L.wLat.size());
            const int64_t rows = L.rows(B), outRows = L.outRows(B);
            if (L.d.type == LayerType::Conv) {
                L.col.resize(size_t(rows * L.K));
                L.ecol.resize(i > 0 ? size_t(rows * L.K) : 0);
            }
            L.acc.resize(size_t(rows * L.N));
            if (L.d.pool) {
                L.pooled.resize(size_t(outRows * L.N));
                L.argmax.resize(size_t(outRows * L.N));
            }
            L.out.resize(size_t(outRows * L.N));
            L.eIn.resize(size_t(outRows * L.N));
            L.eq.resize(size_t(rows * L.N));
            L.g.resize(size_t(L.N * L.K));
            L.dw.resize(size_t(L.N * L.K));
            checkBounds(L, B);
            inExp = 1 - L.b.a();
            inputNonNeg = L.d.relu;
            m_layers.push_back(std::move(L));
        }
        for (auto& L : m_layers) refreshForwardWeights(L);
    }

    const char* kind() const override { return "integer"; }

    std::vector<LayerReport> layers() const override {
        std::vector<LayerReport> r;
        for (const auto& L : m_layers)
            r.push_back({L.d.name, L.b, L.K, L.N * L.K, 1 << L.log2Alpha, accumulatorBound(L, m_e.batch)});
        return r;
    }

    void trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                   BatchResult& out) override {
        forward(images, n);
        lossAndTopError(labels, n, out);
        for (int64_t i = int64_t(m_layers.size()) - 1; i >= 0; --i) {
            IntLayer& L = m_layers[size_t(i)];
            quantizeError(L, n);
            weightGradient(L, n);
            if (i > 0) propagateError(L, m_layers[size_t(i - 1)], n);
        }
        const int64_t lrQ = int64_t(lr * 65536.0);
        for (auto& L : m_layers) update(L, step, lrQ);
    }

    void evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) override {
        forward(images, n);
        score(labels, n, out, false);
    }

    uint64_t weightsHash() const override {
        WeightsHasher h;
        for (const auto& L : m_layers) h.add(L.wLat.data(), L.wLat.size() * sizeof(int32_t));
        return h.digest();
    }

    std::vector<uint8_t> weightsSave() const override {
        std::vector<uint8_t> b;
        blob_put_u64(b, kBlobMagic);
        blob_put_u64(b, m_layers.size());
        for (const auto& L : m_layers) {
            blob_put_u64(b, L.wLat.size());
            const auto* p = reinterpret_cast<const uint8_t*>(L.wLat.data());
            b.insert(b.end(), p, p + L.wLat.size() * sizeof(int32_t));
        }
        return b;
    }

    void weightsLoad(const std::vector<uint8_t>& b) override {
        size_t pos = 0;
        if (blob_get_u64(b, pos) != kBlobMagic) throw DataError("weights blob is not from the integer engine");
        if (blob_get_u64(b, pos) != m_layers.size()) throw DataError("weights blob has a different layer count");
        for (auto& L : m_layers) {
            if (blob_get_u64(b, pos) != L.wLat.size())
                throw DataError("weights blob does not fit layer '" + L.d.name + "'");
            const size_t bytes = L.wLat.size() * sizeof(int32_t);
            if (pos + bytes > b.size()) throw DataError("weights blob is truncated");
            std::memcpy(L.wLat.data(), b.data() + pos, bytes);
            pos += bytes;
            refreshForwardWeights(L);
        }
    }

    void collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const override;

private:
    static constexpr uint64_t kBlobMagic = 0x31544E4957424242ull; // "BBBWINT1"

    static int64_t accumulatorBound(const IntLayer& L, int32_t batch) {
        const int64_t maxA = fx_max_code(L.b.a()), maxW = fx_max_code(L.b.w()), maxE = fx_max_code(L.b.e());
        const int64_t inMax = L.index == 0 ? 127 : maxA;
        int64_t bound = L.K * inMax * maxW;                           // forward
        bound = std::max(bound, L.rows(batch) * maxE * inMax);       // weight gradient
        const int64_t taps = L.d.type == LayerType::Conv ? int64_t(L.d.kernel) * L.d.kernel : 1;
        bound = std::max(bound, taps * L.N * maxE * maxW);           // error propagation
        return bound;
    }

    void checkBounds(const IntLayer& L, int32_t batch) const {
        const int64_t bound = accumulatorBound(L, batch);
        if (bound >= (int64_t(1) << 31))
            throw InputError("layer '" + L.d.name + "': int32 sums could reach " + std::to_string(bound) +
                             " with batch " + std::to_string(batch) + " and these bits (limit 2^31); use a smaller batch");
    }

    void refreshForwardWeights(IntLayer& L) {
        const int32_t shift = L.kL - L.b.w();
        const int64_t maxW = fx_max_code(L.b.w());
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t k = 0; k < L.K; ++k) {
                const int64_t c = fx_clip(L.wLat[size_t(n * L.K + k)], L.latentBound);
                const auto q = int8_t(fx_clip(fx_shift_rne(c, shift), maxW));
                L.wq[size_t(n * L.K + k)] = q;
                L.wqT[size_t(k * L.N + n)] = q;
            }
    }

    void forward(const uint8_t* images, int32_t n) {
        const auto& m = m_e.model;
        const int64_t pixels = int64_t(n) * m.inH * m.inW * m.inC;
        for (int64_t i = 0; i < pixels; ++i) m_input[size_t(i)] = int8_t(m_inputCodes[images[i]]);
        const int8_t* in = m_input.data();
        for (auto& L : m_layers) {
            forwardLayer(L, in, n);
            in = L.out.data();
        }
    }

    void im2col(IntLayer& L, const int8_t* in, int32_t n) {
        const auto& d = L.d;
        const int32_t pad = d.same ? d.kernel / 2 : 0;
        const int64_t rowBytes = int64_t(d.kernel) * d.inC;
        parallelRange(int64_t(n) * d.convH, 4, [&](int64_t lo, int64_t hi) {
            for (int64_t by = lo; by < hi; ++by) {
                const int64_t b = by / d.convH, oy = by % d.convH;
                for (int64_t ox = 0; ox < d.convW; ++ox) {
                    int8_t* dst = L.col.data() + ((b * d.convH + oy) * d.convW + ox) * L.K;
                    for (int32_t ky = 0; ky < d.kernel; ++ky) {
                        const int64_t y = oy + ky - pad;
                        int8_t* row = dst + ky * rowBytes;
                        if (y < 0 || y >= d.inH) {
                            std::memset(row, 0, size_t(rowBytes));
                            continue;
                        }
                        const int64_t x0 = ox - pad;
                        if (x0 >= 0 && x0 + d.kernel <= d.inW) {
                            std::memcpy(row, in + ((b * d.inH + y) * d.inW + x0) * d.inC, size_t(rowBytes));
                        } else {
                            for (int32_t kx = 0; kx < d.kernel; ++kx) {
                                const int64_t x = x0 + kx;
                                if (x < 0 || x >= d.inW) std::memset(row + kx * d.inC, 0, size_t(d.inC));
                                else std::memcpy(row + kx * d.inC, in + ((b * d.inH + y) * d.inW + x) * d.inC, size_t(d.inC));
                            }
                        }
                    }
                }
            }
        });
    }

    void forwardLayer(IntLayer& L, const int8_t* in, int32_t n) {
        const auto& d = L.d;
        const int64_t rows = L.rows(n);
        const int8_t* a = in;
        if (d.type == LayerType::Conv) {
            im2col(L, in, n);
            a = L.col.data();
        }
        gemm_s8_nt(rows, L.N, L.K, a, L.K, L.wq.data(), L.K, L.acc.data(), L.N, false, L.inputNonNegative);
        if (d.pool) maxPool(L, n);
        const int32_t* v = L.blockOut();
        const int64_t maxA = fx_max_code(L.b.a());
        if (!L.d.quantizeOutput) return;
        const int64_t total = L.outRows(n) * L.N;
        const bool relu = d.relu;
        parallelRange(total, 8192, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) {
                int64_t x = v[i];
                if (relu && x < 0) x = 0;
                L.out[size_t(i)] = int8_t(fx_clip(fx_shift_rne(x, L.outShift), maxA));
            }
        });
    }

    void maxPool(IntLayer& L, int32_t n) {
        const auto& d = L.d;
        const int64_t N = L.N;
        parallelRange(int64_t(n) * d.outH, 4, [&](int64_t lo, int64_t hi) {
            for (int64_t by = lo; by < hi; ++by) {
                const int64_t b = by / d.outH, py = by % d.outH;
                for (int64_t px = 0; px < d.outW; ++px) {
                    const int64_t o = ((b * d.outH + py) * d.outW + px) * N;
                    const int32_t* r0 = L.acc.data() + ((b * d.convH + 2 * py) * d.convW + 2 * px) * N;
                    const int32_t* r1 = r0 + d.convW * N;
                    const int32_t* src[4] = {r0, r0 + N, r1, r1 + N};
                    for (int64_t c = 0; c < N; ++c) {
                        int32_t best = src[0][c];
                        uint8_t arg = 0;
                        for (uint8_t q = 1; q < 4; ++q)
                            if (src[q][c] > best) {
                                best = src[q][c];
                                arg = q;
                            }
                        L.pooled[size_t(o + c)] = best;
                        L.argmax[size_t(o + c)] = arg;
                    }
                }
            }
        });
    }

    // Logits minus one-hot, as integers at the logits' scale; fills the loss and the error count.
    void lossAndTopError(const uint8_t* labels, int32_t n, BatchResult& out) {
        score(labels, n, out, true);
    }

    void score(const uint8_t* labels, int32_t n, BatchResult& out, bool writeError) {
        IntLayer& L = m_layers.back();
        const int64_t C = L.N;
        const bool q = L.d.quantizeOutput;
        const int32_t exp = q ? 1 - L.b.a() : L.accExp;
        const int64_t one = int64_t(1) << -exp;
        const double unit = std::ldexp(1.0, exp);
        out = {};
        for (int32_t s = 0; s < n; ++s) {
            int32_t pred;
            if (q) pred = wage_argmax(L.out.data() + s * C, int32_t(C));
            else pred = wage_argmax(L.acc.data() + s * C, int32_t(C));
            if (pred != labels[s]) ++out.errors;
            for (int64_t c = 0; c < C; ++c) {
                const int64_t logit = q ? L.out[size_t(s * C + c)] : L.acc[size_t(s * C + c)];
                const int64_t e = logit - (c == labels[s] ? one : 0);
                out.loss += 0.5 * double(e) * double(e) * unit * unit;
                if (writeError) L.eIn[size_t(s * C + c)] = int32_t(e);
            }
        }
    }

    // Backward through Q_A's clip mask, Q_E, relu mask and pool routing (last layer: Q_E first).
    void quantizeError(IntLayer& L, int32_t n) {
        const int64_t total = L.outRows(n) * L.N;
        const int32_t* v = L.blockOut();
        auto clipMask = [&] {
            if (!L.d.quantizeOutput) return;
            parallelRange(total, 8192, [&](int64_t lo, int64_t hi) {
                for (int64_t i = lo; i < hi; ++i) {
                    int64_t x = v[i];
                    if (L.d.relu && x < 0) x = 0;
                    if (!L.withinClip(x)) L.eIn[size_t(i)] = 0;
                }
            });
        };
        if (!L.last) clipMask();
        // Q_E: e / Shift(max|e|), then Q(C(., kE), kE).
        const uint64_t m = maxAbs(L.eIn.data(), total);
        L.eZero = m == 0;
        const int64_t maxE = fx_max_code(L.b.e());
        L.eShift = L.eZero ? 0 : fx_shift_exponent(m);
        const int32_t s = L.eShift - (L.b.e() - 1);
        std::vector<int8_t>& eq = L.eq;
        const bool relu = L.d.relu, pool = L.d.pool;
        if (pool) std::fill(eq.begin(), eq.begin() + L.rows(n) * L.N, int8_t(0));
        const auto& d = L.d;
        const int64_t N = L.N;
        parallelRange(L.outRows(n), 64, [&](int64_t lo, int64_t hi) {
            for (int64_t r = lo; r < hi; ++r) {
                for (int64_t c = 0; c < N; ++c) {
                    const int64_t i = r * N + c;
                    int64_t code = L.eZero ? 0 : fx_clip(fx_shift_rne(L.eIn[size_t(i)], s), maxE);
                    if (L.last && L.d.quantizeOutput) {
                        int64_t x = v[i];
                        if (!L.withinClip(x)) code = 0;
                    }
                    if (relu && v[i] <= 0) code = 0;
                    if (!pool) {
                        eq[size_t(i)] = int8_t(code);
                    } else {
                        const int64_t b = r / (d.outH * d.outW), p = r % (d.outH * d.outW);
                        const int64_t py = p / d.outW, px = p % d.outW;
                        const uint8_t a = L.argmax[size_t(i)];
                        const int64_t y = 2 * py + (a >> 1), x = 2 * px + (a & 1);
                        eq[size_t(((b * d.convH + y) * d.convW + x) * N + c)] = int8_t(code);
                    }
                }
            }
        });
    }

    void weightGradient(IntLayer& L, int32_t n) {
        const int64_t rows = L.rows(n);
        const int8_t* a = L.d.type == LayerType::Conv ? L.col.data() : inputOf(L);
        gemm_s8_tn(L.N, L.K, rows, L.eq.data(), L.N, a, L.K, L.g.data(), L.K, false, L.inputNonNegative);
    }

    const int8_t* inputOf(const IntLayer& L) const {
        return L.index == 0 ? m_input.data() : m_layers[size_t(L.index - 1)].out.data();
    }

    void propagateError(IntLayer& L, IntLayer& prev, int32_t n) {
        const int64_t rows = L.rows(n);
        if (L.d.type == LayerType::Fc) {
            gemm_s8_nt(rows, L.K, L.N, L.eq.data(), L.N, L.wqT.data(), L.N, prev.eIn.data(), L.K, false);
            return;
        }
        gemm_s8_nt(rows, L.K, L.N, L.eq.data(), L.N, L.wqT.data(), L.N, L.ecol.data(), L.K, false);
        // col2im: each image is summed by one task, so the result never depends on the split.
        const auto& d = L.d;
        const int32_t pad = d.same ? d.kernel / 2 : 0;
        const int64_t imageSize = int64_t(d.inH) * d.inW * d.inC;
        parallelRange(n, 1, [&](int64_t lo, int64_t hi) {
            for (int64_t b = lo; b < hi; ++b) {
                int32_t* dst = prev.eIn.data() + b * imageSize;
                std::fill(dst, dst + imageSize, 0);
                for (int64_t oy = 0; oy < d.convH; ++oy)
                    for (int64_t ox = 0; ox < d.convW; ++ox) {
                        const int32_t* src = L.ecol.data() + ((b * d.convH + oy) * d.convW + ox) * L.K;
                        for (int32_t ky = 0; ky < d.kernel; ++ky) {
                            const int64_t y = oy + ky - pad;
                            if (y < 0 || y >= d.inH) continue;
                            for (int32_t kx = 0; kx < d.kernel; ++kx) {
                                const int64_t x = ox + kx - pad;
                                if (x < 0 || x >= d.inW) continue;
                                int32_t* t = dst + (y * d.inW + x) * d.inC;
                                const int32_t* s = src + (int64_t(ky) * d.kernel + kx) * d.inC;
                                for (int32_t c = 0; c < d.inC; ++c) t[c] += s[c];
                            }
                        }
                    }
            }
        });
    }

    // Q_G and the SGD step: n = SR(Q(lr * g / Shift(max|g|), 16)), W <- C(W, kW) - n * sigma(kG).
    void update(IntLayer& L, int64_t step, int64_t lrQ) {
        const int64_t total = L.N * L.K;
        const uint64_t m = maxAbs(L.g.data(), total);
        L.gZero = m == 0;
        L.lrQ = lrQ;
        if (L.gZero) {
            std::fill(L.dw.begin(), L.dw.end(), int16_t(0));
            for (auto& w : L.wLat) w = int32_t(fx_clip(w, L.latentBound));
            refreshForwardWeights(L);
            return;
        }
        L.gShift = fx_shift_exponent(m);
        const int32_t s = L.gShift + 1; // v (units 2^-15) = g * lr * 2^15 / 2^p = g * lrQ / 2^(p+1)
        const int32_t up = L.kL - L.b.g();
        const uint32_t tensor = uint32_t(L.index);
        parallelRange((total + 3) / 4, 256, [&](int64_t lo, int64_t hi) {
            for (int64_t blk = lo; blk < hi; ++blk) {
                const PhiloxBlock r = m_rng.block(RandomPurpose::StochasticRound, uint64_t(step), tensor, uint32_t(blk));
                for (int64_t j = blk * 4; j < std::min(total, blk * 4 + 4); ++j) {
                    const int64_t v = fx_shift_rne(int64_t(L.g[size_t(j)]) * lrQ, s);
                    const int64_t av = v < 0 ? -v : v;
                    const uint32_t frac = uint32_t(av & 0x7FFF);
                    const uint32_t draw = r[size_t(j & 3)] >> 17; // 15 random bits
                    const int64_t nAbs = (av >> 15) + (draw < frac ? 1 : 0);
                    const int64_t nInt = v < 0 ? -nAbs : nAbs;
                    L.dw[size_t(j)] = int16_t(nInt);
                    L.wLat[size_t(j)] = int32_t(fx_clip(L.wLat[size_t(j)], L.latentBound) - nInt * (int64_t(1) << up));
                }
            }
        });
        refreshForwardWeights(L);
    }

    Experiment m_e;
    Random m_rng;
    int32_t m_inputBits = 8;
    std::vector<int32_t> m_inputCodes;
    std::vector<int8_t> m_input;
    std::vector<IntLayer> m_layers;
    int32_t m_lastN = 0;
    friend struct IntStats;
};

} // namespace

void IntEngine::collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const {
    for (const auto& L : m_layers) {
        const int32_t i = L.index;
        // W: C(W_latent) in real units -> Q_W code * sigma(kW) (before the 1/alpha scale).
        {
            const double latentUnit = std::ldexp(1.0, 1 - L.kL), qUnit = std::ldexp(1.0, 1 - L.b.w());
            const double lim = double(L.latentBound) * latentUnit;
            StatsBuilder sb(bins, -lim, lim, qUnit);
            for (size_t j = 0; j < L.wLat.size(); ++j) sb.add(double(L.wLat[j]) * latentUnit, double(L.wq[j]) * qUnit);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::W, L.b.w()));
        }
        // A: the block output before Q_A (after relu) against its code.
        if (L.d.quantizeOutput) {
            const double unit = std::ldexp(1.0, L.accExp), qUnit = std::ldexp(1.0, 1 - L.b.a());
            const double lim = double(fx_max_code(L.b.a())) * qUnit;
            StatsBuilder sb(bins, L.d.relu ? 0.0 : -lim, lim, qUnit);
            const int32_t* v = L.blockOut();
            const size_t n = L.out.size();
            for (size_t j = 0; j < n; ++j) {
                const int64_t x = L.d.relu && v[j] < 0 ? 0 : v[j];
                sb.add(double(x) * unit, double(L.out[j]) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::A, L.b.a()));
        }
        // G: lr * g / Shift(max|g|) against the applied update n * sigma(kG).
        {
            const double qUnit = std::ldexp(1.0, 1 - L.b.g());
            const double lr = double(L.lrQ) / 65536.0;
            const double gUnit = L.gZero ? 0.0 : lr * std::ldexp(1.0, -L.gShift);
            StatsBuilder sb(bins, -INFINITY, INFINITY, qUnit);
            for (size_t j = 0; j < L.g.size(); ++j) sb.add(double(L.g[j]) * gUnit * qUnit, double(L.dw[j]) * qUnit);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::G, L.b.g()));
        }
        // E: e / Shift(max|e|) against its code (at the block output, after the clip mask).
        {
            const double qUnit = std::ldexp(1.0, 1 - L.b.e());
            const double lim = double(fx_max_code(L.b.e())) * qUnit;
            const double eUnit = L.eZero ? 0.0 : std::ldexp(1.0, -L.eShift);
            StatsBuilder sb(bins, -lim, lim, qUnit);
            const int32_t sh = L.eShift - (L.b.e() - 1);
            const int64_t maxE = fx_max_code(L.b.e());
            for (size_t j = 0; j < L.eIn.size(); ++j) {
                const int64_t code = L.eZero ? 0 : fx_clip(fx_shift_rne(L.eIn[j], sh), maxE);
                sb.add(double(L.eIn[j]) * eUnit, double(code) * qUnit);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::E, L.b.e()));
        }
    }
}

bool engine_integer_supported(const Experiment& e, std::string* why) {
    for (const auto& l : e.model.layers) {
        const ClassBits b = e.bits.forLayer(l.name);
        if (!b.allInteger()) {
            if (why) *why = "layer '" + l.name + "' has a float class (" + b.dashed() + ")";
            return false;
        }
        if (b.w() > 8 || b.a() > 8 || b.e() > 8) {
            if (why) *why = "layer '" + l.name + "' has W, A or E wider than 8 bits (" + b.dashed() + ")";
            return false;
        }
    }
    if (e.bits.base.a() > 8) {
        if (why) *why = "input activations wider than 8 bits";
        return false;
    }
    if (e.loss != LossKind::Sse) {
        if (why) *why = "loss is not sse";
        return false;
    }
    return true;
}

std::unique_ptr<Engine> engine_create_integer(const Experiment& e) { return std::make_unique<IntEngine>(e); }

} // namespace bitbench
