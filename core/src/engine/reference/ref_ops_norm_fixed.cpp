// Range BN in fixed point (ref_ops.h, rangebn_forward_fixed_*): statistics on the input's integer
// codes, one fixed-point multiplier and shift per channel, the output on the Q16 grid.
#include "bitbench/fixed_point.h"
#include "bitbench/gemm.h"
#include "engine/reference/ref_ops.h"
#include "kernels/wage_kernels.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cmath>

namespace bitbench::ref {

namespace {

constexpr int32_t kFrac = 16; // output grid 2^-16

// A buffer of the calling thread for the codes, reused from call to call (no allocation and no
// page faults once it has grown). A thread that gets here again while its buffer is in use (it
// took another task while waiting inside a parallel loop) gets a private one.
class CodeScratch {
public:
    explicit CodeScratch(size_t n) {
        thread_local Slot slot;
        if (!slot.busy) {
            slot.busy = true;
            m_slot = &slot;
            m_v = &slot.v;
        }
        if (m_v->size() < n) m_v->resize(n);
    }
    ~CodeScratch() {
        if (m_slot) m_slot->busy = false;
    }
    CodeScratch(const CodeScratch&) = delete;
    CodeScratch& operator=(const CodeScratch&) = delete;
    int32_t* data() { return m_v->data(); }

private:
    struct Slot {
        std::vector<int32_t> v;
        bool busy = false;
    };
    Slot* m_slot = nullptr;
    std::vector<int32_t> m_own;
    std::vector<int32_t>* m_v = &m_own;
};

// x = float(q sx), rounded once: x / sx is within 2^-23 relative of the integer q, so rounding
// x * (1 / sx) to nearest gives q as well. Element-wise, so split over threads.
const int32_t* codesOf(int64_t count, const float* x, double sx, int32_t* out) {
    const double inv = 1.0 / sx;
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, count, 16384), [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t i = r.begin(); i < r.end(); ++i) out[i] = int32_t(fx_rne_small(double(x[i]) * inv));
    });
    return out;
}

// y = (a q + b[ch]) M[ch] on the 2^-16 grid, plus off[ch] (on the grid), saturated to int32.
void affineFixed(int64_t rows, int32_t c, const int32_t* q, int64_t a, const std::vector<int64_t>& b,
                 const std::vector<FxMultiplier>& m, const std::vector<int64_t>& off, float* y) {
    constexpr double unit = 1.0 / (1 << kFrac); // exact: v 2^-16 as ldexp gives it
    // Fast form when every product fits int64 and every shift is 1..62 (always, in practice):
    // round half to even as (p + 2^(s-1) - 1 + floor(p / 2^s) mod 2) >> s, no branches.
    // max |q| (an integer maximum: any split gives it).
    const int32_t qmax = tbb::parallel_reduce(
        tbb::blocked_range<int64_t>(0, rows * c, 16384), int32_t(0),
        [&](const tbb::blocked_range<int64_t>& r, int32_t m0) {
            for (int64_t i = r.begin(); i < r.end(); ++i) m0 = std::max(m0, q[i] < 0 ? -q[i] : q[i]);
            return m0;
        },
        [](int32_t x, int32_t z) { return std::max(x, z); });
    bool fast = true;
    std::vector<int64_t> mm(static_cast<size_t>(c)), bias(static_cast<size_t>(c)), sh(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) {
        const int32_t s = m[size_t(ch)].shift - kFrac;
        const int64_t tmax = a * qmax + (b[size_t(ch)] < 0 ? -b[size_t(ch)] : b[size_t(ch)]);
        fast = fast && s >= 1 && s <= 62 && tmax < (int64_t(1) << 32);
        mm[size_t(ch)] = m[size_t(ch)].m;
        sh[size_t(ch)] = std::clamp(s, 1, 62);
        bias[size_t(ch)] = (int64_t(1) << (sh[size_t(ch)] - 1)) - 1;
    }
    if (fast) {
        // Element-wise: rows split over threads, each block on the kernel table's fixedBnRows (the
        // same integer steps compiled for the active ISA: vector lanes, same bits).
        const wage_kernels::Kernels& k = wage_kernels::kernels_for(gemm_isa_active());
        const wage_kernels::FixedBnChannels chans{b.data(), mm.data(), sh.data(), bias.data(), off.data()};
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, std::max<int64_t>(1, 4096 / std::max(1, c))),
                          [&](const tbb::blocked_range<int64_t>& rr) {
                              k.fixedBnRows(q + rr.begin() * c, rr.end() - rr.begin(), c, a, chans, y + rr.begin() * c);
                          });
        return;
    }
    for (int64_t r = 0; r < rows; ++r)
        for (int32_t ch = 0; ch < c; ++ch) {
            const int64_t t = a * q[size_t(r * c + ch)] + b[size_t(ch)];
            const int32_t v = fx_sat32(int64_t(fx_multiply_rne(t, m[size_t(ch)], kFrac)) + off[size_t(ch)]);
            y[r * c + ch] = float(double(v) * unit);
        }
}

int64_t onGrid(double v) {
    const double g = std::nearbyint(std::ldexp(v, kFrac));
    return g > double(INT32_MAX) ? INT32_MAX : g < double(INT32_MIN) ? INT32_MIN : int64_t(g);
}

} // namespace

void rangebn_forward_fixed_train(int64_t rows, int32_t c, int32_t chunks, const float* x, double sx,
                                 const float* gamma, const float* beta, double eps, double momentum, float* y,
                                 BatchNormCache& cache, std::vector<double>& runMean, std::vector<double>& runScale,
                                 int32_t scaleBits) {
    CodeScratch scratch(size_t(rows * c));
    const int32_t* q = codesOf(rows * c, x, sx, scratch.data());
    std::vector<int64_t> sum(static_cast<size_t>(c), 0), span(static_cast<size_t>(c), 0);
    cache.maxIndex.assign(size_t(c) * size_t(chunks), 0);
    cache.minIndex.assign(size_t(c) * size_t(chunks), 0);
    // Per chunk of rows (in parallel): each channel's integer sum, and the first row of its largest
    // and of its smallest code. Integer sums are exact, so adding the chunks' sums in any order
    // gives the same total.
    std::vector<int64_t> chunkSum(size_t(c) * size_t(chunks), 0);
    tbb::parallel_for(int32_t(0), chunks, [&](int32_t j) {
        const int64_t lo = j * rows / chunks, hi = (j + 1) * rows / chunks;
        int64_t* iMax = cache.maxIndex.data() + size_t(j) * size_t(c);
        int64_t* iMin = cache.minIndex.data() + size_t(j) * size_t(c);
        int64_t* s = chunkSum.data() + size_t(j) * size_t(c);
        for (int32_t ch = 0; ch < c; ++ch) iMax[ch] = iMin[ch] = lo;
        if (lo < hi)
            for (int32_t ch = 0; ch < c; ++ch) s[ch] = q[size_t(lo * c + ch)];
        for (int64_t r = lo + 1; r < hi; ++r)
            for (int32_t ch = 0; ch < c; ++ch) {
                const int32_t v = q[size_t(r * c + ch)];
                s[ch] += v;
                if (v > q[size_t(iMax[ch] * c + ch)]) iMax[ch] = r;
                if (v < q[size_t(iMin[ch] * c + ch)]) iMin[ch] = r;
            }
    });
    for (int32_t j = 0; j < chunks; ++j) {
        const int64_t* iMax = cache.maxIndex.data() + size_t(j) * size_t(c);
        const int64_t* iMin = cache.minIndex.data() + size_t(j) * size_t(c);
        for (int32_t ch = 0; ch < c; ++ch) {
            sum[size_t(ch)] += chunkSum[size_t(j) * size_t(c) + size_t(ch)];
            span[size_t(ch)] += int64_t(q[size_t(iMax[ch] * c + ch)]) - q[size_t(iMin[ch] * c + ch)];
        }
    }
    cache.fix = rangebn_fix(rows, chunks);
    cache.mean.assign(static_cast<size_t>(c), 0);
    std::vector<double> range(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) {
        cache.mean[size_t(ch)] = sx * double(sum[size_t(ch)]) / double(rows);
        range[size_t(ch)] = sx * double(span[size_t(ch)]) / double(chunks);
    }
    rangebn_scales(range, eps, momentum, cache, runMean, runScale, scaleBits);
    // (x - mean) s g = (rows q - sum) * (sx s g / rows): an exact integer times one multiplier.
    std::vector<FxMultiplier> m(static_cast<size_t>(c));
    std::vector<int64_t> b(static_cast<size_t>(c)), off(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) {
        m[size_t(ch)] = fx_multiplier(sx * cache.invStd[size_t(ch)] * double(gamma[ch]) / double(rows));
        b[size_t(ch)] = -sum[size_t(ch)];
        off[size_t(ch)] = onGrid(double(beta[ch]));
    }
    affineFixed(rows, c, q, rows, b, m, off, y);
}

void rangebn_forward_fixed_eval(int64_t rows, int32_t c, const float* x, double sx, const float* gamma,
                                const float* beta, const std::vector<double>& runMean,
                                const std::vector<double>& runScale, float* y, int32_t scaleBits) {
    CodeScratch scratch(size_t(rows * c));
    const int32_t* q = codesOf(rows * c, x, sx, scratch.data());
    std::vector<double> s = runScale;
    if (scaleBits) quantize_min_max(s, scaleBits);
    // (x - mean) s g + beta = q (sx s g) + (beta - mean s g): the offset rounded onto the grid once.
    std::vector<FxMultiplier> m(static_cast<size_t>(c));
    std::vector<int64_t> b(static_cast<size_t>(c), 0), off(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) {
        const double sg = s[size_t(ch)] * double(gamma[ch]);
        m[size_t(ch)] = fx_multiplier(sx * sg);
        off[size_t(ch)] = onGrid(double(beta[ch]) - runMean[size_t(ch)] * sg);
    }
    affineFixed(rows, c, q, 1, b, m, off, y);
}

} // namespace bitbench::ref
