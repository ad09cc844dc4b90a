// Analysis of stored runs shared by the GUI and the CLI: Pareto fronts, config diffs, sweep grids.
#pragma once

#include "bitbench/experiment.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace bitbench {

// Indices of the points no other point dominates when both coordinates are minimised (lower
// cost, lower error), sorted by cost ascending (then error). A point dominates another when it
// is no worse in both and better in one; exact duplicates of a front point are all on the front.
// Points with a non-finite coordinate are ignored.
// requires: cost.size() == error.size().
std::vector<size_t> analysis_pareto_front(const std::vector<double>& cost,
                                          const std::vector<double>& error);

// One key of a config diff: its dotted path ("model.layers[2].out", "lr[1][1]") and the value
// in each config, as compact JSON text; empty when the key is absent from that config.
struct ConfigDiffRow {
    std::string key;
    std::vector<std::string> values;
};

// The leaves (scalars, empty arrays and objects) whose values are not the same in every config,
// in key order. Leaves equal everywhere are left out, so two identical configs give no rows.
std::vector<ConfigDiffRow> analysis_config_diff(const std::vector<nlohmann::json>& configs);

// One trial of a sweep: its label, the experiment it trains and that experiment's config hash.
struct SweepTrialPlan {
    std::string label; // the bits pattern, plus the per-layer variation when there is one
    Experiment experiment;
    std::string configHash;
};

// Expands a sweep definition into trials, in a fixed order, without duplicate config hashes.
// A sweep is an object with:
//   "name":     optional, default "sweep";
//   "base":     the base experiment, a file path (relative to `dir`) or an inline experiment
//   object; "set":      optional object of experiment keys replacing the base's (e.g. {"epochs":
//   5}); and exactly one of "patterns": a list of W-A-G-E patterns (each a string, or
//   {"bits": PATTERN, "set": {keys}} whose keys apply to that trial only), "grid": per-class lists of
//   bits over the base pattern, {"E": [2, 4, 8], "G": [8, "f"]}, "layers":   per-layer variations
//   over the base, {"conv1": {"W": [2, 4]}, "fc2": {"A": [4, 8]}}:
//               every combination of the listed values, each as a per-layer override;
//   "trials": [{"label": L, "set": {experiment keys}}, ...], each trial the base with its keys
//               (a "method", a "model", a "dataset"), labels and config hashes distinct.
// `*name` receives the sweep's name.
// throws: InputError naming the key that is wrong and what was expected.
std::vector<SweepTrialPlan> sweep_expand(const nlohmann::json& sweep, const std::string& dir,
                                         std::string* name = nullptr);

} // namespace bitbench
