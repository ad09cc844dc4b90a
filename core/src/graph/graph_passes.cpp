// Graph rewrites that method presets name (core/doc/graph.md, "Rewrites"): each returns an
// ordinary graph, so an experiment stores the rewritten graph and replays without the rewrite.
#include "bitbench/graph.h"

#include "bitbench/error.h"
#include "graph/graph_impl.h"

#include <map>
#include <set>

namespace bitbench {

Graph graph_range_bn(const Graph& g, int32_t paramBits, bool fixedPoint) {
    Graph out = g;
    for (OpDesc& op : out.ops)
        if (op.kind == OpKind::BatchNorm) {
            op.kind = OpKind::RangeBatchNorm;
            op.momentum = 0.9; // the rangebn op's default (Banner et al.'s running update)
            op.chunks = 16;
            op.paramBits = paramBits;
            op.fixedPoint = fixedPoint;
        }
    graph_infer_shapes(out);
    return out;
}

Graph graph_banner_points(const Graph& g) {
    Graph out;
    out.name = g.name;
    out.input = g.input;
    out.transform = g.transform;
    std::set<std::string> names;
    for (const OpDesc& op : g.ops) names.insert(op.name);
    std::map<std::string, std::string> renamed; // readers of an op read its gradient point instead
    std::map<std::string, bool> forwardPoint;   // op name -> a forward-quantizing quantize op
    auto fresh = [&](const std::string& name) {
        if (!names.insert(name).second)
            throw InputError("model '" + g.name + "': the quantization points need an op named '" + name +
                             "', which the model already has");
        return name;
    };
    auto point = [&](const std::string& name, const std::string& reads, QuantizeApply apply) {
        OpDesc q;
        q.name = fresh(name);
        q.kind = OpKind::Quantize;
        q.inputs = {reads};
        q.apply = apply;
        out.ops.push_back(q);
        forwardPoint[q.name] = apply != QuantizeApply::Backward;
    };
    for (const OpDesc& op : g.ops) {
        OpDesc o = op;
        for (std::string& in : o.inputs)
            if (const auto it = renamed.find(in); it != renamed.end()) in = it->second;
        const bool normalizes = o.kind == OpKind::BatchNorm || o.kind == OpKind::RangeBatchNorm;
        if (o.kind == OpKind::Quantize && o.apply == QuantizeApply::Both) o.apply = QuantizeApply::Forward;
        // Every product's and batch norm's input is quantized forward (the image included).
        if ((o.hasWeights() || normalizes) && !forwardPoint[o.inputs[0]]) {
            point(o.name + ".in.quant", o.inputs[0], QuantizeApply::Forward);
            o.inputs[0] = out.ops.back().name;
        }
        out.ops.push_back(o);
        if (o.kind == OpKind::Quantize) forwardPoint[o.name] = o.apply != QuantizeApply::Backward;
        // Every product's and batch norm's output gradient is quantized (E, and E_grad beside it).
        if (o.hasWeights() || normalizes) {
            point(o.name + ".grad.quant", o.name, QuantizeApply::Backward);
            renamed[o.name] = out.ops.back().name;
        }
    }
    graph_infer_shapes(out);
    return out;
}

} // namespace bitbench
