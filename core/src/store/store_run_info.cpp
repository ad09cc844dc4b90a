// From an experiment to the record of its run and back.
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/store.h"

namespace bitbench {

RunInfo run_info_of(const Experiment& e) {
    RunInfo info;
    info.name = e.name;
    info.experimentJson = e.source.dump();
    info.resolvedConfigJson = e.stored().dump();
    info.configHash = e.configHash();
    info.seed = e.seed;
    info.bitsPattern = e.bits.base.dashed();
    info.model = e.model.name;
    info.dataset = e.datasetKind;
    info.executor = engine_kind_name(engine_select(e));
    return info;
}

Experiment run_experiment_of(const RunRecord& r) {
    try {
        return experiment_from_json(nlohmann::json::parse(r.info.resolvedConfigJson));
    } catch (const std::exception& err) {
        throw StoreError("run " + std::to_string(r.id) + " has an unusable stored experiment: " + err.what());
    }
}

EngineKind run_engine_of(const RunRecord& r, const Experiment& e) {
    if (r.info.executor.empty()) return engine_select(e, EngineRule::Legacy);
    EngineKind kind = EngineKind::Auto;
    if (!engine_kind_parse(r.info.executor, kind))
        throw StoreError("run " + std::to_string(r.id) + " was trained on engine '" + r.info.executor +
                         "', which this program does not know (integer, float, graph, reference)");
    return kind;
}

} // namespace bitbench
