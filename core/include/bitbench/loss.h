// Losses shared by every executor: SSE (WAGE), softmax cross-entropy, squared hinge (BC, BNN).
// See core/doc/loss.md.
#pragma once

#include <cstdint>
#include <string>

namespace bitbench {

enum class LossKind { Sse, SoftmaxCrossEntropy, SquaredHinge };

// The loss names in JSON: "sse", "softmax_ce", "squared_hinge".
const char* loss_kind_name(LossKind k);
// throws: InputError "<where>: expected \"sse\", \"softmax_ce\" or \"squared_hinge\", got \"x\"".
LossKind loss_kind_parse(const std::string& name, const std::string& where);

// The loss of a batch and its gradient with respect to the logits.
//   logits:  n x classes, row-major (sample s, class c at s * classes + c)
//   labels:  n class indices
//   returns: the loss summed over the batch (and over classes), in double
//   dlogits: n x classes, gradScale * d(summed loss)/d(logits) as float; nullptr = no gradient
// Per sample, with z the logits and y the label:
//   Sse:                 0.5 sum_c (z_c - [c == y])^2;          d/dz_c = z_c - [c == y]
//   SoftmaxCrossEntropy: log sum_c exp(z_c) - z_y (stable);      d/dz_c = softmax(z)_c - [c == y]
//   SquaredHinge:        sum_c max(0, 1 - t_c z_c)^2, t_c = +1 for c == y, -1 otherwise;
//                        d/dz_c = -2 t_c max(0, 1 - t_c z_c)
// The sums are summed losses: a recipe that averages passes gradScale = 1/n (PyTorch's
// CrossEntropyLoss) or 1/(n * classes) (BinaryConnect's T.mean over batch and classes) and
// divides the returned loss itself. With gradScale = 1 the SSE and cross-entropy gradients are
// bit-identical to the float engine's errors.
// requires: n >= 0, classes >= 1, logits finite.
// throws: DataError naming the sample when a label is not below `classes`.
double loss_forward_backward(LossKind kind, const float* logits, const uint8_t* labels, int32_t n,
                             int32_t classes, double gradScale, float* dlogits);

} // namespace bitbench
