// The reference executor's float ops: plain loops that define what every op of the graph
// computes, forward and backward (core/doc/graph.md gives the formulas). Templates over the
// scalar type: float for training, double for the finite-difference tests. Every sum runs in a
// fixed serial order with a double accumulator, so results never depend on threads.
#pragma once

#include "bitbench/graph.h"

#include <cstdint>
#include <type_traits>
#include <vector>

namespace bitbench::ref {

// Geometry of a conv op: output size and the padding before the first row/column.
// SAME: out = ceil(in / stride), total padding max((out - 1) * stride + k - in, 0), the smaller
// half at the top/left (TensorFlow's rule). VALID: out = floor((in - k) / stride) + 1, no padding.
struct ConvGeometry {
    int32_t inH = 0, inW = 0, inC = 0;
    int32_t outH = 0, outW = 0, outC = 0;
    int32_t kernel = 1, stride = 1;
    int32_t padTop = 0, padLeft = 0;
};
ConvGeometry conv_geometry(const OpDesc& op);

// The accumulator of the products: double for float and double tensors; int64 for int64 codes
// (the integer executor's definition: exact integer sums, core/doc/executors.md).
template <typename T> using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

// Conv: x [n][inH][inW][inC], w [outC][ky][kx][inC] (the fan-in order (ky, kx, c)), optional
// bias [outC], y [n][outH][outW][outC].
template <typename T>
void conv_forward(const ConvGeometry& g, int32_t n, const T* x, const T* w, const T* bias, T* y);
// dx (may be null) = dL/dx; dw = dL/dw and dbias (may be null) = dL/dbias, both overwritten.
template <typename T>
void conv_backward(const ConvGeometry& g, int32_t n, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias);

// Fc: x [n][K] (K = the input's h*w*c in memory order), w [out][K], y [n][out].
template <typename T>
void fc_forward(int32_t n, int64_t K, int32_t out, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void fc_backward(int32_t n, int64_t K, int32_t out, const T* x, const T* w, const T* dy, T* dx, T* dw, T* dbias);

// Max-pool 2x2 stride 2 over [n][h][w][c] (odd last row/column dropped). argmax keeps the
// window position 0..3 (row-major) of the first maximum.
template <typename T>
void maxpool_forward(const TensorShape& in, int32_t n, const T* x, T* y, uint8_t* argmax);
template <typename T>
void maxpool_backward(const TensorShape& in, int32_t n, const T* dy, const uint8_t* argmax, T* dx);

// Global average pool: y[n][c] = mean over h, w of x.
template <typename T> void avgpool_forward(const TensorShape& in, int32_t n, const T* x, T* y);
template <typename T> void avgpool_backward(const TensorShape& in, int32_t n, const T* dy, T* dx);

// Relu: y = max(x, 0); backward passes dy where x > 0.
template <typename T> void relu_forward(int64_t count, const T* x, T* y);
template <typename T> void relu_backward(int64_t count, const T* x, const T* dy, T* dx);

// Add: y = a + b; backward gives dy to both.
template <typename T> void add_forward(int64_t count, const T* a, const T* b, T* y);

// Batch norm over [rows][c] (rows = n*h*w). What the backward pass needs from the forward.
struct BatchNormCache {
    std::vector<double> mean, invStd; // standard BN: per channel; range BN: invStd is the scale
    std::vector<double> rawScale;     // range BN with quantized parameters: the scale before it
    std::vector<int64_t> maxIndex, minIndex; // range BN: per chunk and channel ([chunk][c]), the
                                             // row of the chunk's first max / min
    double fix = 0;                           // range BN's constant for this batch size
};

// Standard BN in training: batch mean and biased variance; y = (x - mean) / sqrt(var + eps) *
// gamma + beta. Updates the running mean and the running (unbiased) variance with `momentum`.
template <typename T>
void batchnorm_forward_train(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* y, BatchNormCache& cache, std::vector<double>& runMean,
                             std::vector<double>& runVar);
// Evaluation: running statistics.
template <typename T>
void batchnorm_forward_eval(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta, double eps,
                            const std::vector<double>& runMean, const std::vector<double>& runVar, T* y);
template <typename T>
void batchnorm_backward(int64_t rows, int32_t c, const T* x, const T* gamma, const T* dy, const BatchNormCache& cache,
                        T* dx, T* dgamma, T* dbeta);

// Range BN (ALGORITHMS.md §2): per channel the rows split into `chunks` chunks (chunk j holds
// rows [j*rows/chunks, (j+1)*rows/chunks)); range = mean of the chunks' max - mean of their min;
// fix = 0.5 * 0.35 * (1 + sqrt(pi ln 4)) / sqrt(2 ln(rows / chunks)); scale = 1 / (range * fix + eps);
// y = (x - mean) * scale * gamma + beta. Running mean and scale: (1 - momentum) old + momentum new.
// requires: rows >= 2 * chunks (so every chunk holds at least two values and ln(rows/chunks) > 0).
// scaleBits > 0: the scale (the batch's in training, the running one in evaluation) is quantized
// per tensor (affine min/max, nearest, float32 as the quantizer family) before it is used; the
// running scale is updated with the unquantized one and the backward's d scale / d range uses it
// (straight-through), as Banner et al.'s code. gamma and beta come quantized from the caller.
template <typename T>
void rangebn_forward_train(int64_t rows, int32_t c, int32_t chunks, const T* x, const T* gamma, const T* beta,
                           double eps, double momentum, T* y, BatchNormCache& cache, std::vector<double>& runMean,
                           std::vector<double>& runScale, int32_t scaleBits = 0);
template <typename T>
void rangebn_forward_eval(int64_t rows, int32_t c, const T* x, const T* gamma, const T* beta,
                          const std::vector<double>& runMean, const std::vector<double>& runScale, T* y,
                          int32_t scaleBits = 0);
// Range BN's scales from each channel's range: scale = 1 / (range fix + eps) into cache.invStd
// (quantized per tensor when scaleBits, the unquantized ones then in cache.rawScale), and the
// running mean and scale updated. requires: cache.mean and cache.fix set for this batch.
void rangebn_scales(const std::vector<double>& range, double eps, double momentum, BatchNormCache& cache,
                    std::vector<double>& runMean, std::vector<double>& runScale, int32_t scaleBits);
// Quantizes v in place per tensor: affine min/max, `bits`, nearest (the quantizer family's rule).
void quantize_min_max(std::vector<double>& v, int32_t bits);
// Range BN's constant fix for `rows` values per channel in `chunks` chunks.
double rangebn_fix(int64_t rows, int32_t chunks);
// Range BN in fixed point (a rangebn op with fixed_point): x holds integer codes times sx
// (x = q sx exactly, one scale for the tensor). Training: per channel the code sum S and each
// chunk's max and min code (integers; the first max / min as rangebn_forward_train) give mean =
// sx S / rows and range = sx (sum of chunk max - sum of chunk min) / chunks; scale and its
// quantization, the running statistics and the cache are rangebn_forward_train's. The output is
// y = round((rows q - S) * M) + round(beta 2^16) on the grid 2^-16, M = sx scale gamma / rows held
// as a fixed-point multiplier (fx_multiplier: 31-bit mantissa and shift), rounding half to even,
// saturated to int32 (|y| < 2^15), then y 2^-16 as float. Evaluation: y = round(q M) +
// round((beta - runMean scale gamma) 2^16) with M = sx scale gamma (running scale, quantized when
// scaleBits). gamma and beta come quantized from the caller. The backward is rangebn_backward's.
void rangebn_forward_fixed_train(int64_t rows, int32_t c, int32_t chunks, const float* x, double sx,
                                 const float* gamma, const float* beta, double eps, double momentum, float* y,
                                 BatchNormCache& cache, std::vector<double>& runMean, std::vector<double>& runScale,
                                 int32_t scaleBits);
void rangebn_forward_fixed_eval(int64_t rows, int32_t c, const float* x, double sx, const float* gamma,
                                const float* beta, const std::vector<double>& runMean,
                                const std::vector<double>& runScale, float* y, int32_t scaleBits);
// Gradients through the mean and through each chunk's max and min element.
template <typename T>
void rangebn_backward(int64_t rows, int32_t c, int32_t chunks, const T* x, const T* gamma, const T* dy,
                      const BatchNormCache& cache, T* dx, T* dgamma, T* dbeta);

} // namespace bitbench::ref
