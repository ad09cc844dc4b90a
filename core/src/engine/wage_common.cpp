// Shared WAGE helpers: initialisation, input quantization, tensor statistics, weight hashing.
#include "engine/wage_common.h"

#include "bitbench/error.h"
#include "bitbench/fixed_point.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>

namespace bitbench {

WageInit wage_init(int64_t fanIn, int32_t bitsW) {
    const double lMsra = std::sqrt(3.0 / double(fanIn));
    WageInit w;
    if (bitsW == 0) {
        w.limit = lMsra;
        return w;
    }
    const double sigma = std::ldexp(1.0, 1 - bitsW);
    const double wm = 1.5 * sigma;
    w.limit = std::max(wm, lMsra);
    w.log2Alpha = std::max(0, int32_t(std::nearbyint(std::log2(wm / lMsra))));
    return w;
}

double wage_input_value(InputTransform t, uint8_t x) {
    return t == InputTransform::Unit ? double(x) / 256.0 : double(x) / 127.5 - 1.0;
}

std::vector<int32_t> wage_input_codes(InputTransform t, int32_t bitsA) {
    std::vector<int32_t> table(256);
    const int64_t maxCode = fx_max_code(bitsA);
    for (int x = 0; x < 256; ++x) {
        int64_t code;
        if (t == InputTransform::Unit) // X/256 on the 2^(1-kA) grid: X * 2^(kA-1) / 2^8
            code = fx_shift_rne(x, 9 - bitsA);
        else // (2X - 255) / 255 * 2^(kA-1), rounded exactly
            code = fx_div_rne(int64_t(2 * x - 255) << (bitsA - 1), 255);
        table[size_t(x)] = int32_t(fx_clip(code, maxCode));
    }
    return table;
}

StatsBuilder::StatsBuilder(int32_t bins, double clipLo, double clipHi, double quantStep)
    : m_bins(bins), m_clipLo(clipLo), m_clipHi(clipHi), m_step(quantStep) {}

void StatsBuilder::add(double x, double q) {
    m_x.push_back(x);
    m_q.push_back(q);
}

namespace {
Histogram makeHistogram(const std::vector<double>& v, int32_t bins) {
    Histogram h;
    h.counts.assign(size_t(bins), 0);
    if (v.empty()) return h;
    auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    h.lo = *mn;
    h.hi = *mx;
    if (h.hi <= h.lo) {
        h.lo -= 0.5;
        h.hi += 0.5;
    }
    const double scale = bins / (h.hi - h.lo);
    for (double x : v) {
        int32_t b = int32_t((x - h.lo) * scale);
        h.counts[size_t(std::clamp(b, 0, bins - 1))]++;
    }
    return h;
}
} // namespace

TensorStats StatsBuilder::finish(int64_t step, int32_t layer, const std::string& name, TensorClass cls,
                                 int32_t bits) {
    TensorStats s;
    s.step = step;
    s.layer = layer;
    s.layerName = name;
    s.cls = cls;
    s.bits = bits;
    s.quantStep = m_step;
    s.clipLo = m_clipLo;
    s.clipHi = m_clipHi;
    double sig = 0, noise = 0;
    int64_t sat = 0, under = 0, nonzero = 0;
    std::vector<double> err(m_x.size());
    for (size_t i = 0; i < m_x.size(); ++i) {
        const double x = m_x[i], q = m_q[i];
        s.maxAbs = std::max(s.maxAbs, std::abs(x));
        sig += x * x;
        noise += (q - x) * (q - x);
        err[i] = q - x;
        if (bits && (x > m_clipHi || x < m_clipLo)) ++sat;
        if (x != 0) {
            ++nonzero;
            if (q == 0) ++under;
        }
    }
    const double n = double(std::max<size_t>(1, m_x.size()));
    s.saturation = double(sat) / n;
    s.underflow = nonzero ? double(under) / double(nonzero) : 0.0;
    s.sqnrDb = noise > 0 ? 10.0 * std::log10(sig / noise) : std::numeric_limits<double>::infinity();
    s.values = makeHistogram(m_q, m_bins);
    s.error = makeHistogram(err, m_bins);
    return s;
}

WeightsHasher::WeightsHasher() : m_state(XXH3_createState()) { XXH3_64bits_reset(static_cast<XXH3_state_t*>(m_state)); }
WeightsHasher::~WeightsHasher() { XXH3_freeState(static_cast<XXH3_state_t*>(m_state)); }
void WeightsHasher::add(const void* data, size_t bytes) {
    XXH3_64bits_update(static_cast<XXH3_state_t*>(m_state), data, bytes);
}
uint64_t WeightsHasher::digest() const { return XXH3_64bits_digest(static_cast<XXH3_state_t*>(m_state)); }

void blob_put_u64(std::vector<uint8_t>& b, uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

uint64_t blob_get_u64(const std::vector<uint8_t>& b, size_t& pos) {
    if (pos + 8 > b.size()) throw DataError("weights blob is truncated");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(b[pos + size_t(i)]) << (8 * i);
    pos += 8;
    return v;
}

} // namespace bitbench
