// The integer WAGE engine: layer set-up and buffers, the training step, weights and reports.
#include "engine/int/engine_int_impl.h"

#include "bitbench/error.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace bitbench::int_detail {

namespace {

// Q_W of one latent weight: the forward code.
struct ForwardCode {
    int64_t latentBound;
    int32_t shift;
    int64_t maxW;
    explicit ForwardCode(const IntLayer& L) : latentBound(L.latentBound), shift(L.kL - L.b.w()), maxW(fx_max_code(L.b.w())) {}
    int8_t operator()(int64_t latent) const {
        return int8_t(fx_clip(fx_shift_rne(fx_clip(latent, latentBound), shift), maxW));
    }
};

} // namespace

IntEngine::IntEngine(const Experiment& e)
    : m_e(e), m_rng(e.seed), m_k(&wage_kernels::kernels_for(gemm_isa_active())) {
    const auto& m = e.model;
    m_inputBits = e.bits.base.a();
    m_inputCodes = wage_input_codes(m.transform, m_inputBits);
    const int32_t B = e.batch;
    int32_t inExp = 1 - m_inputBits;
    bool inputNonNeg = m.transform == InputTransform::Unit;
    // 64 bytes of slack: convRowOneChannel reads a few bytes past the last image.
    m_input.resize(size_t(B) * m.inH * m.inW * m.inC + 64);
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
            const int64_t colImage = int64_t(L.d.convH) * L.d.convW * L.K * int64_t(sizeof(int32_t));
            L.errorChunk = std::clamp<int64_t>((int64_t(512) << 10) / colImage, 1, B);
            if (i > 0 && L.d.inC % 16 == 0) {
                // Offsets into the input error padded by the conv's padding on every side (a
                // tap in the padding lands there and is dropped when the interior is copied).
                const auto& d = L.d;
                const int64_t pad = d.same ? d.kernel / 2 : 0, pW = d.inW + 2 * pad;
                const int64_t imageSize = (d.inH + 2 * pad) * pW * d.inC;
                for (int64_t b = 0; b < L.errorChunk; ++b)
                    for (int64_t oy = 0; oy < d.convH; ++oy)
                        for (int64_t ox = 0; ox < d.convW; ++ox)
                            L.errRowOff.push_back(b * imageSize + (oy * pW + ox) * d.inC);
                for (int64_t ky = 0; ky < d.kernel; ++ky)
                    for (int64_t kx = 0; kx < d.kernel; ++kx)
                        for (int64_t c = 0; c < d.inC; ++c) L.errColOff.push_back((ky * pW + kx) * d.inC + c);
            }
            const int64_t accImage = L.rows(1) * L.N * int64_t(sizeof(int32_t));
            L.forwardChunk = std::clamp<int64_t>((int64_t(256) << 10) / (accImage + L.rows(1) * L.K), 1, B);
        }
        // A pooled conv never holds its whole product: it is pooled chunk by chunk.
        if (!(L.d.type == LayerType::Conv && L.d.pool)) L.acc.resize(size_t(rows * L.N));
        L.direct = i == 0 && L.d.type == LayerType::Conv && L.d.pool && L.d.inC == 1 && !L.d.same && L.d.kernel == 5 &&
                   L.d.convW % 4 == 0 && L.d.convH % 2 == 0 &&
                   inputNonNeg && (L.N == 16 || L.N == 32 || L.N == 64);
        if (L.direct) L.wDirect.resize(size_t(wage_kernels::kDirectGroups * L.N * 4));
        L.directWide = L.direct && L.b.e() > 8 &&
                       int64_t(L.d.convH / 2) * (L.d.convW / 2) * fx_max_code(L.b.e()) * 127 < (int64_t(1) << 31);
        if (L.d.pool) {
            L.pooled.resize(size_t(outRows * L.N));
            L.argmax.resize(size_t(outRows * L.N));
        }
        L.out.resize(size_t(outRows * L.N));
        L.eIn.resize(size_t(outRows * L.N));
        L.wideE = L.b.e() > 8;
        if (L.wideE) {
            L.eq16.resize(size_t(rows * L.N));
            L.g64.resize(size_t(L.N * L.K));
            L.ws16 = std::make_unique<Gemm16Workspace>();
        } else {
            L.eq.resize(size_t(rows * L.N));
            L.g.resize(size_t(L.N * L.K));
        }
        L.dw.resize(size_t(L.N * L.K));
        checkBounds(L, B);
        inExp = 1 - L.b.a();
        inputNonNeg = L.d.relu;
        m_layers.push_back(std::move(L));
    }
    for (auto& L : m_layers) refreshForwardWeights(L);
}

std::vector<LayerReport> IntEngine::layers() const {
    std::vector<LayerReport> r;
    static const char* const why[4] = {"int8 codes (scale 2^(1-kW)/alpha), int32 sums",
                                       "int8 codes from int32 sums by a rounding shift",
                                       "integer Q_G: Shift(max) and stochastic rounding onto the latent int codes",
                                       "int8 codes from int32 sums by Shift(max|e|)"};
    static const char* const whyWide[4] = {
        "int8 codes (scale 2^(1-kW)/alpha), int32 sums; E·W as int16 x int8 pairs, int32 sums",
        "int8 codes from int32 sums by a rounding shift",
        "integer Q_G on int64 sums (E^T·A: int16 x int8 pairs, int32 chunks added in int64): Shift(max) and "
        "stochastic rounding onto the latent int codes",
        "int16 codes from int32 sums by Shift(max|e|)"};
    for (const auto& L : m_layers) {
        const int64_t bound = L.wideE ? accumulatorBoundWide(L) : accumulatorBound(L, m_e.batch);
        r.push_back({L.d.name, L.b, L.K, L.N * L.K, 1 << L.log2Alpha, bound});
        for (size_t c = 0; c < 4; ++c)
            r.back().plan[c] = {"wage" + std::to_string(L.b.bits[c]), true, L.wideE ? whyWide[c] : why[c]};
    }
    return r;
}

void IntEngine::trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
               BatchResult& out) {
    forward(images, n, true);
    Stopwatch sw;
    score(labels, n, out, true); // logits minus one-hot, loss and errors
    for (int64_t i = int64_t(m_layers.size()) - 1; i >= 0; --i) {
        IntLayer& L = m_layers[size_t(i)];
        quantizeError(L, n);
        L.time.quantizeSeconds += sw.lap();
        weightGradient(L, n);
        L.time.gradientSeconds += sw.lap();
        if (i > 0) propagateError(L, m_layers[size_t(i - 1)], n);
        L.time.errorSeconds += sw.lap();
    }
    const int64_t lrQ = int64_t(lr * 65536.0);
    for (auto& L : m_layers) {
        update(L, step, lrQ);
        L.time.updateSeconds += sw.lap();
    }
}

void IntEngine::evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) {
    forward(images, n, false);
    score(labels, n, out, false);
}

uint64_t IntEngine::weightsHash() const {
    return weights_hash(m_layers, [](const IntLayer& L) -> const auto& { return L.wLat; });
}

std::vector<uint8_t> IntEngine::weightsSave() const {
    return weights_blob_save(kBlobMagic, m_layers, [](const IntLayer& L) -> const auto& { return L.wLat; });
}

void IntEngine::weightsLoad(const std::vector<uint8_t>& b) {
    weights_blob_load(b, kBlobMagic, "integer", m_layers, [](IntLayer& L) -> auto& { return L.wLat; },
                      [this](IntLayer& L) { refreshForwardWeights(L); });
}

std::vector<LayerTiming> IntEngine::timings() const {
    std::vector<LayerTiming> r;
    for (const auto& L : m_layers) {
        r.push_back(L.time);
        r.back().name = L.d.name;
    }
    return r;
}

void IntEngine::timingsReset() {
    for (auto& L : m_layers) L.time = {};
}

int64_t IntEngine::accumulatorBound(const IntLayer& L, int32_t batch) {
    const int64_t maxA = fx_max_code(L.b.a()), maxW = fx_max_code(L.b.w()), maxE = fx_max_code(L.b.e());
    const int64_t inMax = L.index == 0 ? 127 : maxA;
    int64_t bound = L.K * inMax * maxW;                           // forward
    bound = std::max(bound, L.rows(batch) * maxE * inMax);       // weight gradient
    const int64_t taps = L.d.type == LayerType::Conv ? int64_t(L.d.kernel) * L.d.kernel : 1;
    bound = std::max(bound, taps * L.N * maxE * maxW);           // error propagation
    return bound;
}

int64_t IntEngine::accumulatorBoundWide(const IntLayer& L) {
    const int64_t maxA = fx_max_code(L.b.a()), maxW = fx_max_code(L.b.w()), maxE = fx_max_code(L.b.e());
    const int64_t inMax = L.index == 0 ? 127 : maxA;
    const int64_t taps = L.d.type == LayerType::Conv ? int64_t(L.d.kernel) * L.d.kernel : 1;
    // The first layer has no error product (nothing below it needs an error).
    return std::max(L.K * inMax * maxW, L.index == 0 ? 0 : taps * L.N * maxE * maxW);
}

void IntEngine::checkBounds(const IntLayer& L, int32_t batch) const {
    const int64_t bound = L.wideE ? accumulatorBoundWide(L) : accumulatorBound(L, batch);
    if (bound >= (int64_t(1) << 31))
        throw InputError("layer '" + L.d.name + "': int32 sums could reach " + std::to_string(bound) +
                         " with batch " + std::to_string(batch) + " and these bits (limit 2^31); use a smaller batch");
}

void IntEngine::refreshForwardWeights(IntLayer& L) {
    const ForwardCode fc(L);
    const int32_t* w = L.wLat.data();
    int8_t* q = L.wq.data();
    parallelRange(L.N * L.K, 16384, [=](int64_t lo, int64_t hi) {
        for (int64_t j = lo; j < hi; ++j) q[j] = fc(w[j]);
    });
    transposeForwardWeights(L);
}

// wqT = wq^T in 64 x 64 tiles, so both sides stay in cache lines.
void IntEngine::transposeForwardWeights(IntLayer& L) const {
    const int64_t N = L.N, K = L.K, tile = 64;
    const int64_t tn = (N + tile - 1) / tile, tk = (K + tile - 1) / tile;
    const int8_t* src = L.wq.data();
    int8_t* dst = L.wqT.data();
    const auto transpose = m_k->transpose;
    parallelRange(tn * tk, 4, [=](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) {
            const int64_t n0 = (t / tk) * tile, k0 = (t % tk) * tile;
            const int64_t n1 = std::min(N, n0 + tile), k1 = std::min(K, k0 + tile);
            transpose(src + n0 * K + k0, K, n1 - n0, k1 - k0, dst + k0 * N + n0, N);
        }
    });
}

} // namespace bitbench::int_detail

namespace bitbench {

bool engine_integer_supported(const Experiment& e, std::string* why) {
    if (e.needsGraphExecutor()) {
        if (why) *why = "it needs the graph executor (an op-form model, quantizer families or a solver other than wage)";
        return false;
    }
    for (const auto& l : e.model.layers) {
        const ClassBits b = e.bits.forLayer(l.name);
        const bool first = &l == &e.model.layers.front();
        if (!b.allInteger()) {
            if (why) *why = "layer '" + l.name + "' has a float class (" + b.dashed() + ")";
            return false;
        }
        if (b.w() > 8 || b.a() > 8) {
            if (why) *why = "layer '" + l.name + "' has W or A wider than 8 bits (" + b.dashed() + ")";
            return false;
        }
        if (b.e() > 16) {
            if (why) *why = "layer '" + l.name + "' has E wider than 16 bits (" + b.dashed() + ")";
            return false;
        }
        if (b.e() > 8 && !first) {
            // int16 error codes: the error product E·W still gives int32 sums (the input error
            // of the layer below), which must not overflow. The weight gradient sums in int64;
            // the first layer has no error product.
            const int64_t taps = l.type == LayerType::Conv ? int64_t(l.kernel) * l.kernel : 1;
            const int64_t bound = taps * l.out * fx_max_code(b.e()) * fx_max_code(b.w());
            if (bound >= (int64_t(1) << 31)) {
                if (why)
                    *why = "layer '" + l.name + "': its error product with " + std::to_string(b.e()) +
                           "-bit errors could reach " + std::to_string(bound) + " (int32 sums)";
                return false;
            }
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

std::unique_ptr<Engine> engine_create_integer(const Experiment& e) { return std::make_unique<int_detail::IntEngine>(e); }

} // namespace bitbench
