// The float engine: float32 tensors with WAGE quantizers applied as exact power-of-two roundings.
// Used when a class is `f` (e.g. 28f8, 28ff, the float baseline) or wider than 8 bits.
#include "bitbench/engine.h"

#include "bitbench/error.h"
#include "engine/wage_common.h"
#include "kernels/gemm_float.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bitbench {

namespace {

// Q(x, k) = sigma(k) round(x / sigma(k)), ties to even; C(x, k) = clip to +-(1 - sigma(k)).
inline float quantize(float x, int32_t k) {
    const float scale = std::ldexp(1.0f, k - 1);
    return std::nearbyint(x * scale) / scale;
}
inline float clipBits(float x, int32_t k) {
    const float lim = 1.0f - std::ldexp(1.0f, 1 - k);
    return std::clamp(x, -lim, lim);
}

// True when some value is NaN or infinite (exponent bits all ones). An integer OR over the bit
// patterns, so the compiler vectorizes it: checking LeNet-5's weights costs microseconds.
bool anyNonFinite(const std::vector<float>& v) {
    uint32_t bad = 0;
    for (float x : v) {
        uint32_t u;
        std::memcpy(&u, &x, 4);
        bad |= uint32_t((u & 0x7F800000u) == 0x7F800000u);
    }
    return bad != 0;
}

// Shift(m) = 2^round(log2 m) as an exponent, the sqrt(2) boundary decided exactly.
int32_t shiftExponent(double m) {
    int e;
    const double f = std::frexp(m, &e); // m = f 2^e, f in [0.5, 1)
    return f * f >= 0.5 ? e : e - 1;
}

struct FloatLayer {
    LayerDesc d;
    ClassBits b;
    int32_t index = 0;
    bool last = false;
    int64_t K = 0, N = 0;
    float alpha = 1;
    std::vector<float> w;   // latent [N][K]
    std::vector<float> wq;  // forward [N][K]
    std::vector<float> wqT; // [K][N]
    std::vector<float> col, acc, pooled, out;
    std::vector<uint8_t> argmax;
    std::vector<float> eIn, eq, g, ecol, dw;
    float eScale = 1, gScale = 1; // 2^-Shift(max) of the last step
    double lr = 0;

    int64_t rows(int64_t n) const { return n * d.convH * d.convW; }
    int64_t outRows(int64_t n) const { return n * d.outH * d.outW; }
    const float* blockOut() const { return d.pool ? pooled.data() : acc.data(); }
    float quantizeA(float x) const { return b.a() ? quantize(clipBits(x, b.a()), b.a()) : x; }
    bool withinClip(float x) const {
        if (!b.a()) return true;
        const float lim = 1.0f - std::ldexp(1.0f, 1 - b.a());
        return x >= -lim && x <= lim;
    }
};

class FloatEngine final : public Engine {
public:
    explicit FloatEngine(const Experiment& e) : m_e(e), m_rng(e.seed) {
        const auto& m = e.model;
        const int32_t B = e.batch;
        m_input.resize(size_t(B) * m.inH * m.inW * m.inC);
        for (int x = 0; x < 256; ++x) {
            const float v = float(wage_input_value(m.transform, uint8_t(x)));
            const int32_t k = e.bits.base.a();
            m_inputTable[size_t(x)] = k ? quantize(clipBits(v, k), k) : v;
        }
        for (size_t i = 0; i < m.layers.size(); ++i) {
            FloatLayer L;
            L.d = m.layers[i];
            L.b = e.bits.forLayer(L.d.name);
            L.index = int32_t(i);
            L.last = i + 1 == m.layers.size();
            L.K = L.d.fanIn();
            L.N = L.d.out;
            const WageInit init = wage_init(L.K, L.b.w());
            L.alpha = std::ldexp(1.0f, init.log2Alpha);
            L.w.resize(size_t(L.N * L.K));
            for (int64_t j = 0; j < L.N * L.K; ++j) {
                const double v = wage_uniform(m_rng, uint32_t(i), uint64_t(j), init.limit);
                L.w[size_t(j)] = L.b.w() ? quantize(float(v), L.b.w()) : float(v);
            }
            L.wq.resize(L.w.size());
            L.wqT.resize(L.w.size());
            const int64_t rows = L.rows(B), outRows = L.outRows(B);
            if (L.d.type == LayerType::Conv) {
                L.col.resize(size_t(rows * L.K));
                L.ecol.resize(size_t(rows * L.K));
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
            m_layers.push_back(std::move(L));
        }
        for (auto& L : m_layers) refreshForwardWeights(L);
    }

    const char* kind() const override { return "float"; }

    std::vector<LayerReport> layers() const override {
        std::vector<LayerReport> r;
        for (const auto& L : m_layers) {
            r.push_back({L.d.name, L.b, L.K, L.N * L.K, int32_t(L.alpha), 0});
            for (size_t c = 0; c < 4; ++c) {
                const int32_t k = L.b.bits[c];
                r.back().plan[c] = {k ? "wage" + std::to_string(k) : "float", false,
                                    k ? "float engine: power-of-two roundings of float32 values (exact)"
                                      : "float class: float32"};
            }
        }
        return r;
    }

    void trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                   BatchResult& out) override {
        gradients(images, labels, n, out);
        for (auto& L : m_layers) update(L, step, lr);
    }

    // Forward and backward without the update; leaves dL/dWq in each layer's g (float G) or the
    // raw sums before Q_G.
    void gradients(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) {
        forward(images, n);
        score(labels, n, out, true);
        for (int64_t i = int64_t(m_layers.size()) - 1; i >= 0; --i) {
            FloatLayer& L = m_layers[size_t(i)];
            quantizeError(L, n);
            const float* a = L.d.type == LayerType::Conv ? L.col.data() : inputOf(L);
            gemm_f32_tn(L.N, L.K, L.rows(n), L.eq.data(), a, L.g.data());
            if (i > 0) propagateError(L, m_layers[size_t(i - 1)], n);
        }
    }

    void evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) override {
        forward(images, n);
        score(labels, n, out, false);
    }

    uint64_t weightsHash() const override {
        return weights_hash(m_layers, [](const FloatLayer& L) -> const auto& { return L.w; });
    }

    std::string weightsNonFinite() const override {
        for (const auto& L : m_layers)
            if (anyNonFinite(L.w)) return L.d.name;
        return {};
    }

    std::vector<uint8_t> weightsSave() const override {
        return weights_blob_save(kBlobMagic, m_layers, [](const FloatLayer& L) -> const auto& { return L.w; });
    }

    void weightsLoad(const std::vector<uint8_t>& b) override {
        weights_blob_load(b, kBlobMagic, "float", m_layers, [](FloatLayer& L) -> auto& { return L.w; },
                          [this](FloatLayer& L) { refreshForwardWeights(L); });
    }

    void collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const override;

    std::vector<std::vector<float>>& weightsForTest() {
        m_weightViews.clear();
        for (auto& L : m_layers) m_weightViews.push_back(L.w);
        return m_weightViews;
    }
    void setWeights(const std::vector<std::vector<float>>& w) {
        for (size_t i = 0; i < m_layers.size(); ++i) {
            m_layers[i].w = w[i];
            refreshForwardWeights(m_layers[i]);
        }
    }
    std::vector<std::vector<float>> gradientsOf() const {
        std::vector<std::vector<float>> g;
        for (const auto& L : m_layers) g.push_back(L.g);
        return g;
    }

private:
    static constexpr uint64_t kBlobMagic = 0x31544C4657424242ull; // "BBBWFLT1"

    void refreshForwardWeights(FloatLayer& L) {
        for (int64_t n = 0; n < L.N; ++n)
            for (int64_t k = 0; k < L.K; ++k) {
                const float w = L.w[size_t(n * L.K + k)];
                const float q = L.b.w() ? quantize(clipBits(w, L.b.w()), L.b.w()) / L.alpha : w;
                L.wq[size_t(n * L.K + k)] = q;
                L.wqT[size_t(k * L.N + n)] = q;
            }
    }

    const float* inputOf(const FloatLayer& L) const {
        return L.index == 0 ? m_input.data() : m_layers[size_t(L.index - 1)].out.data();
    }

    void forward(const uint8_t* images, int32_t n) {
        const auto& m = m_e.model;
        const int64_t pixels = int64_t(n) * m.inH * m.inW * m.inC;
        for (int64_t i = 0; i < pixels; ++i) m_input[size_t(i)] = m_inputTable[images[i]];
        const float* in = m_input.data();
        for (auto& L : m_layers) {
            forwardLayer(L, in, n);
            in = L.out.data();
        }
    }

    void forwardLayer(FloatLayer& L, const float* in, int32_t n) {
        const auto& d = L.d;
        const float* a = in;
        if (d.type == LayerType::Conv) {
            const int32_t pad = d.same ? d.kernel / 2 : 0;
            tbb::parallel_for(int64_t(0), int64_t(n) * d.convH, [&](int64_t by) {
                const int64_t b = by / d.convH, oy = by % d.convH;
                for (int64_t ox = 0; ox < d.convW; ++ox) {
                    float* dst = L.col.data() + ((b * d.convH + oy) * d.convW + ox) * L.K;
                    for (int32_t ky = 0; ky < d.kernel; ++ky)
                        for (int32_t kx = 0; kx < d.kernel; ++kx) {
                            const int64_t y = oy + ky - pad, x = ox + kx - pad;
                            float* t = dst + (int64_t(ky) * d.kernel + kx) * d.inC;
                            if (y < 0 || y >= d.inH || x < 0 || x >= d.inW) std::fill(t, t + d.inC, 0.0f);
                            else std::memcpy(t, in + ((b * d.inH + y) * d.inW + x) * d.inC, size_t(d.inC) * sizeof(float));
                        }
                }
            });
            a = L.col.data();
        }
        gemm_f32_nt(L.rows(n), L.N, L.K, a, L.wq.data(), L.acc.data());
        if (d.pool) {
            const int64_t N = L.N;
            for (int64_t b = 0; b < n; ++b)
                for (int64_t py = 0; py < d.outH; ++py)
                    for (int64_t px = 0; px < d.outW; ++px) {
                        const int64_t o = ((b * d.outH + py) * d.outW + px) * N;
                        const float* r0 = L.acc.data() + ((b * d.convH + 2 * py) * d.convW + 2 * px) * N;
                        const float* src[4] = {r0, r0 + N, r0 + d.convW * N, r0 + d.convW * N + N};
                        for (int64_t c = 0; c < N; ++c) {
                            float best = src[0][c];
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
        const float* v = L.blockOut();
        const int64_t total = L.outRows(n) * L.N;
        for (int64_t i = 0; i < total; ++i) {
            float x = v[i];
            if (d.relu && x < 0) x = 0;
            L.out[size_t(i)] = d.quantizeOutput ? L.quantizeA(x) : x;
        }
    }

    void score(const uint8_t* labels, int32_t n, BatchResult& out, bool writeError) {
        FloatLayer& L = m_layers.back();
        const int64_t C = L.N;
        out = {};
        for (int32_t s = 0; s < n; ++s) {
            const float* z = L.out.data() + s * C;
            if (wage_argmax(z, int32_t(C)) != labels[s]) ++out.errors;
            if (m_e.loss == LossKind::Sse) {
                for (int64_t c = 0; c < C; ++c) {
                    const float e = z[c] - (c == labels[s] ? 1.0f : 0.0f);
                    out.loss += 0.5 * double(e) * e;
                    if (writeError) L.eIn[size_t(s * C + c)] = e;
                }
            } else {
                const float mx = *std::max_element(z, z + C);
                double sum = 0;
                for (int64_t c = 0; c < C; ++c) sum += std::exp(double(z[c] - mx));
                out.loss += -(double(z[labels[s]] - mx) - std::log(sum));
                for (int64_t c = 0; c < C; ++c) {
                    const double p = std::exp(double(z[c] - mx)) / sum;
                    if (writeError) L.eIn[size_t(s * C + c)] = float(p - (c == labels[s] ? 1.0 : 0.0));
                }
            }
        }
    }

    void quantizeError(FloatLayer& L, int32_t n) {
        const int64_t total = L.outRows(n) * L.N;
        const float* v = L.blockOut();
        auto pre = [&](int64_t i) { return L.d.relu && v[i] < 0 ? 0.0f : v[i]; };
        if (!L.last && L.d.quantizeOutput)
            for (int64_t i = 0; i < total; ++i)
                if (!L.withinClip(pre(i))) L.eIn[size_t(i)] = 0;
        const int32_t kE = L.b.e();
        float scale = 1;
        if (kE) {
            float m = 0;
            for (int64_t i = 0; i < total; ++i) m = std::max(m, std::abs(L.eIn[size_t(i)]));
            scale = m > 0 ? std::ldexp(1.0f, -shiftExponent(m)) : 0.0f;
        }
        L.eScale = scale;
        const auto& d = L.d;
        const int64_t N = L.N;
        if (d.pool) std::fill(L.eq.begin(), L.eq.begin() + L.rows(n) * N, 0.0f);
        for (int64_t i = 0; i < total; ++i) {
            float e = L.eIn[size_t(i)];
            if (kE) e = quantize(clipBits(e * scale, kE), kE);
            if (L.last && L.d.quantizeOutput && !L.withinClip(pre(i))) e = 0;
            if (d.relu && v[i] <= 0) e = 0;
            if (!d.pool) {
                L.eq[size_t(i)] = e;
            } else {
                const int64_t r = i / N, c = i % N;
                const int64_t b = r / (d.outH * d.outW), p = r % (d.outH * d.outW);
                const int64_t py = p / d.outW, px = p % d.outW;
                const uint8_t a = L.argmax[size_t(i)];
                L.eq[size_t(((b * d.convH + 2 * py + (a >> 1)) * d.convW + 2 * px + (a & 1)) * N + c)] = e;
            }
        }
    }

    void propagateError(FloatLayer& L, FloatLayer& prev, int32_t n) {
        const int64_t rows = L.rows(n);
        if (L.d.type == LayerType::Fc) {
            gemm_f32_nn(rows, L.K, L.N, L.eq.data(), L.wq.data(), prev.eIn.data());
            return;
        }
        gemm_f32_nn(rows, L.K, L.N, L.eq.data(), L.wq.data(), L.ecol.data());
        const auto& d = L.d;
        const int32_t pad = d.same ? d.kernel / 2 : 0;
        const int64_t imageSize = int64_t(d.inH) * d.inW * d.inC;
        tbb::parallel_for(int64_t(0), int64_t(n), [&](int64_t b) {
            float* dst = prev.eIn.data() + b * imageSize;
            std::fill(dst, dst + imageSize, 0.0f);
            for (int64_t oy = 0; oy < d.convH; ++oy)
                for (int64_t ox = 0; ox < d.convW; ++ox) {
                    const float* src = L.ecol.data() + ((b * d.convH + oy) * d.convW + ox) * L.K;
                    for (int32_t ky = 0; ky < d.kernel; ++ky)
                        for (int32_t kx = 0; kx < d.kernel; ++kx) {
                            const int64_t y = oy + ky - pad, x = ox + kx - pad;
                            if (y < 0 || y >= d.inH || x < 0 || x >= d.inW) continue;
                            float* t = dst + (y * d.inW + x) * d.inC;
                            const float* s = src + (int64_t(ky) * d.kernel + kx) * d.inC;
                            for (int32_t c = 0; c < d.inC; ++c) t[c] += s[c];
                        }
                }
        });
    }

    void update(FloatLayer& L, int64_t step, double lr) {
        const int64_t total = L.N * L.K;
        L.lr = lr;
        const int32_t kW = L.b.w(), kG = L.b.g();
        auto clipW = [&](float w) { return kW ? clipBits(w, kW) : w; };
        if (!kG) {
            // Plain SGD on the raw gradient; the schedule scales lr_float by lr / lr(0).
            const float step = float(m_e.lrFloat * lr / m_e.lr.front().lr);
            for (int64_t j = 0; j < total; ++j) {
                L.dw[size_t(j)] = step * L.g[size_t(j)];
                L.w[size_t(j)] = clipW(L.w[size_t(j)]) - L.dw[size_t(j)];
            }
            refreshForwardWeights(L);
            return;
        }
        float m = 0;
        for (int64_t j = 0; j < total; ++j) m = std::max(m, std::abs(L.g[size_t(j)]));
        L.gScale = m > 0 ? std::ldexp(1.0f, -shiftExponent(m)) : 0.0f;
        const double sigmaG = std::ldexp(1.0, 1 - kG);
        const uint32_t tensor = uint32_t(L.index);
        for (int64_t blk = 0; blk < (total + 3) / 4; ++blk) {
            const PhiloxBlock r = m_rng.block(RandomPurpose::StochasticRound, uint64_t(step), tensor, uint32_t(blk));
            for (int64_t j = blk * 4; j < std::min(total, blk * 4 + 4); ++j) {
                // v = Q(lr x, 16) on the 2^-15 grid, as an integer count of 2^-15.
                const double x = double(L.g[size_t(j)]) * L.gScale;
                const auto v = int64_t(std::nearbyint(lr * x * 32768.0));
                const int64_t av = v < 0 ? -v : v;
                const int64_t nAbs = (av >> 15) + ((r[size_t(j & 3)] >> 17) < uint32_t(av & 0x7FFF) ? 1 : 0);
                const double dw = double(v < 0 ? -nAbs : nAbs) * sigmaG;
                L.dw[size_t(j)] = float(dw);
                L.w[size_t(j)] = float(double(clipW(L.w[size_t(j)])) - dw);
            }
        }
        refreshForwardWeights(L);
    }

    Experiment m_e;
    Random m_rng;
    float m_inputTable[256] = {};
    std::vector<float> m_input;
    std::vector<FloatLayer> m_layers;
    std::vector<std::vector<float>> m_weightViews;
    friend std::vector<std::vector<float>> engine_float_gradients(const Experiment&, const std::vector<std::vector<float>>&,
                                                                  const uint8_t*, const uint8_t*, int32_t, double*);
};

void FloatEngine::collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const {
    for (const auto& L : m_layers) {
        const int32_t i = L.index;
        {
            const int32_t k = L.b.w();
            const double lim = k ? 1.0 - std::ldexp(1.0, 1 - k) : INFINITY;
            StatsBuilder sb(bins, -lim, lim, k ? std::ldexp(1.0, 1 - k) : 0.0);
            for (size_t j = 0; j < L.w.size(); ++j) sb.add(L.w[j], double(L.wq[j]) * L.alpha);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::W, k));
        }
        if (L.d.quantizeOutput) {
            const int32_t k = L.b.a();
            const double lim = k ? 1.0 - std::ldexp(1.0, 1 - k) : INFINITY;
            StatsBuilder sb(bins, L.d.relu ? 0.0 : -lim, lim, k ? std::ldexp(1.0, 1 - k) : 0.0);
            const float* v = L.blockOut();
            for (size_t j = 0; j < L.out.size(); ++j) sb.add(L.d.relu && v[j] < 0 ? 0.0 : v[j], L.out[j]);
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::A, k));
        }
        {
            const int32_t k = L.b.g();
            StatsBuilder sb(bins, -INFINITY, INFINITY, k ? std::ldexp(1.0, 1 - k) : 0.0);
            for (size_t j = 0; j < L.g.size(); ++j) {
                const double x = k ? L.lr * double(L.g[j]) * L.gScale * std::ldexp(1.0, 1 - k) : double(L.dw[j]);
                sb.add(x, L.dw[j]);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::G, k));
        }
        {
            const int32_t k = L.b.e();
            const double lim = k ? 1.0 - std::ldexp(1.0, 1 - k) : INFINITY;
            StatsBuilder sb(bins, -lim, lim, k ? std::ldexp(1.0, 1 - k) : 0.0);
            for (size_t j = 0; j < L.eIn.size(); ++j) {
                const float x = k ? L.eIn[j] * L.eScale : L.eIn[j];
                sb.add(x, k ? quantize(clipBits(x, k), k) : x);
            }
            out.push_back(sb.finish(step, i, L.d.name, TensorClass::E, k));
        }
    }
}

} // namespace

std::unique_ptr<Engine> engine_create_float(const Experiment& e) { return std::make_unique<FloatEngine>(e); }

std::vector<std::vector<float>> engine_float_gradients(const Experiment& e, const std::vector<std::vector<float>>& weights,
                                                       const uint8_t* images, const uint8_t* labels, int32_t n,
                                                       double* loss) {
    FloatEngine f(e);
    if (!weights.empty()) f.setWeights(weights);
    BatchResult r;
    f.gradients(images, labels, n, r);
    if (loss) *loss = r.loss;
    return f.gradientsOf();
}

std::vector<std::vector<float>> engine_float_initial_weights(const Experiment& e) {
    FloatEngine f(e);
    return f.weightsForTest();
}

} // namespace bitbench
