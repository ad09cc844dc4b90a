// Cost model of any experiment: the op graph's conv and fc products priced by their operands'
// quantizer families (cost_model.h).
#include "bitbench/cost_model.h"

#include "analysis/cost_model_impl.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/quant.h"
#include "graph/graph_walk.h"

#include <algorithm>

namespace bitbench {

namespace {

using cost_detail::ceilLog2;

int32_t bitsOf(const Quantizer& q) { return q.family == QuantFamily::Float ? 0 : q.bits; }

// A sign or ternary operand: the product is an addition or subtraction of the other operand.
MacCost costProduct(const CostTable& t, const Quantizer& a, const Quantizer& b, int64_t k, std::string& pricedAs) {
    const bool fa = a.family == QuantFamily::Float, fb = b.family == QuantFamily::Float;
    const bool sa = quant_family(a.family).cost == QuantCost::AddSubtract;
    const bool sb = quant_family(b.family).cost == QuantCost::AddSubtract;
    if (fa || fb || !(sa || sb)) {
        pricedAs = fa || fb ? "float" : "multiply";
        return cost_mac(t, bitsOf(a), bitsOf(b), k);
    }
    pricedAs = "add/subtract";
    const int32_t other = sa && sb ? 1 : sa ? b.bits : a.bits;
    MacCost c;
    c.adderBits = std::min(32, other + 1 + ceilLog2(k));
    c.energyPj = t.int8AddPj * c.adderBits / 8.0;
    c.areaUm2 = t.int8AddUm2 * c.adderBits / 8.0;
    return c;
}

// The bits of an operand's zero point: affine with Banner's min or gemmlowp's integer zero point
// (priced alike); 0 when it has none (symmetric affine and the other families).
int32_t zeroPointBits(const Quantizer& q) {
    return q.family == QuantFamily::Affine && q.zeroPoint != ZeroPoint::Symmetric ? q.bits : 0;
}

// The zero-point corrections of Y[R][C] = sum over T terms of (x - zx)(z - zz) (cost_model.h):
// zx needs the column sums of z (C sums of T terms; free when zSumsFree: weights of a finished
// net), zz the row sums of x (R sums), each zero point one multiply-add per output.
double zeroPointEnergy(const CostTable& t, const Quantizer& x, const Quantizer& z, int64_t R,
                       int64_t C, int64_t T, bool zSumsFree = false) {
    if (bitsOf(x) == 0 || bitsOf(z) == 0) return 0; // a float product
    auto sums = [&](int64_t n, int32_t bits) {
        return double(n * T) * t.int8AddPj * std::min(32, bits + ceilLog2(T)) / 8.0;
    };
    auto corrections = [&](int32_t zBits) {
        return double(R * C) * (t.int8MulPj * zBits * 32 / 64.0 + t.int8AddPj * 4);
    };
    double e = 0;
    if (const int32_t zx = zeroPointBits(x))
        e += (zSumsFree ? 0.0 : sums(C, bitsOf(z))) + corrections(zx);
    if (const int32_t zz = zeroPointBits(z)) e += sums(R, bitsOf(x)) + corrections(zz);
    return e;
}

bool powerOfTwoScale(const Quantizer& q) {
    return q.family == QuantFamily::Float || q.family == QuantFamily::Wage || q.family == QuantFamily::Pow2 ||
           q.family == QuantFamily::Sign;
}

} // namespace

CostEstimate cost_estimate(const Experiment& e, const CostTable& table) {
    const Graph& g = e.graph;
    const QuantConfig q = e.quantConfig();
    const int32_t batch = e.batch;
    // The A quantizer of each quantize op, looked up as the executor does: its own layer_quant
    // entry, else its block owner's (the product it follows), else the base.
    std::vector<Quantizer> quantA(g.ops.size());
    for (size_t i = 0; i < g.ops.size(); ++i)
        if (g.ops[i].quantizesForward()) quantA[i] = q.forOp(graph_quantize_key(g, q, int32_t(i)), QuantClass::A);
    CostEstimate est;
    est.batch = batch;
    double unitArea[3] = {0, 0, 0};
    double updateArea = 0, perImage = 0, update = 0, zeroPoints = 0;
    bool first = true;
    for (const OpDesc& op : g.ops) {
        if (!op.hasWeights()) continue;
        const Quantizer qW = q.forOp(op.name, QuantClass::W), qE = q.forOp(op.name, QuantClass::E);
        const Quantizer qEG = q.forOp(op.name, QuantClass::EGrad), qG = q.forOp(op.name, QuantClass::G);
        // A(in): the quantize op the product reads through max-pool, relu and flatten; else float.
        const int32_t src = graph_code_source(g, op.in[0]);
        const Quantizer qA = src >= 0 && g.ops[size_t(src)].kind == OpKind::Quantize ? quantA[size_t(src)] : Quantizer{};
        const bool conv = op.kind == OpKind::Conv;
        const int64_t positions = conv ? int64_t(op.outShape.h) * op.outShape.w : 1;
        const int64_t macs = positions * op.out * op.fanIn();
        LayerCost lc;
        lc.name = op.name;
        lc.macs[0] = macs;
        lc.macs[1] = first ? 0 : macs; // nothing consumes the error of the input image
        lc.macs[2] = macs;
        const Quantizer* ops[3][2] = {{&qW, &qA}, {&qW, &qE}, {&qEG, &qA}};
        const int64_t sumLen[3] = {op.fanIn(), int64_t(op.out) * (conv ? op.kernel * op.kernel : 1), positions * batch};
        for (int p = 0; p < 3; ++p) {
            lc.operandBits[p][0] = bitsOf(*ops[p][0]);
            lc.operandBits[p][1] = bitsOf(*ops[p][1]);
            if (lc.macs[p] == 0) continue;
            const MacCost c = costProduct(table, *ops[p][0], *ops[p][1], sumLen[p], lc.pricedAs[p]);
            lc.energyPj[p] = double(lc.macs[p]) * c.energyPj;
            lc.areaUm2[p] = c.areaUm2;
            unitArea[p] = std::max(unitArea[p], c.areaUm2);
            perImage += lc.energyPj[p];
            est.trainMacsPerStep += lc.macs[p] * batch;
        }
        // Zero points, per step: forward x = A(in) rows (batch x positions) against W (out columns,
        // fan-in terms); error x = E rows against W (fan-in columns, out terms); gradient x =
        // E_grad (out rows) against A(in) (fan-in columns, batch x positions terms).
        const int64_t rows = int64_t(batch) * positions, K = op.fanIn();
        lc.zeroPointEnergyPj[0] = zeroPointEnergy(table, qA, qW, rows, op.out, K);
        lc.zeroPointEnergyPj[1] =
            lc.macs[1] ? zeroPointEnergy(table, qE, qW, rows, K, op.out) : 0.0;
        lc.zeroPointEnergyPj[2] = zeroPointEnergy(table, qEG, qA, op.out, K, rows);
        zeroPoints += lc.zeroPointEnergyPj[0] + lc.zeroPointEnergyPj[1] + lc.zeroPointEnergyPj[2];
        // An inference: one image's forward corrections; the weights' sums are made once.
        const double inferenceZeroPoints =
            zeroPointEnergy(table, qA, qW, positions, op.out, K, true);
        if (!powerOfTwoScale(qW) || !powerOfTwoScale(qA)) {
            lc.requantEnergyPj = double(positions * op.out) * table.int8MulPj * 8.0;
            perImage += lc.requantEnergyPj;
        }
        MacCost add;
        if (e.optimizer.kind == SolverKind::Wage) {
            const int32_t gb = bitsOf(qG);
            add.energyPj = gb ? table.int8AddPj * gb / 8.0 : table.fp32AddPj;
            add.areaUm2 = gb ? table.int8AddUm2 * gb / 8.0 : table.fp32AddUm2;
        } else {
            const bool twice = e.optimizer.kind == SolverKind::Adam || e.optimizer.momentum > 0;
            add.energyPj = (table.fp32MulPj + table.fp32AddPj) * (twice ? 2 : 1);
            add.areaUm2 = table.fp32MulUm2 + table.fp32AddUm2;
        }
        lc.updateEnergyPj = double(op.weightCount()) * add.energyPj;
        updateArea = std::max(updateArea, add.areaUm2);
        update += lc.updateEnergyPj;
        est.inferenceEnergyPj += lc.energyPj[0] + lc.requantEnergyPj + inferenceZeroPoints;
        est.inferenceMacs += lc.macs[0];
        est.layers.push_back(lc);
        first = false;
    }
    if (est.layers.empty()) throw InputError("cost model: model '" + g.name + "' has no conv or fc op");
    est.trainStepEnergyPj = double(batch) * perImage + update + zeroPoints;
    est.inferenceAreaUm2 = unitArea[0];
    est.trainAreaUm2 = unitArea[0] + unitArea[1] + unitArea[2] + updateArea;
    return est;
}

} // namespace bitbench
