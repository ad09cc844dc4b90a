// Cost model: MAC counts per layer and product, priced with the scaled 45 nm operation table.
#include "bitbench/cost_model.h"

#include "analysis/cost_model_impl.h"
#include "bitbench/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bitbench {

namespace {

using cost_detail::ceilLog2;

// The update adds one G-bit number to each latent weight.
MacCost costAdd(const CostTable& t, int32_t bits) {
    MacCost c;
    if (bits == 0) {
        c.floatingPoint = true;
        c.energyPj = t.fp32AddPj;
        c.areaUm2 = t.fp32AddUm2;
        return c;
    }
    c.adderBits = bits;
    c.energyPj = t.int8AddPj * bits / 8.0;
    c.areaUm2 = t.int8AddUm2 * bits / 8.0;
    return c;
}

std::string withUnit(double v, const char* const* units, int count, double step) {
    int i = 0;
    while (i + 1 < count && std::abs(v) >= step) {
        v /= step;
        ++i;
    }
    char b[48];
    const char* fmt = std::abs(v) >= 100 ? "%.0f %s" : std::abs(v) >= 10 ? "%.1f %s" : "%.2f %s";
    std::snprintf(b, sizeof b, fmt, v, units[i]);
    return b;
}

} // namespace

MacCost cost_mac(const CostTable& t, int32_t aBits, int32_t bBits, int64_t k) {
    if (aBits < 0 || aBits > kMaxBits || bBits < 0 || bBits > kMaxBits || k < 1)
        throw InputError("cost model: operand bits must be 0 (float) or 1.." + std::to_string(kMaxBits) +
                         " and the sum length at least 1");
    MacCost c;
    if (aBits == 0 || bBits == 0) {
        c.floatingPoint = true;
        c.energyPj = t.fp32MulPj + t.fp32AddPj;
        c.areaUm2 = t.fp32MulUm2 + t.fp32AddUm2;
        return c;
    }
    const double mulScale = double(aBits) * double(bBits) / 64.0;
    c.adderBits = std::min(32, aBits + bBits + ceilLog2(k));
    const double addScale = c.adderBits / 8.0;
    c.energyPj = t.int8MulPj * mulScale + t.int8AddPj * addScale;
    c.areaUm2 = t.int8MulUm2 * mulScale + t.int8AddUm2 * addScale;
    return c;
}

CostEstimate cost_estimate(const ModelDesc& model, const QuantSpec& bits, int32_t batch, const CostTable& table) {
    if (model.layers.empty()) throw InputError("cost model: model '" + model.name + "' has no layers");
    if (batch < 1) throw InputError("cost model: batch must be at least 1, got " + std::to_string(batch));
    CostEstimate est;
    est.batch = batch;
    double unitArea[3] = {0, 0, 0};
    double updateArea = 0;
    double perImage = 0, update = 0;
    int32_t prevA = bits.forLayer(model.layers.front().name).a();
    for (size_t i = 0; i < model.layers.size(); ++i) {
        const LayerDesc& l = model.layers[i];
        const ClassBits b = bits.forLayer(l.name);
        const int32_t inA = i == 0 ? b.a() : prevA;
        const int64_t positions = l.type == LayerType::Conv ? int64_t(l.convH) * l.convW : 1;
        const int64_t macs = positions * l.out * l.fanIn();
        LayerCost lc;
        lc.name = l.name;
        lc.macs[0] = macs;
        lc.macs[1] = i == 0 ? 0 : macs;
        lc.macs[2] = macs;
        const int32_t ops[3][2] = {{b.w(), inA}, {b.w(), b.e()}, {b.e(), inA}};
        // Sum lengths: forward over the fan-in; error over out channels x kernel taps; gradient
        // over the output positions of one image (the batch adds more terms per step).
        const int64_t sumLen[3] = {l.fanIn(), int64_t(l.out) * (l.type == LayerType::Conv ? l.kernel * l.kernel : 1),
                                   positions * batch};
        for (int p = 0; p < 3; ++p) {
            lc.operandBits[p][0] = ops[p][0];
            lc.operandBits[p][1] = ops[p][1];
            if (lc.macs[p] == 0) continue;
            const MacCost c = cost_mac(table, ops[p][0], ops[p][1], sumLen[p]);
            lc.energyPj[p] = double(lc.macs[p]) * c.energyPj;
            lc.areaUm2[p] = c.areaUm2;
            unitArea[p] = std::max(unitArea[p], c.areaUm2);
            perImage += lc.energyPj[p];
            est.trainMacsPerStep += lc.macs[p] * batch;
        }
        const MacCost add = costAdd(table, b.g());
        lc.updateEnergyPj = double(l.weightCount()) * add.energyPj;
        updateArea = std::max(updateArea, add.areaUm2);
        update += lc.updateEnergyPj;
        est.inferenceEnergyPj += lc.energyPj[0];
        est.inferenceMacs += lc.macs[0];
        est.layers.push_back(lc);
        prevA = b.a();
    }
    est.trainStepEnergyPj = double(batch) * perImage + update;
    est.inferenceAreaUm2 = unitArea[0];
    est.trainAreaUm2 = unitArea[0] + unitArea[1] + unitArea[2] + updateArea;
    return est;
}

std::string cost_format_energy(double pj) {
    static const char* const units[] = {"pJ", "nJ", "uJ", "mJ", "J"};
    return withUnit(pj, units, 5, 1000.0);
}

std::string cost_format_area(double um2) {
    if (um2 >= 1e5) {
        char b[48];
        std::snprintf(b, sizeof b, "%.2f mm^2", um2 / 1e6);
        return b;
    }
    char b[48];
    std::snprintf(b, sizeof b, "%.0f um^2", um2);
    return b;
}

} // namespace bitbench
