// Pieces shared by the integer and float engines: init, alpha, input codes, stats, hashing.
#pragma once

#include "bitbench/engine.h"
#include "bitbench/philox.h"

#include "bitbench/error.h"

#include <cmath>
#include <cstring>
#include <cstdint>
#include <functional>
#include <vector>

namespace bitbench {

// WAGE layer scale and init bound (authors' code: L_msra = sqrt(3 / fan_in)).
struct WageInit {
    double limit = 0;      // L = max(1.5 sigma(kW), L_msra)
    int32_t log2Alpha = 0; // alpha = max(1, 2^round(log2(W_m / L_msra)))
};
WageInit wage_init(int64_t fanIn, int32_t bitsW);

// Uniform double in [-limit, limit) from the Init stream of `tensor`, element `index`.
inline double wage_uniform(const Random& rng, uint32_t tensor, uint64_t index, double limit) {
    const uint32_t u = rng.word(RandomPurpose::Init, 0, tensor, index);
    return -limit + 2.0 * limit * (double(u) / 4294967296.0);
}

// Input code table: byte X -> Q_A(transform(X), kA) as an integer code (scale 2^(1-kA)).
std::vector<int32_t> wage_input_codes(InputTransform t, int32_t bitsA);
// The real input value before quantization.
double wage_input_value(InputTransform t, uint8_t x);

// Accumulates per-tensor statistics from (x, q) pairs: x before quantization, q after.
class StatsBuilder {
public:
    StatsBuilder(int32_t bins, double clipLo, double clipHi, double quantStep);
    void add(double x, double q);
    // requires: called once after all add()s; histograms span the observed ranges.
    TensorStats finish(int64_t step, int32_t layer, const std::string& name, TensorClass cls, int32_t bits);

private:
    int32_t m_bins;
    double m_clipLo, m_clipHi, m_step;
    std::vector<double> m_x, m_q;
};

// Stream hashing of weights for the per-epoch hash.
class WeightsHasher {
public:
    WeightsHasher();
    ~WeightsHasher();
    void add(const void* data, size_t bytes);
    uint64_t digest() const;

private:
    void* m_state;
};

// First index of the largest value (ties go to the lowest class, as numpy's argmax).
template <typename T> int32_t wage_argmax(const T* v, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

// Serialisation of weight blobs: magic, layer count, then per layer count + raw values.
void blob_put_u64(std::vector<uint8_t>& b, uint64_t v);
uint64_t blob_get_u64(const std::vector<uint8_t>& b, size_t& pos);

// The weights of every layer (`weightsOf(layer)` gives its vector) as one blob, as one hash, and
// back. Both engines store their latent weights this way; only the element type differs.
template <typename Layers, typename WeightsOf>
std::vector<uint8_t> weights_blob_save(uint64_t magic, const Layers& layers, WeightsOf weightsOf) {
    std::vector<uint8_t> b;
    blob_put_u64(b, magic);
    blob_put_u64(b, layers.size());
    for (const auto& L : layers) {
        const auto& w = weightsOf(L);
        blob_put_u64(b, w.size());
        const auto* p = reinterpret_cast<const uint8_t*>(w.data());
        b.insert(b.end(), p, p + w.size() * sizeof(w[0]));
    }
    return b;
}

template <typename Layers, typename WeightsOf>
uint64_t weights_hash(const Layers& layers, WeightsOf weightsOf) {
    WeightsHasher h;
    for (const auto& L : layers) h.add(weightsOf(L).data(), weightsOf(L).size() * sizeof(weightsOf(L)[0]));
    return h.digest();
}

// Reads a blob written by weights_blob_save into the layers; `loaded(layer)` runs after each.
// throws DataError when the blob is of another engine or model, or truncated.
template <typename Layers, typename WeightsOf, typename Loaded>
void weights_blob_load(const std::vector<uint8_t>& b, uint64_t magic, const char* engine, Layers& layers,
                       WeightsOf weightsOf, Loaded loaded) {
    size_t pos = 0;
    if (blob_get_u64(b, pos) != magic) throw DataError(std::string("weights blob is not from the ") + engine + " engine");
    if (blob_get_u64(b, pos) != layers.size()) throw DataError("weights blob has a different layer count");
    for (auto& L : layers) {
        auto& w = weightsOf(L);
        if (blob_get_u64(b, pos) != w.size()) throw DataError("weights blob does not fit layer '" + L.d.name + "'");
        const size_t bytes = w.size() * sizeof(w[0]);
        if (pos + bytes > b.size()) throw DataError("weights blob is truncated");
        std::memcpy(w.data(), b.data() + pos, bytes);
        pos += bytes;
        loaded(L);
    }
}

} // namespace bitbench
