// Real runs for the runs-view tests: a small MLP trained on synthetic data into a run database.
#pragma once

#include "bitbench/experiment.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"
#include "training_worker.h"

#include <nlohmann/json.hpp>

#include <string>

namespace bitbench::test {

inline nlohmann::json tinyExperimentJson(const std::string& bits, int epochs = 2,
                                         uint64_t seed = 1) {
    return {{"name", "tiny-mlp"}, {"model", "mlp"},    {"dataset", "synthetic"}, {"bits", bits},
            {"batch", 32},        {"epochs", epochs},  {"lr", {{0, 8}}},         {"seed", seed},
            {"train_limit", 256}, {"test_limit", 128}, {"stats_interval", 0}};
}

// Trains the experiment to the end into dbPath; returns the run id.
inline int64_t trainTinyRun(const std::string& dbPath, const nlohmann::json& experiment) {
    const Experiment e = experiment_from_json(experiment);
    int64_t id = 0;
    {
        RunStore store = RunStore::open(dbPath);
        id = store.runCreate(run_info_of(e));
    }
    const Dataset data = dataset_for_experiment(e, {});
    Trainer t(e, data, 1);
    RunWriter writer(dbPath, id);
    t.addObserver(&writer);
    while (t.step()) {
    }
    writer.finish(RunStatus::Finished, "{}");
    return id;
}

} // namespace bitbench::test
