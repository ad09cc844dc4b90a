// Integer products of the graph executor: a conv or fc whose operands hold quantized values runs
// on their integer codes with exact sums, and one rescale gives the float result. Which of an
// op's three products (forward, input gradient, weight gradient) run this way is decided when the
// executor is built, from the quantizers alone; core/doc/executors.md, "Integer products".
#pragma once

#include "bitbench/quant.h"
#include "engine/reference/ref_ops.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bitbench {
struct Gemm16PackedB;
struct Gemm16Workspace;
}

namespace bitbench::graph_exec {

// The largest |code - zero| of q's codes for class cls when its values are `(code - zero) * scale`
// of their group (no offset, one scale per group); 0 when they are not (float, ttq's two scales,
// affine with Banner's float zero point) or when the codes do not fit int16.
int32_t code_bound(const Quantizer& q, QuantClass cls);

// The codes of one operand: value = code * scale[group], codes centred (code - zero) in
// [-bound, bound], stored as int8 when bound <= 127, else int16.
struct Codes {
    int32_t bound = 0;
    std::vector<int8_t> c8;
    std::vector<int16_t> c16;
    std::vector<double> scale; // per group
    bool narrow() const { return bound <= 127; }
};

// Codes of `rows` x `cols` values that hold quantized values, row r in group r / rowsPerGroup
// (one group when rowsPerGroup = 0): code = rne(v / (plan scale * extra)). Exact: a value is
// its code times the scale rounded once to float, and |code| < 2^22.
// requires: plan.groups holds every group; out.bound set. ensures: out.c8 or out.c16 filled.
void codes_from_values(const float* v, int64_t rows, int64_t cols, const QuantPlan& plan, int64_t rowsPerGroup,
                       double extra, Codes& out);

// How a conv or fc runs its products.
struct IntProducts {
    bool forward = false, inputGrad = false, weightGrad = false;
    std::string why[3];     // per product (forward, input gradient, weight gradient)
    int32_t xSource = -1;   // the quantize op whose plan scales the input (-1: not coded)
    int32_t eSource = -1;   // the op whose E plan scales the output gradient (-1: not coded)
    bool xPerSample = false, ePerSample = false, egPerSample = false, wPerChannel = false;
    int32_t boundX = 0, boundW = 0, boundE = 0, boundEG = 0; // EG: the E_grad copy's codes
    bool colsReady = false; // the input codes' columns of this step are in `col` (conv)
    // Work buffers.
    Codes x, w, wt, e, eg, col;
    std::vector<int32_t> acc32;
    std::vector<int64_t> acc64, dx64, x64, w64, e64;
    std::shared_ptr<Gemm16PackedB> packed16; // the int8 side of an int16 x int8 product
    std::shared_ptr<Gemm16Workspace> tn16;   // the weight gradient's int16 tn buffers
};

// The products of a conv (geom, n >= 1) or an fc (geom.kernel == 0: rows = n, K = fan-in).
// Each computes the exact integer sums, on the fast kernels or (reference) the reference loops,
// then rescales: forward y = float(sum * (sx * sw) + bias); dx = float(sum * (se * sw));
// dw = float(sum * (se * sx)), the scales' product in double.
struct IntOperands {
    const ref::ConvGeometry* geom = nullptr; // null for fc
    int32_t n = 0;
    int64_t K = 0;
    int32_t out = 0;
    bool reference = false;
};
void int_forward(const IntOperands& o, IntProducts& p, const float* bias, float* y);
void int_input_grad(const IntOperands& o, IntProducts& p, float* dx);
// e: the output gradient's codes the weight gradient reads (p.e, or p.eg for an E_grad copy).
void int_weight_grad(const IntOperands& o, IntProducts& p, Codes& e, float* dw);

} // namespace bitbench::graph_exec
