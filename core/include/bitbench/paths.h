// Where bitbench keeps its per-user data: datasets and the default run database.
#pragma once

#include <string>
#include <vector>

namespace bitbench {

// The data directory: BITBENCH_DATA_DIR if set, else $XDG_DATA_HOME/bitbench, else
// ~/.local/share/bitbench. The directory is not created.
std::string paths_data_dir();

// The MNIST folder under a data directory (default: paths_data_dir()).
std::string paths_mnist_dir(const std::string& dataDir = {});

// The default folder of a dataset kind under a data directory: <data dir>/datasets/<kind> for
// "mnist", "fashion-mnist" and "cifar10"; "idx" (any MNIST-style folder) defaults to MNIST's.
std::string paths_dataset_dir(const std::string& kind, const std::string& dataDir = {});

// Folders of the shipped experiments that exist, in the order they are searched: installed
// beside the program (<bin>/../share/bitbench/experiments), then the source tree it was built from.
std::vector<std::string> paths_experiment_dirs();

// An experiment or sweep file named on the command line: `arg` itself when it exists or names a
// folder (holds a '/'); otherwise the first shipped experiments folder holding `arg` or
// `arg`.json. Returns `arg` unchanged when nothing matches, so the reader names it.
std::string paths_find_experiment(const std::string& arg);

// The default run database: <data dir>/runs.db.
std::string paths_default_db(const std::string& dataDir = {});

} // namespace bitbench
