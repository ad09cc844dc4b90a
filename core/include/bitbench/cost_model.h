// Energy and area of a bitwidth configuration: MAC counts from the model shapes priced by a 45 nm table.
#pragma once

#include "bitbench/model.h"
#include "bitbench/quant_spec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bitbench {

struct Experiment;

// Energy (pJ) and area (um^2) of one operation, 45 nm (WAGE's table, ALGORITHMS.md §1.5).
struct CostTable {
    double int8MulPj = 0.2, int8AddPj = 0.03;
    double fp16MulPj = 1.1, fp16AddPj = 0.4;
    double fp32MulPj = 3.7, fp32AddPj = 0.9;
    double int8MulUm2 = 282, int8AddUm2 = 36;
    double fp16MulUm2 = 1640, fp16AddUm2 = 1360;
    double fp32MulUm2 = 7700, fp32AddUm2 = 4184;
    bool operator==(const CostTable&) const = default;
};

// The three products of a layer's training step.
enum class ProductKind : uint8_t { Forward = 0, Error = 1, Gradient = 2 };

// Price of one multiply-accumulate with a-bit and b-bit operands (0 = float) summed over k terms.
// Scaling (stated so the numbers can be checked by hand):
//   integer multiplier:  energy and area = int8 MUL * (a * b) / 64   (array multiplier ~ a*b cells)
//   integer adder:       width = min(32, a + b + ceil(log2 k)) (the exact accumulator width, int32
//                        at most as the engine uses); energy and area = int8 ADD * width / 8
//   a float operand:     the fp32 MUL and ADD figures (the float engine computes in float32).
struct MacCost {
    double energyPj = 0;
    double areaUm2 = 0;
    bool floatingPoint = false;
    int32_t adderBits = 0; // 0 for float
};
// requires: 0 <= a, b <= 16; k >= 1.
MacCost cost_mac(const CostTable& t, int32_t aBits, int32_t bBits, int64_t k);

// One layer's share. MAC counts are per image.
struct LayerCost {
    std::string name;
    int64_t macs[3] = {0, 0, 0};        // forward, error propagation, weight gradient
    int32_t operandBits[3][2] = {};     // the operand bits of each product (0 = float)
    double energyPj[3] = {0, 0, 0};     // per image, per product
    double updateEnergyPj = 0;          // per step: one G-bit add per weight
    double areaUm2[3] = {0, 0, 0};      // one MAC unit per product
    // Per product: how its MACs are priced ("multiply", "add/subtract", "float").
    std::string pricedAs[3];
    double requantEnergyPj = 0;         // per image: forward outputs rescaled by a multiply
    // Per step, per product: the zero-point corrections of affine operands (cost_estimate of an
    // experiment; zero for the layer form): the row/column sums and one multiply-add per output.
    double zeroPointEnergyPj[3] = {0, 0, 0};
};

// Per-configuration totals.
//   forward MACs per image   = output positions (before pooling) * out * fan-in
//   error MACs               = the same count, skipped for the first layer (nothing consumes the
//                              error of the input image)
//   weight-gradient MACs     = the same count
// Operands: forward = W x A(in), error = W x E, gradient = E x A(in), where A(in) is the previous
// layer's A (the first layer's input image is quantized with its own A) and E is the layer's E.
// Sum lengths k (for the adder width): forward = fan-in; error = out * kernel^2 (fc: out);
// gradient = output positions * batch (one weight's gradient sums over the whole batch).
// The weight update adds one G-bit number to each weight (G-bit adder, fp32 when G is float).
// Energy per training step = batch * sum of the three products' energies + update energy;
// energy per inference = one image's forward energy.
// Area = one MAC unit per product kind, sized for the costliest layer (a minimal datapath that
// can run every layer): inference = forward unit; training = forward + error + gradient units
// + the update adder.
struct CostEstimate {
    std::vector<LayerCost> layers;
    int32_t batch = 1;
    double trainStepEnergyPj = 0;
    double inferenceEnergyPj = 0;
    double trainAreaUm2 = 0;
    double inferenceAreaUm2 = 0;
    int64_t trainMacsPerStep = 0;
    int64_t inferenceMacs = 0;
};

// requires: model shapes inferred (model_infer_shapes); batch >= 1.
// throws: InputError when the model has no layers or the batch is not positive.
CostEstimate cost_estimate(const ModelDesc& model, const QuantSpec& bits, int32_t batch,
                           const CostTable& table = {});

// The estimate of any experiment (layer lists and op graphs), from its graph's conv and fc ops
// and its quantizers (quant.h), each product priced by its operands' families:
//   a float operand:             fp32 MUL + ADD per MAC;
//   a sign or ternary operand    no multiplier: an adder as wide as the other operand's bits +
//   (add/subtract, QuantCost):   1 + ceil(log2 k) (at most 32) per MAC;
//   otherwise (multiply):        cost_mac of the two operands' bits.
// Operands as in the layer form: forward W x A(in), error W x E, gradient E_grad x A(in), where
// A(in) is the A quantizer of the quantize op the product reads (through pooling, relu and
// flatten; float when it reads anything else, e.g. a batch norm or the raw input), E and E_grad
// the op's own. Families whose scale is not a power of two (affine, ternary, ttq, dorefa)
// requantize each forward output with one 32 x 16-bit multiply (int8 MUL * 8); wage and pow2 use
// shifts (free). The update: the WAGE solver adds one G-bit number per weight (fp32 add for a
// float G); sgd and adam work on float32 master weights: one fp32 MUL + ADD per weight, two
// with momentum or Adam's moments. Batch norm and the residual add are not priced.
// Zero points (affine operands with gemmlowp's integer zero point or Banner's min; symmetric
// affine has none): each product is Y[R][C] = sum over T terms of (x - zx)(z - zz)
//   = sum x z - zx colsum(z)[c] - zz rowsum(x)[r] + T zx zz,
// computed as the integer product of the codes (priced as above) plus, per step:
//   zx != 0: the C column sums of z, T adds each at width min(32, bits(z) + ceil(log2 T)), and
//            one multiply-add per output (R * C), int8 MUL * zbits * 32 / 64 + int8 ADD * 32 / 8
//            (a zbits x 32-bit multiply, a 32-bit add; zbits = the zero point's operand bits);
//   zz != 0: the R row sums of x likewise (width from bits(x)), and one multiply-add per output;
//   T zx zz: one constant per layer, not priced. Nothing when either operand is float.
// With B = batch, P = output positions, O = out, K = fan-in:
//   forward  x = A(in), z = W:      R = B P, C = O, T = K (sum w: O K adds once per step)
//   error    x = E,     z = W:      R = B P, C = K, T = O (sum over outputs of w: K O adds)
//   gradient x = E_grad, z = A(in): R = O,   C = K, T = B P
// banner8 (W and E_grad symmetric): forward O K adds + B P O multiply-adds (za sum w); error
// K O adds + B P K multiply-adds (ze sum w); gradient O B P adds (the E_grad sums) + O K
// multiply-adds (za sum e). An inference adds one image's forward multiply-adds (and A's row
// sums when W has a zero point), not the weights' sums. Corrections take no MAC-unit area.
// For a WAGE layer list this equals cost_estimate(model, bits, batch) exactly.
// throws: InputError when the graph has no conv or fc.
CostEstimate cost_estimate(const Experiment& e, const CostTable& table = {});

// "12.3 pJ", "4.56 uJ", "1.2 mJ"; "0.42 mm^2", "7700 um^2".
std::string cost_format_energy(double pj);
std::string cost_format_area(double um2);

} // namespace bitbench
