// Where bitbench keeps its per-user data: datasets and the default run database.
#pragma once

#include <string>

namespace bitbench {

// The data directory: BITBENCH_DATA_DIR if set, else $XDG_DATA_HOME/bitbench, else
// ~/.local/share/bitbench. The directory is not created.
std::string paths_data_dir();

// The MNIST folder under a data directory (default: paths_data_dir()).
std::string paths_mnist_dir(const std::string& dataDir = {});

// The default run database: <data dir>/runs.db.
std::string paths_default_db(const std::string& dataDir = {});

} // namespace bitbench
