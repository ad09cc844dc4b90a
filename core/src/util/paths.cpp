// Resolution of per-user data locations following the XDG base directory convention.
#include "bitbench/paths.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#ifndef BITBENCH_SOURCE_EXPERIMENTS_DIR
#define BITBENCH_SOURCE_EXPERIMENTS_DIR ""
#endif

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

std::string paths_dataset_dir(const std::string& kind, const std::string& dataDir) {
    if (kind == "idx") return paths_mnist_dir(dataDir);
    return (dataDir.empty() ? paths_data_dir() : dataDir) + "/datasets/" + kind;
}

std::vector<std::string> paths_experiment_dirs() {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> candidates;
    // Linux names the running executable here; elsewhere only the source tree is searched.
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) candidates.push_back(exe.parent_path() / ".." / "share" / "bitbench" / "experiments");
    if (*BITBENCH_SOURCE_EXPERIMENTS_DIR) candidates.emplace_back(BITBENCH_SOURCE_EXPERIMENTS_DIR);
    std::vector<std::string> dirs;
    for (const fs::path& c : candidates) {
        const fs::path d = fs::canonical(c, ec);
        if (ec || !fs::is_directory(d, ec)) continue;
        if (dirs.empty() || dirs.back() != d.string()) dirs.push_back(d.string());
    }
    return dirs;
}

std::string paths_find_experiment(const std::string& arg) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (arg.empty() || arg.find('/') != std::string::npos || fs::exists(arg, ec)) return arg;
    for (const std::string& d : paths_experiment_dirs())
        for (const std::string& name : {arg, arg + ".json"})
            if (fs::is_regular_file(fs::path(d) / name, ec)) return (fs::path(d) / name).string();
    return arg;
}

std::string paths_default_db(const std::string& dataDir) {
    return (dataDir.empty() ? paths_data_dir() : dataDir) + "/runs.db";
}

} // namespace bitbench
