// Reading a model object into an op graph: the layer-list shorthand or the op form.
#include "bitbench/graph.h"

#include "bitbench/error.h"
#include "experiment/json_read.h"
#include "graph/graph_impl.h"

#include <nlohmann/json.hpp>

#include <map>

namespace bitbench {

namespace {

// The names an op reads: "inputs" if given (an array of names of earlier ops or "input"), else
// the op before it ("input" for the first op). `earlier` maps each earlier op's name to its index.
std::vector<std::string> readInputs(JsonReader& r, OpKind kind, const std::vector<OpDesc>& before,
                                    const std::map<std::string, size_t>& earlier,
                                    const std::map<std::string, size_t>& all) {
    const size_t needed = kind == OpKind::Add ? 2 : 1;
    const std::string kindName = op_kind_name(kind);
    std::vector<std::string> names;
    if (!r.has("inputs")) {
        if (kind == OpKind::Add)
            r.fail("inputs", "missing required key (add needs exactly 2 inputs)");
        names.push_back(before.empty() ? kGraphInputName : before.back().name);
        return names;
    }
    const auto list = r.array("inputs");
    if (list.size() != needed)
        r.fail("inputs", kindName + " needs exactly " + std::to_string(needed) + " input" +
                             (needed == 1 ? "" : "s") + ", got " + std::to_string(list.size()));
    for (size_t k = 0; k < list.size(); ++k) {
        const std::string where = "inputs[" + std::to_string(k) + "]";
        if (!list[k].is_string())
            r.fail(where, "expected an op name, got " + JsonReader::typeName(list[k]));
        const std::string name = list[k].get<std::string>();
        if (name != kGraphInputName && !earlier.count(name)) {
            const auto later = all.find(name);
            if (later != all.end() && later->second == before.size())
                r.fail(where, "an op cannot read itself");
            if (later != all.end())
                r.fail(where, "op '" + name + "' is defined later (ops[" +
                                  std::to_string(later->second) +
                                  "]); an op may only read ops before it");
            r.fail(where, "no op named '" + name + "' (an op reads \"input\" or an op before it)");
        }
        names.push_back(name);
    }
    return names;
}

OpDesc readOp(JsonReader& r, const std::vector<OpDesc>& before,
              const std::map<std::string, size_t>& earlier,
              const std::map<std::string, size_t>& all) {
    OpDesc op;
    op.name = r.string("name");
    if (op.name.empty()) r.fail("name", "an op needs a non-empty name");
    if (op.name == kGraphInputName)
        r.fail("name", "\"input\" names the network input; choose another name");
    if (const auto it = earlier.find(op.name); it != earlier.end())
        r.fail("name", "duplicate op name '" + op.name + "' (also ops[" +
                           std::to_string(it->second) + "])");
    const std::string kind = r.string("op");
    const auto k = op_kind_from_name(kind);
    if (!k) r.fail("op", "unknown op \"" + kind + "\"; expected one of " + op_kind_names_list());
    op.kind = *k;
    op.inputs = readInputs(r, op.kind, before, earlier, all);
    switch (op.kind) {
    case OpKind::Conv: {
        op.out = int32_t(r.integer("out", 1, 65536));
        op.kernel = int32_t(r.integer("kernel", 1, 15));
        if (r.has("stride")) {
            const auto& s = r.raw("stride");
            if (!s.is_number_integer() || (s.get<int64_t>() != 1 && s.get<int64_t>() != 2))
                r.fail("stride", "expected 1 or 2, got " + s.dump());
            op.stride = int32_t(s.get<int64_t>());
        }
        const std::string pad = r.stringOr("padding", "valid");
        if (pad == "same")
            op.same = true;
        else if (pad != "valid")
            r.fail("padding", "expected \"valid\" or \"same\", got \"" + pad + "\"");
        op.bias = r.booleanOr("bias", false);
        break;
    }
    case OpKind::Fc:
        op.out = int32_t(r.integer("out", 1, 65536));
        op.bias = r.booleanOr("bias", false);
        break;
    case OpKind::RangeBatchNorm:
        op.chunks = int32_t(r.integerOr("chunks", 1, 65536, 16));
        op.paramBits = int32_t(r.integerOr("param_bits", 0, 16, 0));
        if (op.paramBits == 1) r.fail("param_bits", "expected 0 (float) or 2..16");
        op.fixedPoint = r.booleanOr("fixed_point", false);
        op.momentum = 0.9;
        [[fallthrough]];
    case OpKind::BatchNorm:
        op.momentum = r.numberOr("momentum", op.momentum);
        if (!(op.momentum >= 0 && op.momentum <= 1))
            r.fail("momentum", "expected a number in 0..1");
        op.eps = r.numberOr("eps", op.eps);
        if (!(op.eps > 0)) r.fail("eps", "expected a number above 0");
        break;
    case OpKind::Quantize: {
        const std::string a = r.stringOr("apply", "both");
        if (a == "forward") op.apply = QuantizeApply::Forward;
        else if (a == "backward") op.apply = QuantizeApply::Backward;
        else if (a != "both") r.fail("apply", "expected \"both\", \"forward\" or \"backward\", got \"" + a + "\"");
        break;
    }
    default:
        break;
    }
    r.finish();
    return op;
}

} // namespace

Graph graph_from_json(const nlohmann::json& j) {
    JsonReader r(j, "model");
    const bool layers = r.has("layers"), ops = r.has("ops");
    if (layers && ops)
        throw InputError(
            "model: give \"layers\" (a layer list) or \"ops\" (an op graph), not both");
    if (layers) return graph_from_model(model_from_json(j));
    if (!ops)
        throw InputError("model: expected \"layers\" (a layer list) or \"ops\" (an op graph)");

    Graph g;
    g.name = r.string("name");
    {
        JsonReader in = r.object("input");
        g.input.h = int32_t(in.integer("height", 1, 4096));
        g.input.w = int32_t(in.integer("width", 1, 4096));
        g.input.c = int32_t(in.integer("channels", 1, 4096));
        const std::string t = in.stringOr("transform", "unit");
        if (t == "unit")
            g.transform = InputTransform::Unit;
        else if (t == "symmetric")
            g.transform = InputTransform::Symmetric;
        else
            in.fail("transform",
                    "expected \"unit\" (X/256) or \"symmetric\" (X/127.5 - 1), got \"" + t + "\"");
        in.finish();
    }
    const auto list = r.array("ops");
    if (list.empty()) r.fail("ops", "at least one op is needed");
    // Every op's name first, so that reading a later op can be told from reading a missing one.
    std::map<std::string, size_t> all, earlier;
    for (size_t i = 0; i < list.size(); ++i)
        if (list[i].is_object() && list[i].contains("name") && list[i]["name"].is_string())
            all.emplace(list[i]["name"].get<std::string>(), i);
    for (size_t i = 0; i < list.size(); ++i) {
        JsonReader o(list[i], r.path() + ".ops[" + std::to_string(i) + "]");
        g.ops.push_back(readOp(o, g.ops, earlier, all));
        earlier.emplace(g.ops.back().name, i);
    }
    r.finish();
    graph_infer_shapes(g);
    return g;
}

} // namespace bitbench
