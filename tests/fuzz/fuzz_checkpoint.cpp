// Fuzz target: trainer checkpoint blobs (what a run database keeps for resume), for the integer
// and the float engine; an accepted checkpoint must leave a trainer that can go on training.
#include "bitbench/dataset.h"
#include "bitbench/experiment.h"
#include "bitbench/trainer.h"
#include "fuzz_common.h"

using namespace bitbench;

namespace {

Experiment tinyExperiment(const char* bits) {
    return experiment_from_json(nlohmann::json::parse(std::string(R"({"name": "tiny",
      "model": {"name": "tiny", "input": {"height": 4, "width": 4, "channels": 1},
                "layers": [{"name": "conv1", "type": "conv", "out": 2, "kernel": 3,
                            "padding": "same", "relu": true},
                           {"name": "fc1", "type": "fc", "out": 10}]},
      "dataset": "synthetic", "batch": 4, "epochs": 2, "lr": [[0, 8], [1, 1]],
      "seed": 3, "stats_interval": 0, "bits": ")") + bits + "\"}"));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Dataset d = dataset_generate_synthetic(4, 4, 1, 10, 16, 8, 3);
    static const Experiment experiments[] = {tinyExperiment("2-8-8-8"), tinyExperiment("f-f-f-f")};
    const std::vector<uint8_t> blob(data, data + size);
    for (const Experiment& e : experiments) {
        Trainer t(e, d, 1);
        bool loaded = false;
        fuzz::accept_rejections([&] {
            t.checkpointLoad(blob);
            loaded = true;
        });
        if (!loaded) continue;
        fuzz::require(t.globalStep() >= 0 && t.globalStep() <= t.totalSteps(), "step in schedule");
        // Nothing accepted is silently changed: saving again gives the same bytes.
        fuzz::require(t.checkpointSave() == blob, "an accepted checkpoint saves back unchanged");
        // The next save is what a resume would store again: it must load back.
        const auto again = t.checkpointSave();
        Trainer u(e, d, 1);
        u.checkpointLoad(again);
        fuzz::require(u.checkpointSave() == again, "a saved checkpoint round-trips");
        while (t.step()) {
        }
        fuzz::require(t.finished(), "training from a checkpoint finishes");
    }
    return 0;
}
