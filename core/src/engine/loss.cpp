// Losses shared by the executors: values summed over the batch in double, gradients as float.
#include "bitbench/loss.h"

#include "bitbench/error.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace bitbench {

const char* loss_kind_name(LossKind k) {
    switch (k) {
    case LossKind::Sse: return "sse";
    case LossKind::SoftmaxCrossEntropy: return "softmax_ce";
    case LossKind::SquaredHinge: return "squared_hinge";
    }
    return "?";
}

LossKind loss_kind_parse(const std::string& name, const std::string& where) {
    for (LossKind k : {LossKind::Sse, LossKind::SoftmaxCrossEntropy, LossKind::SquaredHinge})
        if (name == loss_kind_name(k)) return k;
    throw InputError(where + ": expected \"sse\", \"softmax_ce\" or \"squared_hinge\", got \"" + name + "\"");
}

double loss_forward_backward(LossKind kind, const float* logits, const uint8_t* labels, int32_t n, int32_t classes,
                             double gradScale, float* dlogits) {
    double loss = 0;
    for (int32_t s = 0; s < n; ++s) {
        const int32_t y = labels[s];
        if (y >= classes)
            throw DataError("loss: sample " + std::to_string(s) + " has label " + std::to_string(y) + ", not below the " +
                            std::to_string(classes) + " classes");
        const float* z = logits + int64_t(s) * classes;
        float* dz = dlogits ? dlogits + int64_t(s) * classes : nullptr;
        switch (kind) {
        case LossKind::Sse:
            // The float engine's error: e = z - onehot in float; the loss accumulates 0.5 e^2 in double.
            for (int32_t c = 0; c < classes; ++c) {
                const float e = z[c] - (c == y ? 1.0f : 0.0f);
                loss += 0.5 * double(e) * e;
                if (dz) dz[c] = float(gradScale * double(e));
            }
            break;
        case LossKind::SoftmaxCrossEntropy: {
            // Shifted by the largest logit (in float, as the float engine), so exp never overflows:
            // loss = log sum exp(z - mx) - (z_y - mx), gradient softmax - onehot rounded once to float.
            const float mx = *std::max_element(z, z + classes);
            double sum = 0;
            for (int32_t c = 0; c < classes; ++c) sum += std::exp(double(z[c] - mx));
            loss += -(double(z[y] - mx) - std::log(sum));
            if (dz)
                for (int32_t c = 0; c < classes; ++c) {
                    const double p = std::exp(double(z[c] - mx)) / sum;
                    dz[c] = float(gradScale * (p - (c == y ? 1.0 : 0.0)));
                }
            break;
        }
        case LossKind::SquaredHinge:
            // BinaryConnect / BinaryNet: targets +-1, cost T.mean(T.sqr(T.maximum(0, 1 - t * y)))
            // over batch and classes; summed here, so their recipe passes gradScale = 1/(n * classes).
            // At the kink (t z = 1) the derivative 2 max(0, 1 - t z) is 0 from both sides.
            for (int32_t c = 0; c < classes; ++c) {
                const double t = c == y ? 1.0 : -1.0;
                const double m = std::max(0.0, 1.0 - t * double(z[c]));
                loss += m * m;
                if (dz) dz[c] = float(gradScale * (-2.0 * t * m));
            }
            break;
        }
    }
    return loss;
}

} // namespace bitbench
