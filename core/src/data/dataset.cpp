// Choosing a dataset loader by kind name, as experiment files and the CLI spell it.
#include "bitbench/dataset.h"

#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/paths.h"

namespace bitbench {

Dataset dataset_load(const std::string& kind, const std::string& dir) {
    if (kind == "mnist" || kind == "idx")
        return dataset_load_idx(dir.empty() ? paths_mnist_dir() : dir);
    if (kind == "cifar10")
        return dataset_load_cifar10(dir.empty() ? paths_data_dir() + "/datasets/cifar10" : dir);
    throw InputError("unknown dataset kind '" + kind +
                     "': expected one of mnist, idx (an MNIST-style IDX folder), cifar10");
}

Dataset dataset_for_experiment(const Experiment& e, const std::string& dataDir) {
    if (e.datasetKind == "synthetic") {
        // The graph's classes: an op-form model's layer list is empty.
        const auto& m = e.model;
        return dataset_generate_synthetic(m.inH, m.inW, m.inC, e.graph.classes(), e.trainLimit ? e.trainLimit : 2048,
                                          e.testLimit ? e.testLimit : 512, e.seed);
    }
    return dataset_load(e.datasetKind, !dataDir.empty() ? dataDir : e.datasetDir);
}

} // namespace bitbench
