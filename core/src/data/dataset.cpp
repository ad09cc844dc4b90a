// Choosing a dataset loader by kind name, as experiment files and the CLI spell it.
#include "bitbench/dataset.h"

#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/paths.h"

namespace bitbench {

Dataset dataset_load(const std::string& kind, const std::string& dir) {
    if (kind == "mnist" || kind == "fashion-mnist" || kind == "idx")
        return dataset_load_idx(dir.empty() ? paths_dataset_dir(kind) : dir);
    if (kind == "cifar10") return dataset_load_cifar10(dir.empty() ? paths_dataset_dir(kind) : dir);
    throw InputError("unknown dataset kind '" + kind +
                     "': expected one of mnist, fashion-mnist, idx (an MNIST-style IDX folder), cifar10");
}

Dataset dataset_for_experiment(const Experiment& e, const std::string& dataDir) {
    if (e.datasetKind == "synthetic") {
        // The graph holds the input shape and classes of layer lists and op-form models alike.
        const Graph& g = e.graph;
        return dataset_generate_synthetic(g.input.h, g.input.w, g.input.c, g.classes(), e.trainLimit ? e.trainLimit : 2048,
                                          e.testLimit ? e.testLimit : 512, e.seed);
    }
    return dataset_load(e.datasetKind, !dataDir.empty() ? dataDir : e.datasetDir);
}

} // namespace bitbench
