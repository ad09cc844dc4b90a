// Resolution of per-user data locations following the XDG base directory convention.
#include "bitbench/paths.h"

#include <cstdlib>

namespace bitbench {

namespace {
std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : std::string();
}
} // namespace

std::string paths_data_dir() {
    if (auto d = env("BITBENCH_DATA_DIR"); !d.empty()) return d;
    if (auto x = env("XDG_DATA_HOME"); !x.empty()) return x + "/bitbench";
    if (auto h = env("HOME"); !h.empty()) return h + "/.local/share/bitbench";
    return ".bitbench";
}

std::string paths_mnist_dir(const std::string& dataDir) {
    return (dataDir.empty() ? paths_data_dir() : dataDir) + "/datasets/mnist";
}

std::string paths_default_db(const std::string& dataDir) {
    return (dataDir.empty() ? paths_data_dir() : dataDir) + "/runs.db";
}

} // namespace bitbench
