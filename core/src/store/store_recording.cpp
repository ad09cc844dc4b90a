// The recording loop of the CLI and the GUI sweep queue: step, checkpoint at epoch ends, finish with a status.
#include "bitbench/run_recording.h"

namespace bitbench {

bool run_recording(Trainer& t, RunWriter* writer, const std::function<nlohmann::json()>& summary) {
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
    if (t.diverged()) {
        // No checkpoint of non-finite weights: the last epoch's one stays the latest.
        if (writer)
            writer->finish(RunStatus::Diverged, summary().dump(), t.divergence().step,
                           t.divergence().message);
        return false;
    }
    const bool complete = t.globalStep() >= t.totalSteps() && !t.stopRequested();
    if (writer) {
        if (!complete) writer->checkpointPut(t.globalStep(), t.epoch(), t.checkpointSave());
        writer->finish(complete ? RunStatus::Finished : RunStatus::Interrupted, summary().dump());
    }
    return complete;
}

} // namespace bitbench
