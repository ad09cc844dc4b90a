// The float executor's conv and fc: im2col and exact-chain float32 products (kernels/sgemm.h),
// so results depend neither on the thread count nor on the instruction set. They compute what
// the reference ops (engine/reference/ref_ops.h) define, with float sums in another order: equal
// to the reference exactly when every product and sum is representable (WAGE's dyadic codes
// with sums below 2^24), within float rounding otherwise (tests/test_graph_engine.cpp checks
// both). The float engine (engine_float.cpp) keeps its Eigen products, whose order differs.
#pragma once

#include "engine/reference/ref_ops.h"

#include <cstdint>

namespace bitbench::graph_exec {

// col[(b * outH + oy) * outW + ox][(ky * kernel + kx) * inC + c] = x at that tap (0 in padding).
// Instantiated for float and for int8 and int16 codes.
template <typename T> void im2col(const ref::ConvGeometry& g, int32_t n, const T* x, T* col);
// dx = the sum of every column entry into the input position it was copied from.
// Instantiated for float -> float and for integer sums int32 -> int64 and int64 -> int64.
template <typename S, typename D> void col2im(const ref::ConvGeometry& g, int32_t n, const S* col, D* dx);

// y = im2col(x) * w^T (+ bias); leaves the columns in `col` for the backward pass.
void conv_forward_fast(const ref::ConvGeometry& g, int32_t n, const float* x, const float* w, const float* bias,
                       float* col, float* y);
// From the forward pass's columns: dw, dbias (may be null) and dx (may be null; uses dcol).
void conv_backward_fast(const ref::ConvGeometry& g, int32_t n, const float* col, const float* w, const float* dy,
                        float* dcol, float* dx, float* dw, float* dbias);

// The reference max-pool and relu (ref_ops.h), split over threads by samples or element ranges:
// every output is computed as the reference computes it, so the bits are the same.
void maxpool_forward_fast(const TensorShape& in, int32_t n, const float* x, float* y, uint8_t* argmax);
void maxpool_backward_fast(const TensorShape& in, int32_t n, const float* dy, const uint8_t* argmax, float* dx);
void relu_forward_fast(int64_t count, const float* x, float* y);
void relu_backward_fast(int64_t count, const float* x, const float* dy, float* dx);

// dbias[o] = sum over rows of dy[r][o] in row order with a double accumulator (the reference's sum).
void bias_gradient(int64_t rows, int32_t out, const float* dy, float* dbias);

void fc_forward_fast(int32_t n, int64_t K, int32_t out, const float* x, const float* w, const float* bias, float* y);
void fc_backward_fast(int32_t n, int64_t K, int32_t out, const float* x, const float* w, const float* dy, float* dx,
                      float* dw, float* dbias);

} // namespace bitbench::graph_exec
