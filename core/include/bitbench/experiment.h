// Experiments: a model, a dataset, bitwidths, a schedule and a seed, read from strict JSON.
#pragma once

#include "bitbench/graph.h"
#include "bitbench/loss.h"
#include "bitbench/model.h"
#include "bitbench/optim.h"
#include "bitbench/quant.h"
#include "bitbench/quant_spec.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bitbench {

// Seeds are 0..2^63-1 everywhere (command line, experiment JSON, GUI, run database): the store
// keeps them as SQLite's signed 64-bit integer and JSON readers as int64, so all round-trip.
constexpr uint64_t kSeedMax = uint64_t(INT64_MAX);
// Longest schedule an experiment may ask for (epochs and lr schedule epochs).
constexpr int32_t kEpochsMax = 100000;

// Parses a seed typed by a user (decimal digits only). `what` names the source in messages
// ("--seed", "experiment.seed"). throws: InputError naming the range 0..9223372036854775807.
uint64_t seed_parse(const std::string& text, const std::string& what);

struct Experiment {
    std::string name;
    nlohmann::json source;       // the experiment JSON as given
    ModelDesc model;             // a layer list; for an op-form model only its name and input
    Graph graph;                 // the model as ops (a layer list expanded); always filled
    bool graphModel = false;     // the model was given as ops ("ops"), not as a layer list
    std::string datasetKind = "mnist";
    std::string datasetDir;      // empty: the default data directory for the kind
    QuantSpec bits;              // the WAGE shorthand ("bits", "layer_bits")
    // Quantizers given as families ("quant", "layer_quant"); unset: derived from `bits`.
    std::optional<QuantConfig> quantGiven;
    OptimizerConfig optimizer;   // "optimizer"; the WAGE solver unless given
    std::string method;          // the preset named by "method" ("" = none); already expanded
    int32_t batch = 128;
    int32_t epochs = 1;
    std::vector<LrStep> lr{{0, 8}};
    double lrFloat = 0.01;       // plain SGD step for a float G class (lr schedule scales it: lr/lr0)
    LossKind loss = LossKind::Sse;
    uint64_t seed = 1;
    bool augment = false;        // CIFAR-style pad 4, random crop, horizontal flip
    int32_t statsInterval = 50;  // steps between tensor statistics (0 = never)
    int32_t histogramBins = 64;
    int64_t trainLimit = 0;      // use only the first N training images (0 = all), for quick runs
    int64_t testLimit = 0;

    // Learning rate of an epoch (the schedule's last step at or before it).
    double lrAt(int32_t epoch) const;
    // The quantizers of every class and op: quantGiven, else the `bits` shorthand as wage families.
    QuantConfig quantConfig() const;
    // True when only the graph executor can run it: an op-form model, quantizer families, or a
    // solver other than WAGE's. Experiments written for the integer and float engines stay there.
    bool needsGraphExecutor() const;
    // Everything that determines the result, canonical (sorted keys), without the name.
    nlohmann::json resolved() const;
    // XXH3-64 of resolved().dump(), as 16 hex digits.
    std::string configHash() const;
    // What a run database keeps: resolved() plus the name and the statistics settings; readable
    // by experiment_from_json, so replay and resume need neither the file nor its model file.
    nlohmann::json stored() const;
};

// Parses and validates an experiment object. `baseDir` resolves relative paths (model files).
// throws: InputError naming the key ("experiment.batch: expected an integer in 1..65536").
Experiment experiment_from_json(const nlohmann::json& j, const std::string& baseDir = {});

// Reads a JSON file; `what` names it in messages ("experiment file", "sweep file").
// throws: InputError naming the file when it is unreadable or not JSON.
nlohmann::json json_file_read(const std::string& path, const std::string& what);

// Reads an experiment file. throws InputError (unreadable, not JSON, invalid; names the file).
Experiment experiment_load(const std::string& path);

// Method presets: the keys a method's recipe sets, used as defaults under the experiment's own
// keys when it says "method": NAME. Known: "wage" (WAGE 2-8-8-8, SSE, its lr schedule) and
// "float-sgd" (float32 everywhere, softmax cross-entropy, SGD momentum 0.9, weight decay 1e-4),
// and WAGE's baselines "bc", "bnn", "twn", "ttq", "dorefa", "terngrad" (core/doc/methods.md).
// throws: InputError for an unknown name, listing the known ones.
nlohmann::json experiment_method_json(const std::string& name);
std::vector<std::string> experiment_method_names();
// The test error (percent) WAGE's comparison table gives for a method on a data set kind
// ("mnist", "cifar10"), or nothing where the table has no figure.
std::optional<double> method_paper_test_error(const std::string& method, const std::string& dataset);

// Checks that integer training can represent the learning rates (multiples of 2^-16 below 2^15).
void experiment_validate(const Experiment& e);

} // namespace bitbench
