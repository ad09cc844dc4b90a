// Method presets: each method's recipe as the experiment keys it sets (core/doc/methods.md).
#include "bitbench/experiment.h"

#include "bitbench/error.h"

namespace bitbench {

namespace {

struct Preset {
    const char* name;
    const char* json;
};

// WAGE (ALGORITHMS.md §1.4): 2-8-8-8, SSE, batch 128, lr 8 -> 1 at epoch 200 -> 1/8 at 250.
// float-sgd: the float baseline of the batch-norm nets (TWN's LeNet recipe with PyTorch's mean
// cross-entropy): SGD momentum 0.9, weight decay 1e-4, lr 0.01.
constexpr Preset kPresets[] = {
    {"wage", R"({"bits": "2-8-8-8", "loss": "sse", "batch": 128, "lr": [[0, 8], [200, 1], [250, 0.125]]})"},
    {"float-sgd", R"({"quant": {"W": "float", "A": "float", "G": "float", "E": "float"}, "loss": "softmax_ce",
                      "batch": 128, "lr": 0.01,
                      "optimizer": {"kind": "sgd", "momentum": 0.9, "weight_decay": 0.0001}})"},
    // Banner et al. 2018 (ALGORITHMS.md §2): range BN, quantize points on every product's and BN's
    // input (forward) and output gradient (backward), 8-bit affine W (per tensor) and A (running
    // range), 8-bit stochastic E, SGD momentum 0.9 and weight decay 1e-4 on float master weights,
    // cross-entropy, lr 0.1 / 0.01 / 0.001. banner8-sim is the authors' float simulation (zero point
    // = min, a float32 E_grad); banner8 its integer form: s8 weights (symmetric), u8 activations and
    // errors with an integer zero point, a 16-bit symmetric E_grad (core/doc/methods.md).
    {"banner8-sim", R"({"batch_norm": "range8", "quantize_points": "banner",
                        "quant": {"W": "affine8", "A": {"family": "affine", "bits": 8, "range": "running"},
                                  "G": "float", "E": "affine8s", "E_grad": "float"},
                        "loss": "softmax_ce", "batch": 128, "lr": [[0, 0.1], [1, 0.01], [2, 0.001]],
                        "optimizer": {"kind": "sgd", "momentum": 0.9, "weight_decay": 0.0001}})"},
    {"banner8", R"({"batch_norm": "range8-fixed", "quantize_points": "banner",
                    "quant": {"W": {"family": "affine", "bits": 8, "zero_point": "symmetric"},
                              "A": {"family": "affine", "bits": 8, "range": "running", "zero_point": "integer"},
                              "G": "float",
                              "E": {"family": "affine", "bits": 8, "rounding": "stochastic", "zero_point": "integer"},
                              "E_grad": {"family": "affine", "bits": 16, "zero_point": "symmetric"}},
                    "loss": "softmax_ce", "batch": 128, "lr": [[0, 0.1], [1, 0.01], [2, 0.001]],
                    "optimizer": {"kind": "sgd", "momentum": 0.9, "weight_decay": 0.0001}})"},
    // WAGE's baselines (ALGORITHMS.md §6; core/doc/methods.md gives each recipe's source and the
    // models it is meant for). "@first"/"@last" in layer_quant are the first and last conv/fc.
    {"bc", R"({"quant": {"W": "sign", "A": "float", "G": "float", "E": "float"}, "loss": "squared_hinge",
               "batch": 100, "lr": [[0, 0.003], [10, 0.00224], [20, 0.00167], [30, 0.00125], [40, 0.00093]],
               "optimizer": {"kind": "adam", "latent_clip": 1, "lr_scale": "glorot"}})"},
    {"bnn", R"({"quant": {"W": "sign", "A": "sign", "G": "float", "E": "float"},
                "layer_quant": {"input.quant": {"A": "float"}}, "loss": "squared_hinge",
                "batch": 100, "lr": [[0, 0.003], [10, 0.00274], [20, 0.0025], [30, 0.00229], [40, 0.00209]],
                "optimizer": {"kind": "adam", "latent_clip": 1, "lr_scale": "glorot"}})"},
    {"twn", R"({"quant": {"W": "ternary", "A": "float", "G": "float", "E": "float"}, "loss": "softmax_ce",
                "batch": 128, "lr": 0.01, "optimizer": {"kind": "sgd", "momentum": 0.9, "weight_decay": 0.0001}})"},
    {"ttq", R"({"quant": {"W": "ttq", "A": "float", "G": "float", "E": "float"},
                "layer_quant": {"@first": {"W": "float"}, "@last": {"W": "float"}}, "loss": "softmax_ce",
                "batch": 128, "lr": 0.001, "optimizer": {"kind": "adam"}})"},
    {"dorefa", R"({"quant": {"W": "dorefa8", "A": "dorefa8", "G": "float",
                             "E": {"family": "dorefa", "bits": 8, "rounding": "stochastic", "granularity": "sample"}},
                   "layer_quant": {"input.quant": {"A": "float"}, "@first": {"W": "float"}, "@last": {"W": "float"}},
                   "loss": "softmax_ce", "batch": 128, "lr": 0.001, "optimizer": {"kind": "adam", "eps": 0.00001}})"},
    {"terngrad", R"({"quant": {"W": "float", "A": "float", "G": {"family": "terngrad", "clip": 2.5}, "E": "float"},
                     "layer_quant": {"@last": {"G": "float"}}, "loss": "softmax_ce", "batch": 64, "lr": 0.01,
                     "optimizer": {"kind": "sgd", "momentum": 0.9, "weight_decay": 0.0005}})"},
};

} // namespace

std::vector<std::string> experiment_method_names() {
    std::vector<std::string> names;
    for (const Preset& p : kPresets) names.emplace_back(p.name);
    return names;
}

nlohmann::json experiment_method_json(const std::string& name) {
    for (const Preset& p : kPresets)
        if (name == p.name) return nlohmann::json::parse(p.json);
    std::string known;
    for (const Preset& p : kPresets) known += (known.empty() ? "" : ", ") + std::string(p.name);
    throw InputError("experiment.method: unknown method \"" + name + "\"; known methods are " + known);
}

// WAGE's comparison table (ALGORITHMS.md §6): test error in percent per method and data set
// (MNIST, CIFAR-10; "-" cells are absent).
namespace {

struct PaperFigure {
    const char* method;
    const char* dataset;
    double testErrorPct;
};

constexpr PaperFigure kPaperFigures[] = {
    {"bc", "mnist", 1.29},  {"bnn", "mnist", 0.96},   {"twn", "mnist", 0.65},     {"wage", "mnist", 0.40},
    {"bc", "cifar10", 9.90}, {"bnn", "cifar10", 10.15}, {"twn", "cifar10", 7.44}, {"ttq", "cifar10", 6.44},
    {"terngrad", "cifar10", 14.36}, {"wage", "cifar10", 6.78},
};

} // namespace

std::optional<double> method_paper_test_error(const std::string& method, const std::string& dataset) {
    for (const PaperFigure& f : kPaperFigures)
        if (method == f.method && dataset == f.dataset) return f.testErrorPct;
    return std::nullopt;
}

} // namespace bitbench
