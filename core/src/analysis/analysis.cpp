// Pareto fronts, config diffs and sweep grid expansion: pure functions over plain data and JSON.
#include "bitbench/analysis.h"

#include "bitbench/error.h"
#include "bitbench/observer.h"
#include "bitbench/quant_spec.h"
#include "experiment/json_read.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

namespace bitbench {

std::vector<size_t> analysis_pareto_front(const std::vector<double>& cost,
                                          const std::vector<double>& error) {
    if (cost.size() != error.size())
        throw InputError("pareto front: cost and error lists differ in length");
    std::vector<size_t> order;
    for (size_t i = 0; i < cost.size(); ++i)
        if (std::isfinite(cost[i]) && std::isfinite(error[i])) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return cost[a] != cost[b] ? cost[a] < cost[b] : error[a] < error[b];
    });
    std::vector<size_t> front;
    for (size_t i : order) {
        if (front.empty() || error[i] < error[front.back()]) {
            front.push_back(i);
        } else if (error[i] == error[front.back()] && cost[i] == cost[front.back()]) {
            front.push_back(i); // an exact duplicate is dominated by nobody
        }
    }
    return front;
}

namespace {

void flatten(const nlohmann::json& j, const std::string& path,
             std::map<std::string, std::string>& out) {
    if (j.is_object() && !j.empty()) {
        for (const auto& [k, v] : j.items())
            flatten(v, path.empty() ? k : path + "." + k, out);
    } else if (j.is_array() && !j.empty()) {
        for (size_t i = 0; i < j.size(); ++i)
            flatten(j[i], path + "[" + std::to_string(i) + "]", out);
    } else {
        out[path.empty() ? std::string("(value)") : path] = j.dump();
    }
}

} // namespace

std::vector<ConfigDiffRow> analysis_config_diff(const std::vector<nlohmann::json>& configs) {
    std::vector<std::map<std::string, std::string>> flat(configs.size());
    std::map<std::string, int> keys;
    for (size_t i = 0; i < configs.size(); ++i) {
        flatten(configs[i], {}, flat[i]);
        for (const auto& kv : flat[i])
            ++keys[kv.first];
    }
    std::vector<ConfigDiffRow> rows;
    for (const auto& [key, count] : keys) {
        ConfigDiffRow row{key, {}};
        bool same = size_t(count) == configs.size();
        for (size_t i = 0; i < configs.size(); ++i) {
            const auto it = flat[i].find(key);
            row.values.push_back(it == flat[i].end() ? std::string() : it->second);
            if (same && row.values[i] != row.values[0]) same = false;
        }
        if (!same) rows.push_back(std::move(row));
    }
    return rows;
}

namespace {

std::vector<int32_t> classValues(const nlohmann::json& v, const std::string& where) {
    std::vector<int32_t> out;
    if (!v.is_array() || v.empty())
        throw InputError(where + ": expected a non-empty list of bits (1..16 or \"f\")");
    for (size_t i = 0; i < v.size(); ++i) {
        const auto& b = v[i];
        if (b.is_number_integer()) // checked before narrowing: 4294967298 is not 2
            out.push_back(int32_t(json_integer(b, where + "[" + std::to_string(i) + "]", 1, kMaxBits)));
        else if (b.is_string() && b.get<std::string>() == "f")
            out.push_back(0);
        else
            throw InputError(where + ": " + b.dump() + " is not 1..16 or \"f\"");
    }
    return out;
}

int classIndex(const std::string& k, const std::string& where) {
    for (int c = 0; c < 4; ++c)
        if (k == kTensorClassNames[c]) return c;
    throw InputError(where + ": unknown class \"" + k + "\", expected W, A, G or E");
}

std::string bitsText(int32_t b) {
    return b == 0 ? std::string("f") : std::to_string(b);
}

// "trials": [{"label": L, "set": {experiment keys}}, ...]: each trial is the base with its own
// keys (e.g. a "method" and a "dataset"), bits and quantizers as the keys say.
std::vector<SweepTrialPlan> sweep_expand_trials(const nlohmann::json& list, const nlohmann::json& base,
                                                const std::string& baseDir) {
    if (!list.is_array() || list.empty())
        throw InputError("sweep.trials: expected a non-empty list of {\"label\": ..., \"set\": {...}}");
    std::vector<SweepTrialPlan> trials;
    for (size_t i = 0; i < list.size(); ++i) {
        const nlohmann::json& t = list[i];
        const std::string at = "sweep.trials[" + std::to_string(i) + "]";
        if (!t.is_object()) throw InputError(at + ": expected an object with \"label\" and \"set\"");
        for (const auto& [k, v] : t.items())
            if (k != "label" && k != "set") throw InputError(at + ": unknown key \"" + k + "\" (expected label, set)");
        if (!t.contains("label") || !t["label"].is_string() || t["label"].get<std::string>().empty())
            throw InputError(at + ".label: expected a non-empty string");
        if (!t.contains("set") || !t["set"].is_object()) throw InputError(at + ".set: expected an object of experiment keys");
        const std::string label = t["label"].get<std::string>();
        for (const SweepTrialPlan& o : trials)
            if (o.label == label) throw InputError(at + ".label: \"" + label + "\" is used twice");
        nlohmann::json j = base;
        for (const auto& [k, v] : t["set"].items()) j[k] = v;
        j["name"] = base.value("name", std::string("experiment")) + "@" + label;
        SweepTrialPlan plan{label, {}, {}};
        try {
            plan.experiment = experiment_from_json(j, baseDir);
        } catch (const InputError& e) {
            throw InputError(at + " (" + label + "): " + e.what());
        }
        plan.configHash = plan.experiment.configHash();
        for (const SweepTrialPlan& o : trials)
            if (o.configHash == plan.configHash)
                throw InputError(at + " (" + label + "): trains the same experiment as \"" + o.label + "\"");
        trials.push_back(std::move(plan));
    }
    return trials;
}

} // namespace

std::vector<SweepTrialPlan> sweep_expand(const nlohmann::json& sweep, const std::string& dir,
                                         std::string* name) {
    if (!sweep.is_object()) throw InputError("sweep: expected a JSON object");
    for (const auto& [k, v] : sweep.items())
        if (k != "name" && k != "base" && k != "grid" && k != "patterns" && k != "layers" &&
            k != "set" && k != "trials")
            throw InputError("sweep: unknown key \"" + k +
                             "\" (expected name, base, grid, patterns, layers, trials, set)");
    if (!sweep.contains("base") || !(sweep["base"].is_string() || sweep["base"].is_object()))
        throw InputError(
            "sweep.base: expected the path of the base experiment file or an experiment object");
    if (sweep.contains("name") && !sweep["name"].is_string())
        throw InputError("sweep.name: expected a string, got " + sweep["name"].dump());
    if (name) *name = sweep.value("name", std::string("sweep"));
    nlohmann::json base;
    std::string baseDir = dir.empty() ? std::string(".") : dir;
    if (sweep["base"].is_object()) {
        base = sweep["base"];
    } else {
        const std::string basePath = sweep["base"].get<std::string>();
        if (basePath.empty()) throw InputError("sweep.base: the path is empty");
        const std::string full = basePath.front() == '/' ? basePath : baseDir + "/" + basePath;
        base = json_file_read(full, "the sweep's base experiment");
        const auto slash = full.find_last_of('/');
        baseDir = slash == std::string::npos ? "." : full.substr(0, slash);
    }
    if (sweep.contains("set")) {
        if (!sweep["set"].is_object())
            throw InputError("sweep.set: expected an object of experiment keys");
        for (const auto& [k, v] : sweep["set"].items())
            base[k] = v;
    }
    const int modes = int(sweep.contains("patterns")) + int(sweep.contains("grid")) +
                      int(sweep.contains("layers")) + int(sweep.contains("trials"));
    if (modes != 1)
        throw InputError(
            "sweep: give exactly one of \"patterns\" (a list), \"grid\" (per-class lists), "
            "\"layers\" (per-layer variations) or \"trials\" (labelled experiment keys)");
    if (sweep.contains("trials")) return sweep_expand_trials(sweep["trials"], base, baseDir);
    // The base's name and bits are read here before experiment_from_json sees them.
    const auto keyOrigin = [&](const char* key) {
        return (sweep.contains("set") && sweep["set"].contains(key) ? "sweep.set." : "sweep.base.") + std::string(key);
    };
    for (const char* key : {"name", "bits"})
        if (base.contains(key) && !base[key].is_string())
            throw InputError(keyOrigin(key) + ": expected a string, got " + base[key].dump());
    ClassBits baseBits;
    try {
        baseBits = quant_spec_parse(base.value("bits", std::string("2-8-8-8")));
    } catch (const InputError& e) {
        throw InputError(keyOrigin("bits") + ": " + e.what());
    }

    // Each variant: bits pattern, per-layer overrides (JSON object), label.
    struct Variant {
        std::string pattern;
        nlohmann::json layerBits;
        std::string label;
        nlohmann::json set = nullptr; // experiment keys of this variant only (patterns mode)
    };
    std::vector<Variant> variants;
    if (sweep.contains("patterns")) {
        if (!sweep["patterns"].is_array() || sweep["patterns"].empty())
            throw InputError("sweep.patterns: expected a non-empty list");
        for (const auto& p : sweep["patterns"]) {
            // A pattern string, or {"bits": PATTERN, "set": {experiment keys}} for a pattern
            // that needs its own settings (e.g. a float G class its own lr_float).
            nlohmann::json set = nullptr;
            const nlohmann::json* bits = &p;
            if (p.is_object()) {
                for (const auto& [k, v] : p.items())
                    if (k != "bits" && k != "set")
                        throw InputError("sweep.patterns: unknown key \"" + k + "\" in " + p.dump() +
                                         " (expected bits, set)");
                if (!p.contains("bits")) throw InputError("sweep.patterns: " + p.dump() + " has no \"bits\"");
                bits = &p["bits"];
                if (p.contains("set")) {
                    if (!p["set"].is_object())
                        throw InputError("sweep.patterns: \"set\" in " + p.dump() +
                                         " is not an object of experiment keys");
                    set = p["set"];
                }
            }
            if (!bits->is_string())
                throw InputError("sweep.patterns: " + p.dump() + " is not a pattern string");
            const std::string d = quant_spec_parse(bits->get<std::string>()).dashed();
            variants.push_back({d, nullptr, d, set});
        }
    } else if (sweep.contains("grid")) {
        const auto& g = sweep["grid"];
        if (!g.is_object())
            throw InputError("sweep.grid: expected an object like {\"E\": [2, 3, 4]}");
        std::vector<std::vector<int32_t>> values(4);
        for (int c = 0; c < 4; ++c)
            values[size_t(c)] = {baseBits.bits[size_t(c)]};
        for (const auto& [k, v] : g.items())
            values[size_t(classIndex(k, "sweep.grid"))] = classValues(v, "sweep.grid." + k);
        for (int32_t w : values[0])
            for (int32_t a : values[1])
                for (int32_t gg : values[2])
                    for (int32_t e : values[3]) {
                        const std::string d = ClassBits{{w, a, gg, e}}.dashed();
                        variants.push_back({d, nullptr, d});
                    }
    } else {
        const auto& l = sweep["layers"];
        if (!l.is_object() || l.empty())
            throw InputError("sweep.layers: expected an object like {\"conv1\": {\"W\": [2, 4]}}");
        // One axis per (layer, class); the combinations are their Cartesian product.
        struct Axis {
            std::string layer;
            std::string cls;
            std::vector<int32_t> values;
        };
        std::vector<Axis> axes;
        for (const auto& [layer, classes] : l.items()) {
            if (!classes.is_object() || classes.empty())
                throw InputError("sweep.layers." + layer +
                                 ": expected an object like {\"W\": [2, 4]}");
            for (const auto& [k, v] : classes.items()) {
                classIndex(k, "sweep.layers." + layer);
                axes.push_back({layer, k, classValues(v, "sweep.layers." + layer + "." + k)});
            }
        }
        std::vector<size_t> at(axes.size(), 0);
        const std::string d = baseBits.dashed();
        for (;;) {
            Variant v{
                d, base.contains("layer_bits") ? base["layer_bits"] : nlohmann::json::object(), d};
            if (!v.layerBits.is_object())
                throw InputError("sweep.base.layer_bits: expected an object");
            for (size_t i = 0; i < axes.size(); ++i) {
                auto& entry = v.layerBits[axes[i].layer];
                if (!entry.is_null() && !entry.is_string() && !entry.is_object())
                    throw InputError("sweep.base.layer_bits." + axes[i].layer +
                                     ": expected a pattern string or an object of classes, got " + entry.dump());
                if (entry.is_string()) { // keep the base's dashed override, change one class
                    const ClassBits b = quant_spec_parse(entry.get<std::string>());
                    entry = nlohmann::json::object();
                    for (int c = 0; c < 4; ++c)
                        entry[kTensorClassNames[c]] = b.bits[size_t(c)]
                                                          ? nlohmann::json(b.bits[size_t(c)])
                                                          : nlohmann::json("f");
                }
                const int32_t b = axes[i].values[at[i]];
                entry[axes[i].cls] = b ? nlohmann::json(b) : nlohmann::json("f");
                v.label += " " + axes[i].layer + ":" + axes[i].cls + bitsText(b);
            }
            variants.push_back(std::move(v));
            size_t i = 0;
            while (i < axes.size() && ++at[i] == axes[i].values.size())
                at[i++] = 0;
            if (i == axes.size()) break;
        }
    }

    std::vector<SweepTrialPlan> trials;
    for (const auto& v : variants) {
        nlohmann::json j = base;
        if (v.set.is_object())
            for (const auto& [k, value] : v.set.items())
                j[k] = value;
        j["bits"] = v.pattern;
        if (!v.layerBits.is_null()) j["layer_bits"] = v.layerBits;
        j["name"] = base.value("name", std::string("experiment")) + "@" + v.label;
        SweepTrialPlan t{v.label, experiment_from_json(j, baseDir), {}};
        t.configHash = t.experiment.configHash();
        if (std::none_of(trials.begin(), trials.end(),
                         [&](const SweepTrialPlan& o) { return o.configHash == t.configHash; }))
            trials.push_back(std::move(t));
    }
    return trials;
}

} // namespace bitbench
