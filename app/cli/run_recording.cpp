// Shared loop of train, resume and sweep: step, checkpoint at epoch ends, finish with a status.
#include "run_recording.h"

#include "bitbench/error.h"

#include <unistd.h>

namespace bitbench::cli {

nlohmann::json recording_experiment_json(const Experiment& e) {
    nlohmann::json j = e.resolved();
    j["name"] = e.name;
    j["stats_interval"] = e.statsInterval;
    j["histogram_bins"] = e.histogramBins;
    return j;
}

Experiment recording_experiment_of(const RunRecord& r) {
    try {
        return experiment_from_json(nlohmann::json::parse(r.info.resolvedConfigJson));
    } catch (const std::exception& err) {
        throw StoreError("run " + std::to_string(r.id) + " has an unusable stored experiment: " + err.what());
    }
}

RunInfo recording_run_info(const Experiment& e) {
    RunInfo info;
    info.name = e.name;
    info.experimentJson = e.source.dump();
    info.resolvedConfigJson = recording_experiment_json(e).dump();
    info.configHash = e.configHash();
    info.seed = e.seed;
    info.bitsPattern = e.bits.base.dashed();
    info.model = e.model.name;
    info.dataset = e.datasetKind;
    return info;
}

bool recording_run(Trainer& t, RunWriter* writer, const std::function<nlohmann::json()>& summary) {
    size_t epochsSeen = t.history().size();
    try {
        while (t.step()) {
            if (writer && t.history().size() != epochsSeen) {
                epochsSeen = t.history().size();
                writer->checkpointPut(t.globalStep(), t.epoch(), t.checkpointSave());
            }
        }
        if (writer && t.history().size() != epochsSeen)
            writer->checkpointPut(t.globalStep(), t.epoch(), t.checkpointSave());
    } catch (...) {
        if (writer) {
            try {
                writer->finish(RunStatus::Failed, "{}");
            } catch (...) {
            }
        }
        throw;
    }
    const bool complete = t.globalStep() >= t.totalSteps() && !t.stopRequested();
    if (writer) {
        if (!complete) writer->checkpointPut(t.globalStep(), t.epoch(), t.checkpointSave());
        writer->finish(complete ? RunStatus::Finished : RunStatus::Interrupted, summary().dump());
    }
    return complete;
}

} // namespace bitbench::cli
