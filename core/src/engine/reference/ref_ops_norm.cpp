// Reference batch norm (standard and range): per-channel statistics in double, two passes.
#include "engine/reference/ref_ops.h"

#include <cmath>
#include <numbers>

namespace bitbench::ref {

namespace {

template <typename T> double channelMean(int64_t rows, int32_t c, const T* x, int32_t ch) {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += double(x[r * c + ch]);
    return s / double(rows);
}

} // namespace

template <typename T>
void batchnorm_forward_train(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* y, BatchNormCache& cache, std::vector<double>& runMean,
                             std::vector<double>& runVar) {
    cache.mean.assign(size_t(c), 0);
    cache.invStd.assign(size_t(c), 0);
    for (int32_t ch = 0; ch < c; ++ch) {
        const double mean = channelMean(rows, c, x, ch);
        double ss = 0;
        for (int64_t r = 0; r < rows; ++r) {
            const double d = double(x[r * c + ch]) - mean;
            ss += d * d;
        }
        const double var = ss / double(rows);
        const double inv = 1.0 / std::sqrt(var + eps);
        cache.mean[size_t(ch)] = mean;
        cache.invStd[size_t(ch)] = inv;
        const double g = double(gamma[ch]), b = double(beta[ch]);
        for (int64_t r = 0; r < rows; ++r) y[r * c + ch] = T((double(x[r * c + ch]) - mean) * inv * g + b);
        const double unbiased = rows > 1 ? ss / double(rows - 1) : var;
        runMean[size_t(ch)] = (1 - momentum) * runMean[size_t(ch)] + momentum * mean;
        runVar[size_t(ch)] = (1 - momentum) * runVar[size_t(ch)] + momentum * unbiased;
    }
}

template <typename T>
void batchnorm_forward_eval(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, double eps,
                            const std::vector<double>& runMean, const std::vector<double>& runVar, T* y) {
    for (int32_t ch = 0; ch < c; ++ch) {
        const double inv = 1.0 / std::sqrt(runVar[size_t(ch)] + eps), m = runMean[size_t(ch)];
        const double g = double(gamma[ch]), b = double(beta[ch]);
        for (int64_t r = 0; r < rows; ++r) y[r * c + ch] = T((double(x[r * c + ch]) - m) * inv * g + b);
    }
}

template <typename T>
void batchnorm_backward(int64_t rows, int32_t c, const T* x, const T* gamma, const T* dy, const BatchNormCache& cache,
                        T* dx, T* dgamma, T* dbeta) {
    for (int32_t ch = 0; ch < c; ++ch) {
        const double mean = cache.mean[size_t(ch)], inv = cache.invStd[size_t(ch)];
        double sdy = 0, sdyx = 0;
        for (int64_t r = 0; r < rows; ++r) {
            const double d = double(dy[r * c + ch]);
            sdy += d;
            sdyx += d * (double(x[r * c + ch]) - mean) * inv;
        }
        dbeta[ch] = T(sdy);
        dgamma[ch] = T(sdyx);
        if (!dx) continue;
        // dx = gamma inv / M (M dy - sum dy - xhat sum dy xhat)
        const double k = double(gamma[ch]) * inv / double(rows);
        for (int64_t r = 0; r < rows; ++r) {
            const double xhat = (double(x[r * c + ch]) - mean) * inv;
            dx[r * c + ch] = T(k * (double(rows) * double(dy[r * c + ch]) - sdy - xhat * sdyx));
        }
    }
}

template <typename T>
void rangebn_forward_train(int64_t rows, int32_t c, int32_t chunks, const T* x, const T* gamma, const T* beta,
                           double eps, double momentum, T* y, BatchNormCache& cache, std::vector<double>& runMean,
                           std::vector<double>& runScale) {
    cache.mean.assign(size_t(c), 0);
    cache.invStd.assign(size_t(c), 0);
    cache.maxIndex.assign(size_t(c) * size_t(chunks), 0);
    cache.minIndex.assign(size_t(c) * size_t(chunks), 0);
    const double n = double(rows) / double(chunks);
    cache.fix = 0.5 * 0.35 * (1 + std::sqrt(std::numbers::pi * std::log(4.0))) / std::sqrt(2 * std::log(n));
    for (int32_t ch = 0; ch < c; ++ch) {
        const double mean = channelMean(rows, c, x, ch);
        double sumMax = 0, sumMin = 0;
        for (int32_t j = 0; j < chunks; ++j) {
            const int64_t lo = j * rows / chunks, hi = (j + 1) * rows / chunks;
            int64_t iMax = lo, iMin = lo;
            for (int64_t r = lo + 1; r < hi; ++r) {
                if (x[r * c + ch] > x[iMax * c + ch]) iMax = r;
                if (x[r * c + ch] < x[iMin * c + ch]) iMin = r;
            }
            cache.maxIndex[size_t(ch) * size_t(chunks) + size_t(j)] = iMax;
            cache.minIndex[size_t(ch) * size_t(chunks) + size_t(j)] = iMin;
            sumMax += double(x[iMax * c + ch]);
            sumMin += double(x[iMin * c + ch]);
        }
        const double range = (sumMax - sumMin) / double(chunks);
        const double scale = 1.0 / (range * cache.fix + eps);
        cache.mean[size_t(ch)] = mean;
        cache.invStd[size_t(ch)] = scale;
        const double g = double(gamma[ch]), b = double(beta[ch]);
        for (int64_t r = 0; r < rows; ++r) y[r * c + ch] = T((double(x[r * c + ch]) - mean) * scale * g + b);
        runMean[size_t(ch)] = (1 - momentum) * runMean[size_t(ch)] + momentum * mean;
        runScale[size_t(ch)] = (1 - momentum) * runScale[size_t(ch)] + momentum * scale;
    }
}

template <typename T>
void rangebn_forward_eval(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta,
                          const std::vector<double>& runMean, const std::vector<double>& runScale, T* y) {
    for (int32_t ch = 0; ch < c; ++ch) {
        const double m = runMean[size_t(ch)], s = runScale[size_t(ch)], g = double(gamma[ch]), b = double(beta[ch]);
        for (int64_t r = 0; r < rows; ++r) y[r * c + ch] = T((double(x[r * c + ch]) - m) * s * g + b);
    }
}

template <typename T>
void rangebn_backward(int64_t rows, int32_t c, int32_t chunks, const T* x, const T* gamma, const T* dy,
                      const BatchNormCache& cache, T* dx, T* dgamma, T* dbeta) {
    for (int32_t ch = 0; ch < c; ++ch) {
        const double mean = cache.mean[size_t(ch)], s = cache.invStd[size_t(ch)], g = double(gamma[ch]);
        double sdy = 0, sdyc = 0; // sum dy, sum dy (x - mean)
        for (int64_t r = 0; r < rows; ++r) {
            const double d = double(dy[r * c + ch]);
            sdy += d;
            sdyc += d * (double(x[r * c + ch]) - mean);
        }
        dbeta[ch] = T(sdy);
        dgamma[ch] = T(sdyc * s);
        if (!dx) continue;
        // y = (x - mean) s g + b, s = 1 / (range fix + eps), range = mean_j max_j - mean_j min_j.
        const double dScale = sdyc * g;                  // dL/ds
        const double dRange = dScale * -s * s * cache.fix; // dL/drange
        const double direct = g * s, viaMean = -g * s * sdy / double(rows);
        for (int64_t r = 0; r < rows; ++r) dx[r * c + ch] = T(direct * double(dy[r * c + ch]) + viaMean);
        const double perChunk = dRange / double(chunks);
        for (int32_t j = 0; j < chunks; ++j) {
            const int64_t iMax = cache.maxIndex[size_t(ch) * size_t(chunks) + size_t(j)];
            const int64_t iMin = cache.minIndex[size_t(ch) * size_t(chunks) + size_t(j)];
            dx[iMax * c + ch] = T(double(dx[iMax * c + ch]) + perChunk);
            dx[iMin * c + ch] = T(double(dx[iMin * c + ch]) - perChunk);
        }
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
                                           T*, BatchNormCache&, std::vector<double>&, std::vector<double>&);         \
    template void rangebn_forward_eval<T>(int64_t, int32_t, const T*, const T*, const T*, const std::vector<double>&, \
                                          const std::vector<double>&, T*);                                           \
    template void rangebn_backward<T>(int64_t, int32_t, int32_t, const T*, const T*, const T*, const BatchNormCache&, \
                                      T*, T*, T*);
BITBENCH_REF_NORM(float)
BITBENCH_REF_NORM(double)
#undef BITBENCH_REF_NORM

} // namespace bitbench::ref
