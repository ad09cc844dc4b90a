// Walks over an op graph that the graph executor and the cost model share: a quantize op's block
// owner and the key its quantizers are looked up under, and where a product's input values come
// from.
#pragma once

#include "bitbench/graph.h"
#include "bitbench/quant.h"

#include <string>

namespace bitbench {

// The weight op whose block ends at op `i`: back through single-input ops that are not weight
// ops (pool, relu, BN, flatten, quantize). -1 when the walk reaches the network input or an add.
inline int32_t graph_block_owner(const Graph& g, int32_t i) {
    while (i >= 0) {
        const OpDesc& op = g.ops[size_t(i)];
        if (op.hasWeights()) return i;
        if (op.kind == OpKind::Add || op.in.empty()) return -1;
        i = op.in[0];
    }
    return -1;
}

// From op `i` back through max-pool, relu and flatten (they keep values on a quantizer's grid):
// the first other op, or -1 for the network input.
inline int32_t graph_code_source(const Graph& g, int32_t i) {
    while (i >= 0) {
        const OpKind k = g.ops[size_t(i)].kind;
        if (k != OpKind::MaxPool && k != OpKind::Relu && k != OpKind::Flatten) break;
        i = g.ops[size_t(i)].in[0];
    }
    return i;
}

// The name a quantize op's classes are looked up under in `q`: its own when layer_quant names it
// or when it ends no weight op's block, else its block owner's.
inline const std::string& graph_quantize_key(const Graph& g, const QuantConfig& q, int32_t quantizeOp) {
    const OpDesc& op = g.ops[size_t(quantizeOp)];
    const int32_t owner = graph_block_owner(g, op.in[0]);
    return q.ops.count(op.name) || owner < 0 ? op.name : g.ops[size_t(owner)].name;
}

} // namespace bitbench
