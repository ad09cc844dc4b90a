// Network descriptions as JSON layer lists (LeNet-5, VGG-7, MLPs) and their shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bitbench {

enum class LayerType { Conv, Fc };

// One weight layer with its WAGE block: product -> [maxpool 2x2/2] -> [relu] -> Q_E -> [Q_A].
struct LayerDesc {
    std::string name;
    LayerType type = LayerType::Fc;
    int32_t out = 0;            // output channels (conv) or features (fc)
    int32_t kernel = 1;         // square kernel size (conv)
    bool same = false;          // SAME (zero) padding; VALID otherwise (conv, stride 1)
    bool pool = false;          // max-pool 2x2 stride 2 before relu
    bool relu = false;
    bool quantizeOutput = true; // Q_A on the output (hidden layers must; last layer may not)

    // Shapes, filled by model_infer_shapes().
    int32_t inH = 0, inW = 0, inC = 0;   // input (fc: inH = inW = 1, inC = features)
    int32_t convH = 0, convW = 0;        // product output spatial size
    int32_t outH = 0, outW = 0;          // after pooling
    int64_t fanIn() const { return type == LayerType::Conv ? int64_t(kernel) * kernel * inC : inC; }
    int64_t weightCount() const { return fanIn() * out; }
};

// How input bytes X become the network's input before Q_A: "unit" X/256, "symmetric" X/127.5-1.
enum class InputTransform { Unit, Symmetric };

struct ModelDesc {
    std::string name;
    int32_t inH = 0, inW = 0, inC = 0;
    InputTransform transform = InputTransform::Unit;
    std::vector<LayerDesc> layers;

    int64_t parameterCount() const;
    int32_t classes() const { return layers.empty() ? 0 : layers.back().out; }
};

// Parses a model object. throws InputError naming the key ("layers[2].kernel: ..."), and for an
// op graph ("ops", graph.h) naming the model.
ModelDesc model_from_json(const nlohmann::json& j);
nlohmann::json model_to_json(const ModelDesc& m);

// Names of the built-in layer-list models: "lenet5", "vgg7", "mlp" (the ones the engines run).
std::vector<std::string> model_builtin_names();
// A built-in model's JSON: one of model_builtin_names() or of graph_builtin_names() (graph.h; op
// graphs, which model_from_json refuses). throws InputError for an unknown name, listing both.
nlohmann::json model_builtin_json(const std::string& name);

// Fills every layer's shapes from the input size. throws InputError when a layer does not fit
// (e.g. kernel larger than its input).
void model_infer_shapes(ModelDesc& m);

} // namespace bitbench
