// Experiment files: strict parsing, validation, canonical form and configuration hash.
#include "bitbench/experiment.h"

#include "bitbench/error.h"
#include "bitbench/observer.h"
#include "experiment/json_read.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bitbench {

double Experiment::lrAt(int32_t epoch) const {
    double v = lr.front().lr;
    for (const auto& s : lr)
        if (s.epoch <= epoch) v = s.lr;
    return v;
}

QuantConfig Experiment::quantConfig() const { return quantGiven ? *quantGiven : quant_config_from_bits(bits); }

bool Experiment::needsGraphExecutor() const {
    return graphModel || quantGiven.has_value() || optimizer.kind != SolverKind::Wage;
}

// Keys appear only when used, so an experiment written before op graphs, quantizer families
// and solvers existed keeps its configuration hash.
nlohmann::json Experiment::resolved() const {
    nlohmann::json sched = nlohmann::json::array();
    for (const auto& s : lr) sched.push_back({s.epoch, s.lr});
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& [layer, b] : bits.overrides) overrides[layer] = b.dashed();
    nlohmann::json j = {{"model", graphModel ? graph_to_json(graph) : model_to_json(model)},
                        {"dataset", {{"kind", datasetKind}}},
                        {"batch", batch},
                        {"epochs", epochs},
                        {"lr", sched},
                        {"lr_float", lrFloat},
                        {"loss", loss_kind_name(loss)},
                        {"seed", seed},
                        {"augment", augment},
                        {"train_limit", trainLimit},
                        {"test_limit", testLimit}};
    if (quantGiven) {
        const nlohmann::json q = quant_config_to_json(*quantGiven); // kept alive through the loop
        for (const auto& [k, v] : q.items()) j[k] = v;
    } else {
        j["bits"] = bits.base.dashed();
        j["layer_bits"] = overrides;
    }
    if (optimizer.kind != SolverKind::Wage) j["optimizer"] = optimizer_to_json(optimizer);
    return j;
}

nlohmann::json Experiment::stored() const {
    nlohmann::json j = resolved();
    j["name"] = name;
    j["stats_interval"] = statsInterval;
    j["histogram_bins"] = histogramBins;
    return j;
}

std::string Experiment::configHash() const {
    const std::string s = resolved().dump();
    return hash_hex(XXH3_64bits(s.data(), s.size()));
}

namespace {

// Follows the key path while a document is parsed, so a failure can say where it happened
// (nlohmann's own number-overflow error carries neither the key nor the position).
class JsonPathTracker : public nlohmann::json_sax<nlohmann::json> {
public:
    bool null() override { return value(); }
    bool boolean(bool) override { return value(); }
    bool number_integer(number_integer_t) override { return value(); }
    bool number_unsigned(number_unsigned_t) override { return value(); }
    bool number_float(number_float_t, const string_t&) override { return value(); }
    bool string(string_t&) override { return value(); }
    bool binary(binary_t&) override { return value(); }
    bool start_object(std::size_t) override { return m_levels.push_back({false, {}, 0}), true; }
    bool key(string_t& k) override { return m_levels.back().key = k, true; }
    bool end_object() override { return m_levels.pop_back(), value(); }
    bool start_array(std::size_t) override { return m_levels.push_back({true, {}, 0}), true; }
    bool end_array() override { return m_levels.pop_back(), value(); }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
        m_position = position;
        m_where = path();
        return false;
    }

    std::size_t position() const { return m_position; }
    const std::string& where() const { return m_where; }

private:
    struct Level {
        bool array;
        std::string key;
        std::size_t index;
    };
    bool value() {
        if (!m_levels.empty() && m_levels.back().array) ++m_levels.back().index;
        return true;
    }
    std::string path() const {
        std::string p;
        for (const Level& l : m_levels) {
            if (l.array) p += "[" + std::to_string(l.index) + "]";
            else if (!l.key.empty()) p += (p.empty() ? "" : ".") + l.key;
        }
        return p;
    }

    std::vector<Level> m_levels;
    std::size_t m_position = 0;
    std::string m_where;
};

// "layer_quant" may name the first and the last conv/fc as "@first" and "@last" (the methods'
// first/last-layer conventions, whatever the model calls them); an entry under the op's own name
// wins over the alias for the classes both give.
nlohmann::json layer_quant_resolve(const nlohmann::json& given, const Graph& g) {
    if (!given.is_object()) return given; // quant_config_parse names the error
    std::string first, last;
    for (const OpDesc& op : g.ops)
        if (op.hasWeights()) {
            if (first.empty()) first = op.name;
            last = op.name;
        }
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : given.items())
        if (k != "@first" && k != "@last") out[k] = v;
    for (const char* alias : {"@first", "@last"}) {
        if (!given.contains(alias)) continue;
        const nlohmann::json& v = given[alias];
        const std::string where = std::string("experiment.layer_quant.") + alias;
        if (first.empty()) throw InputError(where + ": model '" + g.name + "' has no conv or fc");
        if (!v.is_object()) throw InputError(where + ": expected an object of classes, e.g. {\"W\": \"float\"}");
        const std::string& op = std::string(alias) == "@first" ? first : last;
        if (!out.contains(op) || !out[op].is_object()) { // a malformed own entry: quant_config_parse names it
            if (!out.contains(op)) out[op] = v;
            continue;
        }
        for (const auto& [cls, q] : v.items())
            if (!out[op].contains(cls)) out[op][cls] = q;
    }
    return out;
}

} // namespace

uint64_t seed_parse(const std::string& text, const std::string& what) {
    const std::string range = "0.." + std::to_string(kSeedMax);
    if (text.empty()) throw InputError(what + ": the seed is empty; expected a whole number in " + range);
    if (text.size() > 19 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw InputError(what + ": '" + text + "' is not a whole number in " + range);
    const uint64_t v = std::stoull(text); // at most 19 digits: fits in 64 bits
    if (v > kSeedMax) throw InputError(what + ": " + text + " is out of range " + range);
    return v;
}

nlohmann::json json_file_read(const std::string& path, const std::string& what) {
    // stat before open: opening a FIFO for reading would wait for a writer forever.
    std::error_code ec;
    const auto st = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(st))
        throw InputError(error_message_file(path, "cannot read " + what + ": no such file"));
    if (!std::filesystem::is_regular_file(st))
        throw InputError(error_message_file(path, "cannot read " + what + ": not a regular file (" +
                                                      (std::filesystem::is_directory(st) ? "a directory"
                                                       : std::filesystem::is_fifo(st)    ? "a FIFO"
                                                                                         : "a special file") +
                                                      ")"));
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(error_message_file(path, "cannot read " + what));
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        // Parse again with a tracker to name the key and the line of the failure.
        JsonPathTracker tracker;
        nlohmann::json::sax_parse(text, &tracker);
        const std::size_t at = std::min(tracker.position(), text.size());
        const auto line = 1 + std::count(text.begin(), text.begin() + std::ptrdiff_t(at), '\n');
        std::string detail = e.id == 406 ? "a number is too large to represent" : "not valid JSON";
        if (!tracker.where().empty()) detail += " at key " + tracker.where();
        detail += " (line " + std::to_string(line) + "): " + e.what();
        throw InputError(error_message_file(path, detail));
    }
}

Experiment experiment_from_json(const nlohmann::json& given, const std::string& baseDir) {
    // A "method" preset supplies defaults for the keys the experiment does not set.
    nlohmann::json j = given;
    std::string method;
    if (given.is_object() && given.contains("method")) {
        if (!given["method"].is_string()) throw InputError("experiment.method: expected a method name such as \"wage\"");
        method = given["method"].get<std::string>();
        nlohmann::json merged = experiment_method_json(method);
        const bool userBits = given.contains("bits") || given.contains("layer_bits");
        const bool userQuant = given.contains("quant") || given.contains("layer_quant");
        if (userQuant) merged.erase("bits"), merged.erase("layer_bits");
        if (userBits) merged.erase("quant"), merged.erase("layer_quant");
        for (const auto& [k, v] : given.items())
            if (k != "method") merged[k] = v;
        j = merged;
    }
    JsonReader r(j, "experiment");
    Experiment e;
    e.source = given;
    e.method = method;
    e.name = r.stringOr("name", "experiment");
    {
        const auto& m = r.raw("model");
        nlohmann::json mj;
        if (m.is_string()) {
            const std::string name = m.get<std::string>();
            if (name.find('/') != std::string::npos || name.ends_with(".json")) {
                const std::string path = (name.front() == '/' || baseDir.empty()) ? name : baseDir + "/" + name;
                mj = json_file_read(path, "model file");
            } else {
                mj = model_builtin_json(name);
            }
        } else if (m.is_object()) {
            mj = m;
        } else {
            r.fail("model", "expected a built-in model name, a model file path or a model object");
        }
        if (mj.is_object() && mj.contains("ops")) {
            e.graph = graph_from_json(mj);
            e.graphModel = true;
            e.model.name = e.graph.name;
            e.model.inH = e.graph.input.h;
            e.model.inW = e.graph.input.w;
            e.model.inC = e.graph.input.c;
            e.model.transform = e.graph.transform;
        } else {
            e.model = model_from_json(mj);
            e.graph = graph_from_model(e.model);
        }
    }
    // Graph rewrites (method presets set them): the stored experiment keeps the rewritten graph
    // in op form and not the keys, so it replays as it ran.
    if (const std::string bn = r.stringOr("batch_norm", "model"); bn == "range" || bn == "range8" || bn == "range8-fixed") {
        e.graph = graph_range_bn(e.graph, bn == "range" ? 0 : 8, bn == "range8-fixed");
        e.graphModel = true;
    } else if (bn != "model") {
        r.fail("batch_norm", "expected \"model\" (as the model says), \"range\" (Banner et al.'s range batch norm "
                             "for every batchnorm op), \"range8\" (the same with 8-bit scale, gamma and beta) or "
                             "\"range8-fixed\" (range8 normalizing in fixed point), "
                             "got \"" + bn + "\"");
    }
    if (const std::string qp = r.stringOr("quantize_points", "model"); qp == "banner") {
        try {
            e.graph = graph_banner_points(e.graph);
        } catch (const InputError& err) {
            throw InputError(std::string("experiment.quantize_points: ") + err.what());
        }
        e.graphModel = true;
    } else if (qp != "model") {
        r.fail("quantize_points", "expected \"model\" (the model's quantize ops) or \"banner\" (Banner et al.'s: "
                                  "inputs forward, output gradients backward), got \"" + qp + "\"");
    }
    if (r.has("dataset")) {
        const auto& d = r.raw("dataset");
        if (d.is_string()) {
            e.datasetKind = d.get<std::string>();
        } else {
            JsonReader dr(d, "experiment.dataset");
            e.datasetKind = dr.string("kind");
            e.datasetDir = dr.stringOr("dir", "");
            dr.finish();
        }
        if (e.datasetKind != "mnist" && e.datasetKind != "fashion-mnist" && e.datasetKind != "idx" &&
            e.datasetKind != "cifar10" && e.datasetKind != "synthetic")
            r.fail("dataset", "unknown kind \"" + e.datasetKind +
                                  "\", expected mnist, fashion-mnist, idx, cifar10 or synthetic");
    }
    auto weightOp = [&](const std::string& name) {
        const int32_t i = e.graph.find(name);
        return i >= 0 && e.graph.ops[size_t(i)].hasWeights();
    };
    if (r.has("quant") || r.has("layer_quant")) {
        if (r.has("bits") || r.has("layer_bits"))
            throw InputError("experiment: give either \"bits\"/\"layer_bits\" (the WAGE shorthand) or "
                             "\"quant\"/\"layer_quant\" (quantizer families), not both");
        if (!r.has("quant")) r.fail("layer_quant", "needs \"quant\" beside it");
        nlohmann::json layerQuantOps;
        if (r.has("layer_quant")) layerQuantOps = layer_quant_resolve(r.raw("layer_quant"), e.graph);
        const nlohmann::json* layerQuant = r.has("layer_quant") ? &layerQuantOps : nullptr;
        QuantConfig q = quant_config_parse(r.raw("quant"), layerQuant, "experiment");
        for (const auto& [op, set] : q.ops)
            if (e.graph.find(op) < 0)
                throw InputError("experiment.layer_quant: model '" + e.graph.name + "' has no op \"" + op + "\"");
        // What users see as the run's bits: each class's bit count, 0 for float.
        for (int32_t c = 0; c < 4; ++c) {
            const Quantizer k = q.forOp("", QuantClass(c));
            e.bits.base.bits[size_t(c)] = k.family == QuantFamily::Float ? 0 : k.bits;
        }
        e.quantGiven = std::move(q);
    } else {
        const std::string bits = r.stringOr("bits", "2-8-8-8"); // names the key itself when not a string
        try {
            e.bits.base = quant_spec_parse(bits);
        } catch (const InputError& err) {
            throw InputError(std::string("experiment.bits: ") + err.what());
        }
        if (r.has("layer_bits")) {
            try {
                quant_spec_read_overrides(e.bits, r.raw("layer_bits"));
            } catch (const InputError& err) {
                throw InputError(std::string("experiment.") + err.what());
            }
        }
        for (const auto& [layer, b] : e.bits.overrides)
            if (!weightOp(layer))
                throw InputError("experiment.layer_bits: model '" + e.model.name + "' has no layer \"" + layer + "\"");
    }
    if (r.has("optimizer")) e.optimizer = optimizer_parse(r.raw("optimizer"), "experiment.optimizer");
    e.batch = int32_t(r.integerOr("batch", 1, 65536, 128));
    e.epochs = int32_t(r.integerOr("epochs", 1, kEpochsMax, 1));
    if (r.has("lr")) {
        const auto& v = r.raw("lr");
        e.lr.clear();
        if (v.is_number()) {
            e.lr.push_back({0, json_number(v, "experiment.lr")});
        } else if (v.is_array()) {
            for (size_t i = 0; i < v.size(); ++i) {
                const auto& step = v[i];
                if (!step.is_array() || step.size() != 2 || !step[0].is_number() || !step[1].is_number())
                    r.fail("lr", "expected a number or a list of [epoch, rate] pairs, e.g. [[0, 8], [200, 1]]");
                const std::string at = "experiment.lr[" + std::to_string(i) + "]";
                e.lr.push_back({int32_t(json_integer(step[0], at + "[0] (epoch)", 0, kEpochsMax)),
                                json_number(step[1], at + "[1] (rate)")});
            }
            if (e.lr.empty() || e.lr.front().epoch != 0) r.fail("lr", "the schedule must start at epoch 0");
            for (size_t i = 1; i < e.lr.size(); ++i)
                if (e.lr[i].epoch <= e.lr[i - 1].epoch) r.fail("lr", "schedule epochs must increase");
        } else {
            r.fail("lr", "expected a number or a list of [epoch, rate] pairs");
        }
        for (const auto& s : e.lr)
            if (!(s.lr > 0) || !std::isfinite(s.lr)) r.fail("lr", "rates must be positive and finite");
    }
    e.lrFloat = r.numberOr("lr_float", 0.01);
    if (!(e.lrFloat > 0)) r.fail("lr_float", "must be positive");
    e.loss = loss_kind_parse(r.stringOr("loss", "sse"), "experiment.loss");
    e.seed = uint64_t(r.integerOr("seed", 0, int64_t(kSeedMax), 1));
    e.augment = r.booleanOr("augment", false);
    e.statsInterval = int32_t(r.integerOr("stats_interval", 0, 1000000, 50));
    e.histogramBins = int32_t(r.integerOr("histogram_bins", 4, 4096, 64));
    e.trainLimit = r.integerOr("train_limit", 0, INT64_MAX, 0);
    e.testLimit = r.integerOr("test_limit", 0, INT64_MAX, 0);
    r.finish();
    experiment_validate(e);
    return e;
}

void experiment_validate(const Experiment& e) {
    // The 2^-16 rule belongs to the WAGE solver (integer Q_G); sgd and adam take any rate.
    if (e.optimizer.kind == SolverKind::Wage)
        for (const auto& s : e.lr) {
            const double scaled = s.lr * 65536.0;
            if (scaled != std::floor(scaled) || s.lr >= 32768.0)
                throw InputError("experiment.lr: rate " + std::to_string(s.lr) +
                                 " is not a multiple of 2^-16 below 2^15, which integer Q_G needs (e.g. 8, 1, 0.125)");
        }
    if (!e.needsGraphExecutor() && e.loss != LossKind::Sse && e.bits.allInteger())
        throw InputError(std::string("experiment.loss: ") + loss_kind_name(e.loss) +
                         " needs float errors (E = f); WAGE integer training uses \"sse\"");
    if (!e.needsGraphExecutor() && e.loss == LossKind::SquaredHinge)
        throw InputError("experiment.loss: squared_hinge runs on the graph executor: give \"quant\" or an "
                         "\"optimizer\"");
}

Experiment experiment_load(const std::string& path) {
    const nlohmann::json j = json_file_read(path, "experiment file");
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    try {
        return experiment_from_json(j, dir);
    } catch (const InputError& err) {
        throw InputError(error_message_file(path, err.what()));
    } catch (const nlohmann::json::exception& err) { // a value of an unexpected JSON type
        throw InputError(error_message_file(path, std::string("experiment: ") + err.what()));
    }
}

} // namespace bitbench
