// Model descriptions: JSON parsing with key-naming errors, built-in networks, shape inference.
#include "bitbench/model.h"

#include "bitbench/error.h"
#include "bitbench/graph.h"
#include "experiment/json_read.h"
#include "graph/graph_builtin.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace bitbench {

namespace {

// The networks of WAGE (ICLR 2018) as the authors' code builds them, plus a small MLP.
const char* kLenet5 = R"({
  "name": "lenet5",
  "input": {"height": 28, "width": 28, "channels": 1, "transform": "unit"},
  "layers": [
    {"name": "conv1", "type": "conv", "out": 32, "kernel": 5, "padding": "valid", "pool": true, "relu": true},
    {"name": "conv2", "type": "conv", "out": 64, "kernel": 5, "padding": "valid", "pool": true, "relu": true},
    {"name": "fc1", "type": "fc", "out": 512, "relu": true},
    {"name": "fc2", "type": "fc", "out": 10, "quantize_output": true}
  ]
})";

const char* kVgg7 = R"({
  "name": "vgg7",
  "input": {"height": 32, "width": 32, "channels": 3, "transform": "symmetric"},
  "layers": [
    {"name": "conv1", "type": "conv", "out": 128, "kernel": 3, "padding": "same", "relu": true},
    {"name": "conv2", "type": "conv", "out": 128, "kernel": 3, "padding": "same", "pool": true, "relu": true},
    {"name": "conv3", "type": "conv", "out": 256, "kernel": 3, "padding": "same", "relu": true},
    {"name": "conv4", "type": "conv", "out": 256, "kernel": 3, "padding": "same", "pool": true, "relu": true},
    {"name": "conv5", "type": "conv", "out": 512, "kernel": 3, "padding": "same", "relu": true},
    {"name": "conv6", "type": "conv", "out": 512, "kernel": 3, "padding": "same", "pool": true, "relu": true},
    {"name": "fc1", "type": "fc", "out": 1024, "relu": true},
    {"name": "fc2", "type": "fc", "out": 10, "quantize_output": false}
  ]
})";

const char* kMlp = R"({
  "name": "mlp",
  "input": {"height": 28, "width": 28, "channels": 1, "transform": "unit"},
  "layers": [
    {"name": "fc1", "type": "fc", "out": 256, "relu": true},
    {"name": "fc2", "type": "fc", "out": 10, "quantize_output": true}
  ]
})";

} // namespace

int64_t ModelDesc::parameterCount() const {
    int64_t n = 0;
    for (const auto& l : layers) n += l.weightCount();
    return n;
}

std::vector<std::string> model_builtin_names() { return {"lenet5", "vgg7", "mlp"}; }

nlohmann::json model_builtin_json(const std::string& name) {
    if (name == "lenet5") return nlohmann::json::parse(kLenet5);
    if (name == "vgg7") return nlohmann::json::parse(kVgg7);
    if (name == "mlp") return nlohmann::json::parse(kMlp);
    if (const char* text = graph_builtin_text(name)) return nlohmann::json::parse(text);
    std::string known;
    for (const auto& n : model_builtin_names()) known += n + ", ";
    for (const auto& n : graph_builtin_names()) known += n + ", ";
    known.resize(known.size() - 2);
    throw InputError("unknown model '" + name + "'; built-in models are " + known +
                     " (or give a model object with \"input\" and \"layers\")");
}

ModelDesc model_from_json(const nlohmann::json& j) {
    JsonReader r(j, "model");
    // Op graphs (graph.h) have no engine yet: say so rather than "unknown key \"ops\"".
    if (r.has("ops")) {
        const std::string name = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
        throw InputError("model '" + name + "' is an op graph (\"ops\"); the training engines run layer lists "
                         "(\"layers\") only so far: use lenet5, vgg7, mlp or a model with \"layers\"");
    }
    ModelDesc m;
    m.name = r.string("name");
    {
        JsonReader in = r.object("input");
        m.inH = in.integer("height", 1, 4096);
        m.inW = in.integer("width", 1, 4096);
        m.inC = in.integer("channels", 1, 4096);
        const std::string t = in.stringOr("transform", "unit");
        if (t == "unit") m.transform = InputTransform::Unit;
        else if (t == "symmetric") m.transform = InputTransform::Symmetric;
        else in.fail("transform", "expected \"unit\" (X/256) or \"symmetric\" (X/127.5 - 1), got \"" + t + "\"");
        in.finish();
    }
    const auto layers = r.array("layers");
    if (layers.empty()) r.fail("layers", "at least one layer is needed");
    for (size_t i = 0; i < layers.size(); ++i) {
        JsonReader l(layers[i], r.path() + ".layers[" + std::to_string(i) + "]");
        LayerDesc d;
        d.name = l.string("name");
        const std::string type = l.string("type");
        if (type == "conv") d.type = LayerType::Conv;
        else if (type == "fc") d.type = LayerType::Fc;
        else l.fail("type", "expected \"conv\" or \"fc\", got \"" + type + "\"");
        d.out = l.integer("out", 1, 65536);
        if (d.type == LayerType::Conv) {
            d.kernel = l.integer("kernel", 1, 15);
            const std::string pad = l.stringOr("padding", "valid");
            if (pad == "same") d.same = true;
            else if (pad != "valid") l.fail("padding", "expected \"valid\" or \"same\", got \"" + pad + "\"");
            if (d.same && d.kernel % 2 == 0) l.fail("kernel", "SAME padding needs an odd kernel size");
        }
        d.pool = l.booleanOr("pool", false);
        if (d.pool && d.type != LayerType::Conv) l.fail("pool", "pooling is only available after conv layers");
        d.relu = l.booleanOr("relu", false);
        d.quantizeOutput = l.booleanOr("quantize_output", true);
        const bool last = i + 1 == layers.size();
        if (!last && !d.quantizeOutput)
            l.fail("quantize_output", "only the last layer may leave its output unquantized");
        if (last && d.relu) l.fail("relu", "the last layer produces logits and must not have relu");
        for (const auto& prev : m.layers)
            if (prev.name == d.name) l.fail("name", "duplicate layer name \"" + d.name + "\"");
        l.finish();
        m.layers.push_back(d);
    }
    r.finish();
    model_infer_shapes(m);
    return m;
}

nlohmann::json model_to_json(const ModelDesc& m) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : m.layers) {
        nlohmann::json o = {{"name", l.name}, {"type", l.type == LayerType::Conv ? "conv" : "fc"}, {"out", l.out}};
        if (l.type == LayerType::Conv) {
            o["kernel"] = l.kernel;
            o["padding"] = l.same ? "same" : "valid";
        }
        if (l.pool) o["pool"] = true;
        if (l.relu) o["relu"] = true;
        o["quantize_output"] = l.quantizeOutput;
        layers.push_back(o);
    }
    return {{"name", m.name},
            {"input",
             {{"height", m.inH}, {"width", m.inW}, {"channels", m.inC},
              {"transform", m.transform == InputTransform::Unit ? "unit" : "symmetric"}}},
            {"layers", layers}};
}

void model_infer_shapes(ModelDesc& m) {
    int32_t h = m.inH, w = m.inW, c = m.inC;
    bool flat = false;
    for (auto& l : m.layers) {
        if (l.type == LayerType::Conv) {
            if (flat) throw InputError("model '" + m.name + "': conv layer '" + l.name + "' cannot follow an fc layer");
            l.inH = h;
            l.inW = w;
            l.inC = c;
            l.convH = l.same ? h : h - l.kernel + 1;
            l.convW = l.same ? w : w - l.kernel + 1;
            if (l.convH < 1 || l.convW < 1)
                throw InputError("model '" + m.name + "': layer '" + l.name + "' has a " + std::to_string(l.kernel) +
                                 "x" + std::to_string(l.kernel) + " kernel but its input is only " +
                                 std::to_string(h) + "x" + std::to_string(w));
            l.outH = l.pool ? l.convH / 2 : l.convH;
            l.outW = l.pool ? l.convW / 2 : l.convW;
            if (l.outH < 1 || l.outW < 1)
                throw InputError("model '" + m.name + "': layer '" + l.name + "' pools a 1-pixel output");
            h = l.outH;
            w = l.outW;
            c = l.out;
        } else {
            flat = true;
            l.inH = 1;
            l.inW = 1;
            const int64_t features = int64_t(h) * w * c;
            if (features > INT32_MAX)
                throw InputError("model '" + m.name + "': fc layer '" + l.name + "' has " +
                                 std::to_string(h) + "x" + std::to_string(w) + "x" + std::to_string(c) +
                                 " = " + std::to_string(features) + " inputs, more than 2^31-1");
            l.inC = int32_t(features);
            l.convH = l.convW = l.outH = l.outW = 1;
            h = w = 1;
            c = l.out;
        }
    }
}

} // namespace bitbench
