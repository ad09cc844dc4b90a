// Family `float`: the identity, for a class that is not quantized (`f` in a bits pattern).
// See core/doc/quant/float.md.
#include "quant/quant_impl.h"

namespace bitbench::quant {

void float_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs&, QuantPlan& plan) {
    plan_reset(plan, q, cls, x);
}

void float_apply(const Quantizer&, const TensorView& x, const QuantPlan&, const QuantDraws&,
                 float* out, QuantClamps*) {
    copy_floats(x.data, out, x.size());
}

void float_backward(const Quantizer&, const TensorView& x, const QuantPlan&, const float* dq, float* dx,
                    QuantParamGrads*) {
    copy_floats(dq, dx, x.size());
}

} // namespace bitbench::quant
