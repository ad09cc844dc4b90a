// Chooses the engine for an experiment (engine_select's rules), builds it, checks its memory.
#include "bitbench/engine.h"

#include "bitbench/error.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace bitbench {

namespace {

// MemAvailable from /proc/meminfo in bytes; negative when the system does not say.
double memoryAvailable() {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream ss(line.substr(13));
        double kb = -1;
        ss >> kb;
        return kb >= 0 ? kb * 1024 : -1;
    }
    return -1;
}

std::string bytesText(double b) {
    const char* units[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (b >= 1024 && u < 6) b /= 1024, ++u;
    char text[64];
    std::snprintf(text, sizeof text, u ? "%.1f %s" : "%.0f %s", b, units[u]);
    return text;
}

} // namespace

double engine_memory_estimate(const Experiment& e) {
    // Bytes per element of each buffer kind, from the engines' layer buffers (engine_int.cpp,
    // engine_float.cpp): weights with their codes, gradient and update; products; outputs and
    // errors. In doubles, because a model that is far too large overflows 64-bit products.
    if (e.needsGraphExecutor()) {
        // Graph executor: per op its output and gradient in float; per parameter its value,
        // gradient, up to two solver moments and a checkpoint copy; forward weights; scratch.
        const double B = e.batch;
        double bytes = B * e.graph.input.size() * 4, largest = 0;
        for (const auto& op : e.graph.ops) {
            const double out = B * double(op.outShape.size());
            bytes += out * (2 * 4 + (op.kind == OpKind::MaxPool ? 1 : 0));
            bytes += double(op.weightCount()) * 6 * 4;
            largest = std::max(largest, B * double(op.inShape.size()) * 4);
        }
        return bytes + largest;
    }
    const bool integer = engine_integer_supported(e);
    const double perWeight = integer ? 4 + 1 + 1 + 4 + 2 : 5 * 4;
    const double perColumn = integer ? 1 : 2 * 4;     // im2col rows x fan-in (conv)
    const double perProduct = integer ? 4 + 1 : 2 * 4; // rows x outputs
    const double perOutput = integer ? 4 + 1 + 1 + 4 : 3 * 4 + 1;
    const double B = e.batch;
    const auto& m = e.model;
    double bytes = B * m.inH * m.inW * m.inC * (integer ? 1 : 4);
    for (const auto& l : m.layers) {
        const double rows = B * l.convH * l.convW, outRows = B * l.outH * l.outW;
        bytes += double(l.fanIn()) * l.out * (perWeight + 4); // + a checkpoint's copy of the weights
        if (l.type == LayerType::Conv) bytes += rows * double(l.fanIn()) * perColumn;
        bytes += rows * l.out * perProduct + outRows * l.out * perOutput;
    }
    return bytes;
}

void engine_memory_check(const Experiment& e) {
    const double need = engine_memory_estimate(e), have = memoryAvailable();
    if (have >= 0 && need > have)
        throw InputError("experiment '" + e.name + "': model '" + e.model.name + "' at batch " + std::to_string(e.batch) +
                         " needs about " + bytesText(need) +
                         " of memory (weights with their codes and gradients, activations and errors of one batch), "
                         "but this machine has " +
                         bytesText(have) + " available (MemAvailable in /proc/meminfo); use a smaller model or batch");
}

std::unique_ptr<Engine> engine_create_integer(const Experiment& e);
std::unique_ptr<Engine> engine_create_float(const Experiment& e);
std::unique_ptr<Engine> engine_create_graph(const Experiment& e, bool reference, bool legacy = false);

EngineKind engine_select(const Experiment& e, EngineRule rule) {
    // Runs stored before integer products ran on the graph executor with float products only.
    if (e.needsGraphExecutor()) return rule == EngineRule::Legacy ? EngineKind::GraphFloat : EngineKind::Graph;
    if (rule == EngineRule::Legacy) {
        // Before the run database recorded engines the integer engine took E of at most 8 bits;
        // wider errors trained on the float engine, and their runs replay there.
        bool narrowErrors = e.bits.base.e() <= 8;
        for (const auto& [layer, b] : e.bits.overrides) narrowErrors = narrowErrors && b.e() <= 8;
        return narrowErrors && engine_integer_supported(e) ? EngineKind::Integer : EngineKind::Float;
    }
    return engine_integer_supported(e) ? EngineKind::Integer : EngineKind::Graph;
}

namespace {
constexpr std::pair<EngineKind, const char*> kEngineNames[] = {
    {EngineKind::Integer, "integer"},
    {EngineKind::Float, "float"},
    {EngineKind::Graph, "graph"},
    {EngineKind::Reference, "reference"},
    {EngineKind::GraphFloat, "graph-float"},
};
} // namespace

const char* engine_kind_name(EngineKind kind) {
    for (const auto& [k, name] : kEngineNames)
        if (k == kind) return name;
    return "auto";
}

bool engine_kind_parse(const std::string& name, EngineKind& kind) {
    for (const auto& [k, n] : kEngineNames)
        if (name == n) {
            kind = k;
            return true;
        }
    return false;
}

std::unique_ptr<Engine> engine_create(const Experiment& e, EngineKind kind) {
    engine_memory_check(e); // refuse before allocating rather than fail half way or be killed
    if (kind == EngineKind::Auto) kind = engine_select(e);
    if (kind == EngineKind::Reference) return engine_create_graph(e, true);
    if (kind == EngineKind::GraphFloat) return engine_create_graph(e, false, true);
    if (kind == EngineKind::Graph) return engine_create_graph(e, false);
    if (e.needsGraphExecutor())
        throw InputError("experiment '" + e.name + "' needs the graph executor (an op-form model, quantizer families "
                         "or a solver other than wage)");
    std::string why;
    if (kind == EngineKind::Integer && !engine_integer_supported(e, &why))
        throw InputError("the integer engine cannot run this experiment: " + why);
    if (kind == EngineKind::Integer) return engine_create_integer(e);
    return engine_create_float(e);
}

} // namespace bitbench
