// Reference batch norm (standard and range): per-channel statistics in double, two passes.
#include "engine/reference/ref_ops.h"

#include "bitbench/quant.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace bitbench::ref {

namespace {

// y = (x - mean) * scale * gamma + beta per element, in double, rounded once.
template <typename T>
void normalize(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, const double* mean,
               const double* scale, T* y) {
    for (int64_t r = 0; r < rows; ++r)
        for (int32_t ch = 0; ch < c; ++ch)
            y[r * c + ch] = T((double(x[r * c + ch]) - mean[ch]) * scale[ch] * double(gamma[ch]) + double(beta[ch]));
}

// Loops run row by row with one accumulator per channel: each channel's sum still adds its rows in
// ascending order (the definition), and the inner loop over channels vectorizes.
template <typename T> std::vector<double> channelMeans(int64_t rows, int32_t c, const T* x) {
    std::vector<double> s(static_cast<size_t>(c), 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int32_t ch = 0; ch < c; ++ch) s[size_t(ch)] += double(x[r * c + ch]);
    for (double& v : s) v /= double(rows);
    return s;
}

} // namespace

double rangebn_fix(int64_t rows, int32_t chunks) {
    const double n = double(rows) / double(chunks);
    return 0.5 * 0.35 * (1 + std::sqrt(std::numbers::pi * std::log(4.0))) / std::sqrt(2 * std::log(n));
}

void rangebn_scales(const std::vector<double>& range, double eps, double momentum, BatchNormCache& cache,
                    std::vector<double>& runMean, std::vector<double>& runScale, int32_t scaleBits) {
    cache.invStd.assign(range.size(), 0);
    for (size_t ch = 0; ch < range.size(); ++ch) {
        const double scale = 1.0 / (range[ch] * cache.fix + eps);
        cache.invStd[ch] = scale;
        runMean[ch] = (1 - momentum) * runMean[ch] + momentum * cache.mean[ch];
        runScale[ch] = (1 - momentum) * runScale[ch] + momentum * scale;
    }
    cache.rawScale.clear();
    if (scaleBits) {
        cache.rawScale = cache.invStd;
        quantize_min_max(cache.invStd, scaleBits);
    }
}

void quantize_min_max(std::vector<double>& v, int32_t bits) {
    Quantizer q;
    q.family = QuantFamily::Affine;
    q.bits = bits;
    std::vector<float> f(v.begin(), v.end());
    const TensorView view{f.data(), 1, int64_t(f.size()), GroupAxis::None};
    QuantPlan plan;
    quant_observe(q, QuantClass::W, view, {}, plan);
    quant_apply(q, view, plan, {}, f.data());
    std::copy(f.begin(), f.end(), v.begin());
}

template <typename T>
void batchnorm_forward_train(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* y, BatchNormCache& cache, std::vector<double>& runMean,
                             std::vector<double>& runVar) {
    cache.mean = channelMeans(rows, c, x);
    std::vector<double> ss(static_cast<size_t>(c), 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int32_t ch = 0; ch < c; ++ch) {
            const double d = double(x[r * c + ch]) - cache.mean[size_t(ch)];
            ss[size_t(ch)] += d * d;
        }
    cache.invStd.assign(static_cast<size_t>(c), 0);
    for (int32_t ch = 0; ch < c; ++ch) {
        const double var = ss[size_t(ch)] / double(rows);
        cache.invStd[size_t(ch)] = 1.0 / std::sqrt(var + eps);
        const double unbiased = rows > 1 ? ss[size_t(ch)] / double(rows - 1) : var;
        runMean[size_t(ch)] = (1 - momentum) * runMean[size_t(ch)] + momentum * cache.mean[size_t(ch)];
        runVar[size_t(ch)] = (1 - momentum) * runVar[size_t(ch)] + momentum * unbiased;
    }
    normalize(rows, c, x, gamma, beta, cache.mean.data(), cache.invStd.data(), y);
}

template <typename T>
void batchnorm_forward_eval(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, double eps,
                            const std::vector<double>& runMean, const std::vector<double>& runVar, T* y) {
    std::vector<double> inv(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) inv[size_t(ch)] = 1.0 / std::sqrt(runVar[size_t(ch)] + eps);
    normalize(rows, c, x, gamma, beta, runMean.data(), inv.data(), y);
}

template <typename T>
void batchnorm_backward(int64_t rows, int32_t c, const T* x, const T* gamma, const T* dy, const BatchNormCache& cache,
                        T* dx, T* dgamma, T* dbeta) {
    std::vector<double> sdy(static_cast<size_t>(c), 0.0), sdyx(static_cast<size_t>(c), 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int32_t ch = 0; ch < c; ++ch) {
            const double d = double(dy[r * c + ch]);
            sdy[size_t(ch)] += d;
            sdyx[size_t(ch)] += d * (double(x[r * c + ch]) - cache.mean[size_t(ch)]) * cache.invStd[size_t(ch)];
        }
    std::vector<double> k(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) {
        dbeta[ch] = T(sdy[size_t(ch)]);
        dgamma[ch] = T(sdyx[size_t(ch)]);
        k[size_t(ch)] = double(gamma[ch]) * cache.invStd[size_t(ch)] / double(rows);
    }
    if (!dx) return;
    // dx = gamma inv / M (M dy - sum dy - xhat sum dy xhat)
    for (int64_t r = 0; r < rows; ++r)
        for (int32_t ch = 0; ch < c; ++ch) {
            const double xhat = (double(x[r * c + ch]) - cache.mean[size_t(ch)]) * cache.invStd[size_t(ch)];
            dx[r * c + ch] = T(k[size_t(ch)] * (double(rows) * double(dy[r * c + ch]) - sdy[size_t(ch)] - xhat * sdyx[size_t(ch)]));
        }
}

template <typename T>
void rangebn_forward_train(int64_t rows, int32_t c, int32_t chunks, const T* x, const T* gamma, const T* beta,
                           double eps, double momentum, T* y, BatchNormCache& cache, std::vector<double>& runMean,
                           std::vector<double>& runScale, int32_t scaleBits) {
    cache.mean = channelMeans(rows, c, x);
    cache.invStd.assign(static_cast<size_t>(c), 0);
    cache.maxIndex.assign(size_t(c) * size_t(chunks), 0);
    cache.minIndex.assign(size_t(c) * size_t(chunks), 0);
    cache.fix = rangebn_fix(rows, chunks);
    std::vector<double> sumMax(static_cast<size_t>(c), 0.0), sumMin(static_cast<size_t>(c), 0.0);
    for (int32_t j = 0; j < chunks; ++j) {
        const int64_t lo = j * rows / chunks, hi = (j + 1) * rows / chunks;
        int64_t* iMax = cache.maxIndex.data() + size_t(j) * size_t(c); // [chunk][channel] while scanning
        int64_t* iMin = cache.minIndex.data() + size_t(j) * size_t(c);
        for (int32_t ch = 0; ch < c; ++ch) iMax[ch] = iMin[ch] = lo;
        for (int64_t r = lo + 1; r < hi; ++r)
            for (int32_t ch = 0; ch < c; ++ch) {
                const T v = x[r * c + ch];
                if (v > x[iMax[ch] * c + ch]) iMax[ch] = r;
                if (v < x[iMin[ch] * c + ch]) iMin[ch] = r;
            }
        for (int32_t ch = 0; ch < c; ++ch) {
            sumMax[size_t(ch)] += double(x[iMax[ch] * c + ch]);
            sumMin[size_t(ch)] += double(x[iMin[ch] * c + ch]);
        }
    }
    std::vector<double> range(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) range[size_t(ch)] = (sumMax[size_t(ch)] - sumMin[size_t(ch)]) / double(chunks);
    rangebn_scales(range, eps, momentum, cache, runMean, runScale, scaleBits);
    normalize(rows, c, x, gamma, beta, cache.mean.data(), cache.invStd.data(), y);
}

template <typename T>
void rangebn_forward_eval(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta,
                          const std::vector<double>& runMean, const std::vector<double>& runScale, T* y,
                          int32_t scaleBits) {
    if (!scaleBits) return normalize(rows, c, x, gamma, beta, runMean.data(), runScale.data(), y);
    std::vector<double> s = runScale;
    quantize_min_max(s, scaleBits);
    normalize(rows, c, x, gamma, beta, runMean.data(), s.data(), y);
}

template <typename T>
void rangebn_backward(int64_t rows, int32_t c, int32_t chunks, const T* x, const T* gamma, const T* dy,
                      const BatchNormCache& cache, T* dx, T* dgamma, T* dbeta) {
    std::vector<double> sdy(static_cast<size_t>(c), 0.0), sdyc(static_cast<size_t>(c), 0.0); // sum dy, sum dy (x - mean)
    // Each channel's sums in row order, as one loop would; blocks of 16 channels on different threads.
    constexpr int32_t kBlock = 16;
    tbb::parallel_for(int32_t(0), (c + kBlock - 1) / kBlock, [&](int32_t blk) {
        const int32_t ch0 = blk * kBlock, n = std::min(c, ch0 + kBlock) - ch0;
        double s[kBlock] = {}, sc[kBlock] = {}, mean[kBlock] = {};
        for (int32_t k = 0; k < n; ++k) mean[k] = cache.mean[size_t(ch0 + k)];
        for (int64_t r = 0; r < rows; ++r) {
            const T* d = dy + r * c + ch0;
            const T* xr = x + r * c + ch0;
            for (int32_t k = 0; k < n; ++k) {
                s[k] += double(d[k]);
                sc[k] += double(d[k]) * (double(xr[k]) - mean[k]);
            }
        }
        for (int32_t k = 0; k < n; ++k) {
            sdy[size_t(ch0 + k)] = s[k];
            sdyc[size_t(ch0 + k)] = sc[k];
        }
    });
    std::vector<double> direct(static_cast<size_t>(c)), viaMean(static_cast<size_t>(c)), perChunk(static_cast<size_t>(c));
    for (int32_t ch = 0; ch < c; ++ch) {
        const double s = cache.invStd[size_t(ch)], g = double(gamma[ch]);
        dbeta[ch] = T(sdy[size_t(ch)]);
        dgamma[ch] = T(sdyc[size_t(ch)] * s);
        // y = (x - mean) s g + b, s = 1 / (range fix + eps), range = mean_j max_j - mean_j min_j.
        const double dScale = sdyc[size_t(ch)] * g;          // dL/ds
        // d scale / d range with the scale before quantization (straight-through).
        const double sr = cache.rawScale.empty() ? s : cache.rawScale[size_t(ch)];
        const double dRange = dScale * -sr * sr * cache.fix; // dL/drange
        direct[size_t(ch)] = g * s;
        viaMean[size_t(ch)] = -g * s * sdy[size_t(ch)] / double(rows);
        perChunk[size_t(ch)] = dRange / double(chunks);
    }
    if (!dx) return;
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, std::max<int64_t>(1, 4096 / std::max(1, c))),
                      [&](const tbb::blocked_range<int64_t>& rr) {
                          for (int64_t r = rr.begin(); r < rr.end(); ++r)
                              for (int32_t ch = 0; ch < c; ++ch)
                                  dx[r * c + ch] = T(direct[size_t(ch)] * double(dy[r * c + ch]) + viaMean[size_t(ch)]);
                      });
    for (int32_t j = 0; j < chunks; ++j)
        for (int32_t ch = 0; ch < c; ++ch) {
            const int64_t iMax = cache.maxIndex[size_t(j) * size_t(c) + size_t(ch)];
            const int64_t iMin = cache.minIndex[size_t(j) * size_t(c) + size_t(ch)];
            dx[iMax * c + ch] = T(double(dx[iMax * c + ch]) + perChunk[size_t(ch)]);
            dx[iMin * c + ch] = T(double(dx[iMin * c + ch]) - perChunk[size_t(ch)]);
        }
}

#define BITBENCH_REF_NORM(T)                                                                                         \
    template void batchnorm_forward_train<T>(int64_t, int32_t, const T*, const T*, const T*, double, double, T*,     \
                                             BatchNormCache&, std::vector<double>&, std::vector<double>&);           \
    template void batchnorm_forward_eval<T>(int64_t, int32_t, const T*, const T*, const T*, double,                  \
                                            const std::vector<double>&, const std::vector<double>&, T*);             \
    template void batchnorm_backward<T>(int64_t, int32_t, const T*, const T*, const T*, const BatchNormCache&, T*,   \
                                        T*, T*);                                                                     \
    template void rangebn_forward_train<T>(int64_t, int32_t, int32_t, const T*, const T*, const T*, double, double,  \
                                           T*, BatchNormCache&, std::vector<double>&, std::vector<double>&, int32_t); \
    template void rangebn_forward_eval<T>(int64_t, int32_t, const T*, const T*, const T*, const std::vector<double>&, \
                                          const std::vector<double>&, T*, int32_t);                                  \
    template void rangebn_backward<T>(int64_t, int32_t, int32_t, const T*, const T*, const T*, const BatchNormCache&, \
                                      T*, T*, T*);
BITBENCH_REF_NORM(float)
BITBENCH_REF_NORM(double)
#undef BITBENCH_REF_NORM

} // namespace bitbench::ref
