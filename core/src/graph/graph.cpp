// The op graph: op kinds, parameter counts, the layer-list expansion and the canonical JSON.
#include "bitbench/graph.h"

#include "graph/graph_impl.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace bitbench {

namespace {

constexpr std::array kKinds = {OpKind::Conv,           OpKind::Fc,   OpKind::MaxPool,
                               OpKind::AvgPool,        OpKind::Relu, OpKind::BatchNorm,
                               OpKind::RangeBatchNorm, OpKind::Add,  OpKind::Flatten,
                               OpKind::Quantize};

OpDesc makeOp(std::string name, OpKind kind, std::string input) {
    OpDesc op;
    op.name = std::move(name);
    op.kind = kind;
    op.inputs = {std::move(input)};
    return op;
}

} // namespace

const char* op_kind_name(OpKind k) {
    switch (k) {
    case OpKind::Conv:
        return "conv";
    case OpKind::Fc:
        return "fc";
    case OpKind::MaxPool:
        return "maxpool";
    case OpKind::AvgPool:
        return "avgpool";
    case OpKind::Relu:
        return "relu";
    case OpKind::BatchNorm:
        return "batchnorm";
    case OpKind::RangeBatchNorm:
        return "rangebn";
    case OpKind::Add:
        return "add";
    case OpKind::Flatten:
        return "flatten";
    case OpKind::Quantize:
        return "quantize";
    }
    return "?";
}

std::optional<OpKind> op_kind_from_name(const std::string& name) {
    for (OpKind k : kKinds)
        if (name == op_kind_name(k)) return k;
    return std::nullopt;
}

std::string op_kind_names_list() {
    std::string s;
    for (OpKind k : kKinds)
        s += (s.empty() ? "" : ", ") + std::string(op_kind_name(k));
    return s;
}

int32_t conv_pad_before(const OpDesc& op, int32_t in) {
    if (!op.same) return 0;
    const int64_t out = (int64_t(in) + op.stride - 1) / op.stride;
    const int64_t pad = std::max<int64_t>((out - 1) * op.stride + op.kernel - in, 0);
    return int32_t(pad / 2);
}

int64_t OpDesc::parameterCount() const {
    if (hasWeights()) return weightCount() + (bias ? out : 0);
    if (kind == OpKind::BatchNorm || kind == OpKind::RangeBatchNorm) return 2 * int64_t(outShape.c);
    return 0;
}

int64_t Graph::parameterCount() const {
    int64_t n = 0;
    for (const auto& op : ops)
        n += op.parameterCount();
    return n;
}

int32_t Graph::find(const std::string& name) const {
    for (size_t i = 0; i < ops.size(); ++i)
        if (ops[i].name == name) return int32_t(i);
    return -1;
}

Graph graph_from_model(const ModelDesc& m) {
    Graph g;
    g.name = m.name;
    g.input = {m.inH, m.inW, m.inC};
    g.transform = m.transform;
    g.ops.push_back(makeOp("input.quant", OpKind::Quantize, kGraphInputName));
    for (const auto& l : m.layers) {
        OpDesc p = makeOp(l.name, l.type == LayerType::Conv ? OpKind::Conv : OpKind::Fc,
                          g.ops.back().name);
        p.out = l.out;
        if (l.type == LayerType::Conv) {
            p.kernel = l.kernel;
            p.same = l.same;
        }
        g.ops.push_back(p);
        // WAGE's block order: pooling before relu.
        if (l.pool) g.ops.push_back(makeOp(l.name + ".pool", OpKind::MaxPool, g.ops.back().name));
        if (l.relu) g.ops.push_back(makeOp(l.name + ".relu", OpKind::Relu, g.ops.back().name));
        if (l.quantizeOutput)
            g.ops.push_back(makeOp(l.name + ".quant", OpKind::Quantize, g.ops.back().name));
    }
    graph_infer_shapes(g);
    return g;
}

nlohmann::json graph_to_json(const Graph& g) {
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : g.ops) {
        nlohmann::json o = {
            {"name", op.name}, {"op", op_kind_name(op.kind)}, {"inputs", op.inputs}};
        switch (op.kind) {
        case OpKind::Conv:
            o["out"] = op.out;
            o["kernel"] = op.kernel;
            o["stride"] = op.stride;
            o["padding"] = op.same ? "same" : "valid";
            o["bias"] = op.bias;
            break;
        case OpKind::Fc:
            o["out"] = op.out;
            o["bias"] = op.bias;
            break;
        case OpKind::RangeBatchNorm:
            o["chunks"] = op.chunks;
            if (op.paramBits) o["param_bits"] = op.paramBits; // written when set, as "apply"
            if (op.fixedPoint) o["fixed_point"] = true;
            [[fallthrough]];
        case OpKind::BatchNorm:
            o["momentum"] = op.momentum;
            o["eps"] = op.eps;
            break;
        case OpKind::Quantize:
            // Written only when not the default, so graphs written before keep their text (and
            // the experiments their configuration hashes).
            if (op.apply != QuantizeApply::Both) o["apply"] = op.apply == QuantizeApply::Forward ? "forward" : "backward";
            break;
        default:
            break;
        }
        ops.push_back(std::move(o));
    }
    return {{"name", g.name},
            {"input",
             {{"height", g.input.h},
              {"width", g.input.w},
              {"channels", g.input.c},
              {"transform", g.transform == InputTransform::Unit ? "unit" : "symmetric"}}},
            {"ops", ops}};
}

} // namespace bitbench
