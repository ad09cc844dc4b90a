// Built-in op graphs: LeNet-5 with batch norm (TWN's MNIST net), the same in BinaryNet's block
// order (no relu) and a small ResNet for 28x28.
#include "graph/graph_builtin.h"

#include "bitbench/graph.h"

namespace bitbench {

namespace {

// WAGE's LeNet-5 with TWN's batch norm after conv1, conv2 and fc1 (caffe-twns'
// examples/mnist/lenet_tn.prototxt). TWN runs BN -> relu -> pool; here BN -> pool -> relu keeps
// WAGE's block order and gives the same values, since relu and max commute. No bias before a BN
// (its mean subtraction cancels one; beta takes its place). The last layer is TWN's ip2: a plain
// fc with a bias and no BN, whose float logits feed the loss unquantized.
const char* kLenet5Bn = R"({
  "name": "lenet5-bn",
  "input": {"height": 28, "width": 28, "channels": 1, "transform": "unit"},
  "ops": [
    {"name": "input.quant", "op": "quantize", "inputs": ["input"]},
    {"name": "conv1", "op": "conv", "out": 32, "kernel": 5, "padding": "valid"},
    {"name": "conv1.bn", "op": "batchnorm"},
    {"name": "conv1.pool", "op": "maxpool"},
    {"name": "conv1.relu", "op": "relu"},
    {"name": "conv1.quant", "op": "quantize"},
    {"name": "conv2", "op": "conv", "out": 64, "kernel": 5, "padding": "valid"},
    {"name": "conv2.bn", "op": "batchnorm"},
    {"name": "conv2.pool", "op": "maxpool"},
    {"name": "conv2.relu", "op": "relu"},
    {"name": "conv2.quant", "op": "quantize"},
    {"name": "fc1", "op": "fc", "out": 512},
    {"name": "fc1.bn", "op": "batchnorm"},
    {"name": "fc1.relu", "op": "relu"},
    {"name": "fc1.quant", "op": "quantize"},
    {"name": "fc2", "op": "fc", "out": 10, "bias": true}
  ]
})";

// ResNet-8 for 28x28x1: a stem and three stages of one basic block (16, 32, 64 channels; stages 2
// and 3 halve the size with stride 2: 28 -> 14 -> 7), global average pool, fc 10. A block's input
// is quantized once ("<x>.quant"); its first conv and its shortcut (identity or 1x1 conv) both
// read that op, so the residual add sums the same codes the conv sees.
const char* kResnet8 = R"({
  "name": "resnet8",
  "input": {"height": 28, "width": 28, "channels": 1, "transform": "unit"},
  "ops": [
    {"name": "input.quant", "op": "quantize", "inputs": ["input"]},
    {"name": "stem", "op": "conv", "out": 16, "kernel": 3, "padding": "same"},
    {"name": "stem.bn", "op": "batchnorm"},
    {"name": "stem.relu", "op": "relu"},
    {"name": "stem.quant", "op": "quantize"},

    {"name": "s1.conv1", "op": "conv", "out": 16, "kernel": 3, "padding": "same"},
    {"name": "s1.bn1", "op": "batchnorm"},
    {"name": "s1.relu1", "op": "relu"},
    {"name": "s1.quant1", "op": "quantize"},
    {"name": "s1.conv2", "op": "conv", "out": 16, "kernel": 3, "padding": "same"},
    {"name": "s1.bn2", "op": "batchnorm"},
    {"name": "s1.add", "op": "add", "inputs": ["s1.bn2", "stem.quant"]},
    {"name": "s1.relu", "op": "relu"},
    {"name": "s1.quant", "op": "quantize"},

    {"name": "s2.conv1", "op": "conv", "out": 32, "kernel": 3, "stride": 2, "padding": "same"},
    {"name": "s2.bn1", "op": "batchnorm"},
    {"name": "s2.relu1", "op": "relu"},
    {"name": "s2.quant1", "op": "quantize"},
    {"name": "s2.conv2", "op": "conv", "out": 32, "kernel": 3, "padding": "same"},
    {"name": "s2.bn2", "op": "batchnorm"},
    {"name": "s2.short", "op": "conv", "inputs": ["s1.quant"], "out": 32, "kernel": 1, "stride": 2, "padding": "valid"},
    {"name": "s2.short.bn", "op": "batchnorm"},
    {"name": "s2.add", "op": "add", "inputs": ["s2.bn2", "s2.short.bn"]},
    {"name": "s2.relu", "op": "relu"},
    {"name": "s2.quant", "op": "quantize"},

    {"name": "s3.conv1", "op": "conv", "out": 64, "kernel": 3, "stride": 2, "padding": "same"},
    {"name": "s3.bn1", "op": "batchnorm"},
    {"name": "s3.relu1", "op": "relu"},
    {"name": "s3.quant1", "op": "quantize"},
    {"name": "s3.conv2", "op": "conv", "out": 64, "kernel": 3, "padding": "same"},
    {"name": "s3.bn2", "op": "batchnorm"},
    {"name": "s3.short", "op": "conv", "inputs": ["s2.quant"], "out": 64, "kernel": 1, "stride": 2, "padding": "valid"},
    {"name": "s3.short.bn", "op": "batchnorm"},
    {"name": "s3.add", "op": "add", "inputs": ["s3.bn2", "s3.short.bn"]},
    {"name": "s3.relu", "op": "relu"},

    {"name": "pool", "op": "avgpool"},
    {"name": "pool.quant", "op": "quantize"},
    {"name": "fc", "op": "fc", "out": 10, "bias": true}
  ]
})";

// WAGE's LeNet-5 in BinaryNet's block order (MatthieuCourbariaux/BinaryNet, cifar10.py): conv,
// max-pool, BN, then the quantize op where BinaryNet binarizes (its hard tanh's mask is the sign
// family's backward); no relu, whose output sign(0) = +1 would make every activation +1. The last
// fc is followed by a BN, as BinaryNet's last dense layer, and gives the logits.
const char* kLenet5Bnn = R"({
  "name": "lenet5-bnn",
  "input": {"height": 28, "width": 28, "channels": 1, "transform": "unit"},
  "ops": [
    {"name": "input.quant", "op": "quantize", "inputs": ["input"]},
    {"name": "conv1", "op": "conv", "out": 32, "kernel": 5, "padding": "valid"},
    {"name": "conv1.pool", "op": "maxpool"},
    {"name": "conv1.bn", "op": "batchnorm"},
    {"name": "conv1.quant", "op": "quantize"},
    {"name": "conv2", "op": "conv", "out": 64, "kernel": 5, "padding": "valid"},
    {"name": "conv2.pool", "op": "maxpool"},
    {"name": "conv2.bn", "op": "batchnorm"},
    {"name": "conv2.quant", "op": "quantize"},
    {"name": "fc1", "op": "fc", "out": 512},
    {"name": "fc1.bn", "op": "batchnorm"},
    {"name": "fc1.quant", "op": "quantize"},
    {"name": "fc2", "op": "fc", "out": 10},
    {"name": "fc2.bn", "op": "batchnorm"}
  ]
})";

} // namespace

std::vector<std::string> graph_builtin_names() {
    return {"lenet5-bn", "resnet8", "lenet5-bnn"};
}

const char* graph_builtin_text(const std::string& name) {
    if (name == "lenet5-bn") return kLenet5Bn;
    if (name == "resnet8") return kResnet8;
    if (name == "lenet5-bnn") return kLenet5Bnn;
    return nullptr;
}

} // namespace bitbench
