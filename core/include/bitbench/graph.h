// Models as graphs of named ops. The layer lists of model.h (`pool`, `relu`, `quantize_output`)
// are shorthand that expands into these ops; see core/doc/graph.md.
#pragma once

#include "bitbench/model.h"

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bitbench {

// Per-sample shape of a tensor, NHWC in memory (c innermost). Flat tensors have h = w = 1.
struct TensorShape {
    int32_t h = 1, w = 1, c = 1;
    int64_t size() const { return int64_t(h) * w * c; }
    bool operator==(const TensorShape&) const = default;
};

enum class OpKind {
    Conv,           // square kernel, stride 1 or 2, SAME or VALID, no bias unless `bias`;
                    // weights [out][ky][kx][c]
    Fc,             // fan-in in the input's (h, w, c) memory order: weights [out][(y*w + x)*c + ch]
    MaxPool,        // 2x2, stride 2 (odd trailing rows/columns are dropped, as VALID); the first
                    // maximum in row-major window order wins
    AvgPool,        // global average over h x w: output 1 x 1 x c
    Relu,
    BatchNorm,      // per channel (c), batch statistics in training, running ones in evaluation
                    // (biased batch variance; running variance updated with the unbiased one)
    RangeBatchNorm, // Banner et al. range BN (ALGORITHMS.md §2), per channel, `chunks` chunks
    Add,            // element-wise sum of two inputs of equal shape (residual add)
    Flatten,        // h x w x c -> 1 x 1 x (h*w*c), same memory
    Quantize,       // quantizes activations (class A) in forward and errors (class E) in backward
};

// Which directions a quantize op acts in: both (the default: A forward, E backward), forward only
// (A; the gradient passes straight through with A's mask and no E), backward only (the identity
// forward; E, and E_grad, on the gradient). Banner et al. quantize a product's input forward and
// its output's gradient backward: two points, one direction each.
enum class QuantizeApply : uint8_t { Both, Forward, Backward };

// The op names in JSON: "conv", "fc", "maxpool", "avgpool", "relu", "batchnorm", "rangebn",
// "add", "flatten", "quantize".
const char* op_kind_name(OpKind k);

struct OpDesc {
    std::string name;
    OpKind kind = OpKind::Relu;
    // Names of the ops this one reads; "input" is the network input. Add has two, others one.
    std::vector<std::string> inputs;

    // Conv and fc.
    int32_t out = 0;    // output channels (conv) or features (fc)
    int32_t kernel = 1; // conv
    int32_t stride = 1; // conv: 1 or 2
    bool same = false;  // conv: SAME padding (TensorFlow's): out = ceil(in / stride),
                        //   pad = max((out - 1) * stride + kernel - in, 0) rows in all,
                        //   top = pad / 2 (floor), bottom = pad - top (the odd one at the
                        //   bottom; columns alike, the odd one at the right).
                        // VALID otherwise: out = floor((in - kernel) / stride) + 1, no padding.
                        // Either way the kernel must fit: kernel <= in (with SAME a larger
                        // kernel has taps that only ever read padding).
    bool bias = false;  // conv and fc: a per-output bias (float, trained by the solver)

    // BatchNorm and RangeBatchNorm.
    // running = (1 - momentum) * running + momentum * batch. 0.1 is PyTorch's BN; JSON's default
    // for "rangebn" is 0.9, Banner et al.'s code (running = 0.1 * running + 0.9 * batch).
    double momentum = 0.1;
    double eps = 1e-5;
    int32_t chunks = 16;   // RangeBatchNorm: the batch's b*h*w values per channel in this many chunks
    // RangeBatchNorm: 0 (float) or the bits of Banner et al.'s quantization of its scale, gamma
    // and beta (each per tensor across channels, affine min/max, nearest; straight-through).
    int32_t paramBits = 0;
    // RangeBatchNorm: normalize in fixed point (JSON "fixed_point": true, written only when set):
    // statistics on the input's integer codes and one fixed-point multiplier and shift per
    // channel (graph.md). Its input must be a forward quantize op (through relu, max-pool,
    // flatten) whose A quantizer gives integer codes with one scale for the tensor.
    bool fixedPoint = false;

    // Quantize: JSON "apply": "both" (default, not written), "forward", "backward".
    QuantizeApply apply = QuantizeApply::Both;
    bool quantizesForward() const { return kind == OpKind::Quantize && apply != QuantizeApply::Backward; }
    bool quantizesBackward() const { return kind == OpKind::Quantize && apply != QuantizeApply::Forward; }

    // Filled by graph_infer_shapes.
    std::vector<int32_t> in; // indices of the inputs in Graph::ops; -1 = the network input
    TensorShape inShape;     // shape of the first input
    TensorShape outShape;

    bool hasWeights() const { return kind == OpKind::Conv || kind == OpKind::Fc; }
    int64_t fanIn() const { return kind == OpKind::Conv ? int64_t(kernel) * kernel * inShape.c : inShape.size(); }
    int64_t weightCount() const { return hasWeights() ? fanIn() * out : 0; }
    // Weights, bias and BN's gamma and beta (2 per channel). requires: shapes inferred.
    int64_t parameterCount() const;

    bool operator==(const OpDesc&) const = default;
};

// Rows (or columns) of zero padding a conv op adds before its input of size `in` (the top or
// left side): SAME's floor(pad / 2) from the formula at OpDesc::same, 0 for VALID. The side after
// gets pad minus this.
int32_t conv_pad_before(const OpDesc& op, int32_t in);

struct Graph {
    std::string name;
    TensorShape input;
    InputTransform transform = InputTransform::Unit;
    // In an order where every op comes after its inputs. The last op's output is the logits.
    std::vector<OpDesc> ops;

    int32_t classes() const { return ops.empty() ? 0 : int32_t(ops.back().outShape.size()); }
    int64_t parameterCount() const; // weights, biases and BN scales and shifts (shapes inferred)
    // Index of the op named `name`, -1 if none ("input" is not an op: -1).
    int32_t find(const std::string& name) const;

    bool operator==(const Graph&) const = default;
};

// Rewrites that method presets name ("batch_norm": "range", "quantize_points": "banner").
// graph_range_bn: every batchnorm op becomes a rangebn op of the same name, inputs and eps
// (chunks 16, momentum 0.9, param_bits and fixed_point as given: "range" 0, "range8" 8,
// "range8-fixed" 8 in fixed point).
Graph graph_range_bn(const Graph& g, int32_t paramBits = 0, bool fixedPoint = false);
// graph_banner_points: Banner et al.'s quantization points. Every quantize op quantizes forward
// only; every conv, fc and batch norm whose input is not a forward quantize op gets one before it
// (`<op>.in.quant`); every conv, fc and batch norm gets a backward-only quantize op after it
// (`<op>.grad.quant`, E on its output gradient and E_grad beside it) that its readers read.
// throws: InputError when a name it needs is taken.
Graph graph_banner_points(const Graph& g);

// Parses a model object in either form: {"input": ..., "layers": [...]} (the shorthand of
// model.h, expanded by graph_from_model) or {"input": ..., "ops": [{"name", "op", "inputs", ...}]}.
// An op without "inputs" reads the op before it (the first op reads "input").
// ensures: shapes inferred (graph_infer_shapes ran).
// throws: InputError naming the key ("model.ops[3].stride: ...") or the op and its input.
Graph graph_from_json(const nlohmann::json& j);
// The canonical op form (every key written), readable by graph_from_json.
nlohmann::json graph_to_json(const Graph& g);

// Expands a layer list: per layer `conv|fc` -> [maxpool] -> [relu] -> [quantize]; a quantize op
// on the network input first. Op names: the layer's name for its product, then
// "<layer>.pool", "<layer>.relu", "<layer>.quant"; the input's quantize op is "input.quant".
// A quantize op follows every layer whose quantizeOutput is set, the last one included.
// ensures: shapes inferred; every product op's weightCount equals its layer's.
// throws: InputError when the expanded names collide (a layer named "input" or "a.pool").
Graph graph_from_model(const ModelDesc& m);

// Resolves input names and fills every op's shapes from the input size. Also checks what a
// graph built in code may get wrong: unique non-empty names (not "input"), input counts, inputs
// defined earlier, attributes in range, every op but the last read by some op, and every tensor
// within 2^31-1 values per sample.
// throws: InputError naming the graph, the op and the input that does not fit
// ("model 'm': op 'add1' input 'conv3': shape 7x7x32 differs from 'pool2' 14x14x32").
void graph_infer_shapes(Graph& g);

// Built-in graph models besides model.h's: "lenet5-bn" (LeNet-5 with batch norm after conv1,
// conv2 and fc1, TWN's MNIST net; the last fc has a bias and no BN, as TWN's) and "resnet8" (28x28
// inputs; 3 stages of 16/32/64 channels, one basic block each). model_builtin_json also knows
// these names; core/doc/graph.md draws them.
std::vector<std::string> graph_builtin_names();

} // namespace bitbench
